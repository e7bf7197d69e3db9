"""Config loading: YAML + --set, every problem reported at once, nearest-key suggestions."""

from pathlib import Path

import pytest
import yaml

from loralab.config import RunConfig, describe, dump_config, load_config, parse_overrides
from loralab.errors import LoralabError

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def test_defaults_validate():
    cfg = load_config(None, [])
    assert cfg.model.name == "smollm2-135m-instruct"
    assert cfg.data.seed == 42 and cfg.data.splits == (0.8, 0.1, 0.1)
    assert (cfg.adapter.r, cfg.adapter.alpha, cfg.adapter.dropout) == (8, 16, 0.05)


def test_overrides_are_typed_like_yaml():
    cfg = load_config(None, ["train.learning_rate=1e-4", "adapter.target_modules=[q_proj, v_proj]",
                             "train.max_steps=7", "adapter.rslora=true"])
    assert cfg.train.learning_rate == 1e-4
    assert cfg.adapter.target_modules == ["q_proj", "v_proj"]
    assert cfg.train.max_steps == 7 and cfg.adapter.rslora is True


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("adapter:\n  r: 16\ntrain:\n  epochs: 2\n")
    cfg = load_config(path, ["adapter.r=32"])
    assert cfg.adapter.r == 32 and cfg.train.epochs == 2


def test_every_problem_reported_once_with_suggestions(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("adapter:\n  rank: 8\n  dropout: 2\ntrian:\n  epochs: 1\ntrain:\n  learning_rat: 1\n")
    with pytest.raises(LoralabError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and "4 problem(s)" in msg
    assert "adapter.rank: unknown key; did you mean 'r'?" in msg
    assert "trian: unknown key; did you mean 'train'?" in msg
    assert "train.learning_rat: unknown key; did you mean 'learning_rate'?" in msg
    assert "adapter.dropout" in msg


def test_splits_must_sum_to_one():
    with pytest.raises(LoralabError, match="sum to 1"):
        load_config(None, ["data.splits=[0.5, 0.1, 0.1]"])


@pytest.mark.parametrize("text,needle", [("a: [1,", "invalid YAML"), ("- 1\n- 2\n", "mapping of sections")])
def test_bad_yaml(tmp_path, text, needle):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(LoralabError, match=needle):
        load_config(path)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(LoralabError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(LoralabError, match="KEY=VALUE"):
        parse_overrides(["train.learning_rate"])


def test_dump_roundtrips():
    cfg = load_config(None, ["adapter.r=4"])
    again = RunConfig.model_validate(yaml.safe_load(dump_config(cfg)))
    assert again == cfg


def test_reference_documents_every_field():
    rows = describe()
    keys = {k for k, _, _ in rows}
    assert {"model.name", "adapter.r", "train.learning_rate", "eval.tasks"} <= keys


def _loader(command: str, data: dict):
    """The loader that the example's own header command uses for its YAML."""
    if command.startswith("loralab curate"):
        from loralab.curate.config import build_config

        return build_config
    if command.startswith("loralab synth"):
        from loralab.curate.config import build_config
        from loralab.curate.synth import SynthConfig

        return lambda path: build_config(path, model=SynthConfig)
    if "study" in data or "matrix" in data:
        from loralab.studies.matrix import load_study

        return load_study
    if "kspecialist" in data:
        from loralab.studies.kspecialist import load_kspecialist

        return load_kspecialist
    return load_config


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_loads(path):
    """Examples are run, study, curation or synth configs; each header names the command that runs it."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# loralab "), f"{path.name}: first line must be the command that runs it"
    data = yaml.safe_load(path.read_text()) or {}
    _loader(first[2:], data)(path)
