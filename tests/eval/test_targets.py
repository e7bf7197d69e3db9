"""`loralab eval` on adapters: --adapter, model.adapter, run dirs of other tools, bare adapter dirs.

The foreign layouts are written with PEFT directly (not loralab's trainer), named and laid
out as HF Trainer writes them: OUT/checkpoint-N/{adapter_config.json, adapter_model.safetensors,
trainer_state.json, README.md}, no checkpoints.json, no config.yaml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loralab.cli import app
from loralab.errors import LoralabError
from loralab.eval.targets import run_config_of, systems_for, systems_of
from loralab.io import read_json, read_jsonl

runner = CliRunner()
FAST = ["--task", "humaneval", "--limit", "2", "--set", "eval.max_new_tokens=6"]


def peft_adapter(base_dir: Path, out: Path, seed: int, init="random", step: int | None = None) -> Path:
    """A LoRA adapter on the tiny model saved by PEFT itself; 'random' init makes B non-zero,
    so the adapter visibly changes the model (as a trained one does)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj", "up_proj"],
                                      init_lora_weights=False if init == "random" else init, task_type="CAUSAL_LM"))
    model.save_pretrained(out)
    if step is not None:  # HF Trainer's state file (its other files, optimizer.pt etc., are not read)
        (out / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    return out


@pytest.fixture(scope="module")
def foreign_run(tiny_model_dir, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("hf-trainer-out")
    for seed, step in ((1, 100), (2, 200)):
        peft_adapter(tiny_model_dir, run / f"checkpoint-{step}", seed, step=step)
    (run / "checkpoint-300").mkdir()  # still being written when the tool was killed: config, no weights
    (run / "checkpoint-300" / "adapter_config.json").write_text((run / "checkpoint-200" / "adapter_config.json").read_text())
    return run


@pytest.fixture(scope="module")
def bare_adapter(tiny_model_dir, tmp_path_factory) -> Path:
    return peft_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapters") / "my-adapter", seed=3)


def completions(eval_dir: Path) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for r in read_jsonl(eval_dir / "samples.jsonl"):
        by.setdefault(r["system"], []).append(r["completion"])
    return by


def test_foreign_run_dir_is_base_plus_each_checkpoint_by_step(foreign_run, tiny_model_dir, tmp_path):
    cfg = run_config_of(foreign_run)
    assert cfg.model.name == str(tiny_model_dir)  # from the adapters' base_model_name_or_path
    assert [(s.name, s.step) for s in systems_of(foreign_run)] == [("base", 0), ("checkpoint-100", 100),
                                                                     ("checkpoint-200", 200)]
    res = runner.invoke(app, ["eval", str(foreign_run), "--out", str(tmp_path / "ev"), *FAST])
    assert res.exit_code == 0, res.output
    summary = read_json(tmp_path / "ev" / "summary.json")
    assert [(s["name"], s["step"]) for s in summary["systems"]] == [("base", 0), ("checkpoint-100", 100),
                                                                      ("checkpoint-200", 200)]
    gen = completions(tmp_path / "ev")
    assert gen["checkpoint-100"] != gen["base"] and gen["checkpoint-200"] != gen["base"]  # the adapters were on


def test_step_comes_from_the_name_without_trainer_state(tiny_model_dir, tmp_path):
    peft_adapter(tiny_model_dir, tmp_path / "axolotl" / "checkpoint-35", seed=4)
    assert [(s.name, s.step) for s in systems_of(tmp_path / "axolotl")] == [("base", 0), ("checkpoint-35", 35)]
    # HF Trainer's final save_model() at the top of the output dir is one more system
    peft_adapter(tiny_model_dir, tmp_path / "axolotl", seed=5)
    assert [(s.name, s.step) for s in systems_of(tmp_path / "axolotl")][-1] == ("final", 35)


def test_a_loralab_checkpoint_dir_uses_its_runs_config(tiny_model_dir, tmp_path):
    from loralab.config import load_config, save_config

    run = tmp_path / "run"
    ckpt = peft_adapter(tiny_model_dir, run / "checkpoint-7", seed=6)
    (ckpt / "loralab.json").write_text(json.dumps({"base_model": str(tiny_model_dir), "step": 7}))
    save_config(load_config(None, [f"model.name={tiny_model_dir}", "model.chat_template=none"]), run)
    cfg = run_config_of(ckpt)
    assert cfg.model.name == str(tiny_model_dir) and cfg.model.chat_template == "none"
    assert [(s.name, s.step) for s in systems_of(ckpt)] == [("base", 0), ("checkpoint-7", 7)]


def test_model_adapter_is_scored_not_just_recorded(bare_adapter, tiny_model_dir, tmp_path):
    """Issue #12.3: `--set model.adapter=DIR` used to score the base while config.yaml named the adapter."""
    res = runner.invoke(app, ["eval", str(tiny_model_dir), "--out", str(tmp_path / "set"), *FAST,
                              "--set", f"model.adapter={bare_adapter}"])
    assert res.exit_code == 0, res.output
    summary = read_json(tmp_path / "set" / "summary.json")
    assert [(s["name"], s["adapter"]) for s in summary["systems"]] == [("base", None), ("my-adapter", str(bare_adapter))]
    by_set = completions(tmp_path / "set")
    assert by_set["my-adapter"] != by_set["base"]

    # --adapter NAME=DIR means the same; several adapters are several systems beside the base.
    other = peft_adapter(tiny_model_dir, tmp_path / "other" / "my-adapter", seed=5)
    res = runner.invoke(app, ["eval", str(tiny_model_dir), "--out", str(tmp_path / "opt"), *FAST,
                              "--adapter", str(bare_adapter), "--adapter", f"b={other}"])
    assert res.exit_code == 0, res.output
    by_opt = completions(tmp_path / "opt")
    assert list(by_opt) == ["base", "my-adapter", "b"]
    assert by_opt["my-adapter"] == by_set["my-adapter"] and by_opt["base"] == by_set["base"]

    # Another set of systems is another evaluation, not the finished one again.
    res = runner.invoke(app, ["eval", str(tiny_model_dir), "--out", str(tmp_path / "opt"), *FAST,
                              "--adapter", str(bare_adapter)])
    assert res.exit_code == 0, res.output
    assert [s["name"] for s in read_json(tmp_path / "opt" / "summary.json")["systems"]] == ["base", "my-adapter"]


def test_bare_adapter_dir_takes_its_base_from_adapter_config(bare_adapter, tiny_model_dir):
    assert run_config_of(bare_adapter).model.name == str(tiny_model_dir)
    assert [(s.name, s.path) for s in systems_of(bare_adapter)] == [("base", None), ("my-adapter", str(bare_adapter))]


def test_unloadable_base_is_one_clear_error(tiny_model_dir, tmp_path):
    adapter = peft_adapter(tiny_model_dir, tmp_path / "hub-adapter", seed=6)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "HuggingFaceTB/no-such-model-in-the-cache"
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "loralab", "eval", str(adapter), *FAST], env=env,
                          capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "hub-adapter/adapter_config.json: base model 'HuggingFaceTB/no-such-model-in-the-cache'" in lines[0]
    assert "--set model.name" in lines[0]
    # naming the base explicitly is the way out
    cfg = run_config_of(adapter, [f"model.name={tiny_model_dir}"])
    assert cfg.model.name == str(tiny_model_dir)


def test_clashing_names_and_unconverted_pissa_are_refused(bare_adapter, tiny_model_dir, tmp_path):
    cfg = run_config_of(tiny_model_dir)
    twin = peft_adapter(tiny_model_dir, tmp_path / "elsewhere" / "my-adapter", seed=7)
    with pytest.raises(LoralabError, match="the name 'my-adapter' is already taken"):
        systems_for(tiny_model_dir, cfg, [str(bare_adapter), str(twin)])
    with pytest.raises(LoralabError, match="is not a PEFT adapter directory"):
        systems_for(tiny_model_dir, cfg, [f"x={tmp_path}"])
    legacy = peft_adapter(tiny_model_dir, tmp_path / "pissa-unconverted", seed=8, init="pissa")
    with pytest.raises(LoralabError, match="init_lora_weights 'pissa' means these weights apply to the residual base"):
        systems_for(tiny_model_dir, cfg, [str(legacy)])
