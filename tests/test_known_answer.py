"""Known-answer test: the study pipeline finds an effect that must exist, and none where none can.

The embedded SmolLM2-135M-Instruct cannot solve the bundled acme tasks: they need helpers of a
fictional in-house library (loralab/assets/acme.py) that no public model has seen. A LoRA run
trained on the train split must therefore beat the base on the held-out test tasks (every one
a helper/shape pair absent from training), through the real study runner: prepare, train,
evaluate base and checkpoint in the sandbox, select on validation, McNemar on test.

The negative control trains the same recipe on the same rows with the responses shuffled
across tasks (a seeded permutation: every prompt paired with another task's solution), so
training happens and the weights move, but nothing links a prompt to its answer. It must not
come out significantly better than the base; if it did, the pipeline would be manufacturing
effects (leaked references, mismatched rows, a wrong paired test).

Asserts only on files the study wrote (comparisons.json, each run's eval/summary.json).
Takes about 5-7 minutes on 2 idle CPU cores (two 24-step trainings, 3 x 56 greedy answers). The test
slice is 48 tasks: on the 160-task family 16 were too few (a bf16 run solved 2 of the first 16,
30 of all 80 test tasks in the demo).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from loralab.io import read_json, read_jsonl, write_jsonl
from loralab.studies.matrix import load_study, run_study

ALPHA = 0.05
ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "loralab" / "assets" / "acme.jsonl"
DEMO = ROOT / "examples" / "quickstart.yaml"


def shuffled_responses(out: Path) -> Path:
    """The acme rows with solutions permuted across tasks (instructions, tests, ids unchanged)."""
    rows = read_jsonl(ASSET)
    solutions = [r["solution"] for r in rows]
    random.Random(0).shuffle(solutions)
    write_jsonl(out, [{**r, "solution": s} for r, s in zip(rows, solutions, strict=True)])
    return out


def write_study(tmp: Path, model: str) -> Path:
    """examples/quickstart.yaml's base recipe (its `lr2e-3` run), one checkpoint, a smaller evaluation."""
    demo = yaml.safe_load(DEMO.read_text())
    base = demo["base"]
    base["model"]["name"] = model
    base["train"].update(save_steps=24, logging_steps=4)
    base["eval"].update(batch_size=8, task_options={"val": {"split_file": "{prepared}/validation.jsonl", "limit": 8},
                                                    "test": {"split_file": "{prepared}/test.jsonl", "limit": 48}})
    spec = {"study": {"name": "known-answer", "out_dir": str(tmp / "study"), "compare": "base"}, "base": base,
            "matrix": [{"name": "learn", "set": {}},
                       {"name": "shuffled", "set": {"data.source": str(shuffled_responses(tmp / "shuffled.jsonl"))}}]}
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_the_positive_run_is_the_demo_run(tmp_path):
    """The known answer vouches for `make demo`: its positive run trains exactly like the demo's."""
    _, demo = load_study(DEMO)
    _, known = load_study(write_study(tmp_path, "smollm2-135m-instruct"))
    same = ("model", "data", "adapter")
    assert all(getattr(known["learn"], k) == getattr(demo["lr2e-3"], k) for k in same)
    assert known["learn"].train.model_dump(exclude={"save_steps", "logging_steps"}) == \
        demo["lr2e-3"].train.model_dump(exclude={"save_steps", "logging_steps"})
    assert known["learn"].eval.max_new_tokens == demo["lr2e-3"].eval.max_new_tokens


@pytest.fixture(scope="module")
def study(tmp_path_factory, embedded_dir) -> Path:
    return run_study(write_study(tmp_path_factory.mktemp("known-answer"), str(embedded_dir)))


def vs_base(study: Path, run: str) -> dict:
    rows = [c for c in read_json(study / "comparisons.json") if c["a"] == "base" and c["b"] == run]
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.slow
def test_both_runs_are_scored_on_the_same_held_out_tasks(study):
    ids = {}
    for run in ("learn", "shuffled"):
        prepared = Path(yaml.safe_load((study / "runs" / run / "config.yaml").read_text())["data"]["prepared"])
        ids[run] = [r["task_id"] for r in read_jsonl(prepared / "test.jsonl")]
        train = {r["task_id"] for r in read_jsonl(prepared / "train.jsonl")}
        assert not train & set(ids[run]), "a test task is also a training task"
    assert ids["learn"] == ids["shuffled"]


@pytest.mark.slow
def test_training_on_the_library_beats_the_base(study):
    row = vs_base(study, "learn")
    best = read_json(study / "runs" / "learn" / "eval" / "summary.json")["best"]
    assert row["b_system"] == best["name"] != "base"
    assert row["task"] == "test" and row["n"] == 48
    assert row["only_b"] > row["only_a"] and row["mcnemar_p"] < ALPHA, row


@pytest.mark.slow
def test_shuffled_responses_do_not(study):
    row = vs_base(study, "shuffled")
    assert row["b_system"] != "base"  # a trained checkpoint was evaluated: the control really ran
    assert not (row["only_b"] > row["only_a"] and row["mcnemar_p"] < ALPHA), row
