"""`loralab --version` and `--json` on eval, score and study run: stdout holds exactly one JSON
document, the same figures as the files the command wrote; everything else goes to stderr."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from typer.testing import CliRunner

from loralab import __version__
from loralab.cli import app
from loralab.io import read_json, read_jsonl

runner = CliRunner()


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout == f"loralab {__version__}\n"


def test_score_json_matches_the_results_file(tmp_path):
    from loralab.eval.tasks import get_task

    p0, p1 = get_task("pytasks").problems()[:2]
    rows = [{"task_id": p0.task_id, "completion": p0.meta["solution"]}, {"task_id": p0.task_id, "completion": "x = 1\n"},
            {"task_id": p1.task_id, "completion": "def nope(:\n"}]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(app, ["score", "pytasks", str(samples), "--k", "1,2", "--workers", "2", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # the whole of stdout is one JSON document
    results = read_jsonl(doc["results_path"])
    assert Path(doc["results_path"]) == tmp_path / "s.jsonl_results.jsonl"
    assert [r["passed"] for r in results] == [True, False, False]
    assert doc["n_samples"] == 3 and doc["n_problems"] == 2 and doc["checked"] == 3
    assert doc["pass@k"] == {"1": 0.25} and sum(doc["statuses"].values()) == 3  # p1 has 1 sample: no pass@2
    assert doc["statuses"]["passed"] == 1


def test_eval_json_is_the_summary_written(tmp_path, tiny_model_dir):
    out = tmp_path / "ev"
    res = runner.invoke(app, ["eval", str(tiny_model_dir), "--task", "pytasks", "--limit", "2", "--out", str(out),
                              "--set", "eval.max_new_tokens=8", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["eval_dir"] == str(out) and doc["multiple_choice"] is None
    assert doc["summary"] == read_json(out / "summary.json")
    score = doc["summary"]["systems"][0]["tasks"]["pytasks"]
    assert score["n_problems"] == 2 and "pass@1" in score and "solved" in score
    plain = runner.invoke(app, ["eval", str(tiny_model_dir), "--task", "pytasks", "--limit", "2", "--out", str(out),
                                "--set", "eval.max_new_tokens=8"])  # finished: a no-op that prints the table
    assert plain.exit_code == 0 and "pass@1 [95% CI]" in plain.stdout


def test_study_run_json_selection_and_holm(tmp_path, tiny_model_dir, monkeypatch):
    from loralab.train import tracking

    sent: list[tuple[str, int, dict]] = []

    class Recording:  # stands in for TensorBoard/MLflow (not installed here); records what they are sent
        def __init__(self, run_dir):
            self.run_dir = run_dir

        def log(self, numbers, step):
            sent.append((Path(self.run_dir).name, step, numbers))

        def close(self):
            pass

    monkeypatch.setattr(tracking, "_tracker", lambda name, run_dir, config: Recording(run_dir))
    spec = {"study": {"name": "tiny", "out_dir": str(tmp_path / "st"), "compare": "all"},
            "base": {"model": {"name": str(tiny_model_dir)},
                     "data": {"source": "bundled:pytasks", "template": "chat", "max_rows": 24},
                     "train": {"max_steps": 2, "batch_size": 2, "save_steps": 2, "logging_steps": 1,
                               "max_seq_len": 128, "eval_max_examples": 2, "report_to": ["tensorboard"]},
                     "eval": {"tasks": ["pytasks"], "limit": 2, "max_new_tokens": 8, "batch_size": 4}},
            "matrix": [{"name": "r2", "set": {"adapter.r": 2}}, {"name": "r4", "set": {"adapter.r": 4}}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    res = runner.invoke(app, ["study", "run", str(path), "--json", "--no-report"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    root = tmp_path / "st"
    assert doc["study_dir"] == str(root) and doc["report"] is None and set(doc["runs"]) == {"r2", "r4"}
    for name, run in doc["runs"].items():
        assert run["best"] == read_json(root / "runs" / name / "eval" / "summary.json")["best"]
        assert run["select_on"] == "pytasks"
    assert doc["comparisons"] == read_json(root / "comparisons.json")
    assert all("mcnemar_p" in c and "mcnemar_p_holm" in c for c in doc["comparisons"])
    # every checkpoint's pass@k went to the run's trackers at its training step, the base at 0
    for name in ("r2", "r4"):
        summary = read_json(root / "runs" / name / "eval" / "summary.json")
        evals = {step: nums for run, step, nums in sent if run == name and "eval/pytasks/pass_at_1" in nums}
        assert {s["step"]: s["tasks"]["pytasks"]["pass@1"] for s in summary["systems"]} == \
            {step: nums["eval/pytasks/pass_at_1"] for step, nums in evals.items()} and set(evals) == {0, 2}


def test_json_error_is_one_stderr_line_and_no_stdout(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "pytasks/999999", "completion": "x"}\n')
    import subprocess
    import sys

    from loralab.cli import run_cli

    res = subprocess.run([sys.executable, "-m", "loralab", "score", "pytasks", str(bad), "--json"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.splitlines() == [f"error: {bad}:1: task_id 'pytasks/999999' is not a pytasks problem"]
    assert run_cli(["--version"]) == 0
