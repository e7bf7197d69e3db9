"""Eval metrics sent to the trackers of train.report_to: pass@k and solved per checkpoint step."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from loralab.io import read_json, write_json
from loralab.train import tracking

SUMMARY = {"systems": [
    {"name": "base", "step": 0, "tasks": {"he": {"n_problems": 4, "solved": 1, "pass@1": 0.25,
                                                 "pass@k": {"1": 0.25, "2": 0.4}}}},
    {"name": "checkpoint-10", "step": 10, "tasks": {"he": {"n_problems": 4, "solved": 3, "pass@1": 0.5,
                                                           "pass@k": {"1": 0.5, "2": 0.75}}}}],
    "select_on": "he", "report_on": "he", "best": {"name": "checkpoint-10", "step": 10, "pass@1": 0.5}}


def test_eval_metrics_per_step():
    assert tracking.eval_metrics(SUMMARY) == {
        0: {"eval/he/pass_at_1": 0.25, "eval/he/pass_at_2": 0.4, "eval/he/solved": 1, "eval/he/n_problems": 4},
        10: {"eval/he/pass_at_1": 0.5, "eval/he/pass_at_2": 0.75, "eval/he/solved": 3, "eval/he/n_problems": 4}}


class Recording:
    logged: list = []

    def __init__(self, run_dir, config):
        self.run_dir = run_dir

    def log(self, numbers, step):
        Recording.logged.append((step, numbers))

    def close(self):
        pass


def test_logged_once_per_summary(tmp_path, monkeypatch):
    monkeypatch.setattr(tracking, "_tracker", lambda name, run_dir, config: Recording(run_dir, config))
    Recording.logged = []
    write_json(tmp_path / "summary.json", SUMMARY)
    assert not tracking.log_eval_summary(tmp_path, tmp_path, [], {})  # report_to empty: nothing
    assert tracking.log_eval_summary(tmp_path, tmp_path, ["tensorboard"], {})
    assert [s for s, _ in Recording.logged] == [0, 10] and Recording.logged[1][1]["eval/he/solved"] == 3
    assert not tracking.log_eval_summary(tmp_path, tmp_path, ["tensorboard"], {})  # re-run: no duplicates
    assert len(Recording.logged) == 2 and read_json(tmp_path / "tracked.json")["report_to"] == ["tensorboard"]
    changed = json.loads(json.dumps(SUMMARY))
    changed["systems"][1]["tasks"]["he"]["solved"] = 4
    write_json(tmp_path / "summary.json", changed)  # a new evaluation's summary is sent again
    assert tracking.log_eval_summary(tmp_path, tmp_path, ["tensorboard"], {}) and len(Recording.logged) == 4


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard not installed (extra: tracking)")
def test_tensorboard_events_hold_pass_at_k_per_step(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    write_json(tmp_path / "eval" / "summary.json", SUMMARY)
    assert tracking.log_eval_summary(tmp_path / "eval", tmp_path, ["tensorboard"], {"model": {"name": "x"}})
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("eval/he/pass_at_1")] == [(0, 0.25), (10, 0.5)]
    assert [(e.step, e.value) for e in acc.Scalars("eval/he/solved")] == [(0, 1.0), (10, 3.0)]


def test_eval_cli_sends_each_checkpoint_when_report_to_is_set(tmp_path, tiny_model_dir, monkeypatch):
    from typer.testing import CliRunner

    from loralab.cli import app

    monkeypatch.setattr(tracking, "_tracker", lambda name, run_dir, config: Recording(run_dir, config))
    Recording.logged = []
    res = CliRunner().invoke(app, ["eval", str(tiny_model_dir), "--task", "pytasks", "--limit", "2", "--out",
                                   str(tmp_path / "ev"), "--set", "eval.max_new_tokens=4",
                                   "--set", "train.report_to=[mlflow]", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)["summary"]  # stdout still one JSON document; the notice went to stderr
    assert [s for s, _ in Recording.logged] == [s["step"] for s in summary["systems"]] == [0]
    assert Recording.logged[0][1]["eval/pytasks/pass_at_1"] == summary["systems"][0]["tasks"]["pytasks"]["pass@1"]
    assert "sent pass@k per checkpoint to mlflow" in res.stderr


def test_a_missing_tracker_warns_and_keeps_the_evaluation(tmp_path, tiny_model_dir, monkeypatch):
    from typer.testing import CliRunner

    from loralab.cli import app

    # tensorboard is installed where the test above runs: hide it (None in sys.modules makes the import fail)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    res = CliRunner().invoke(app, ["eval", str(tiny_model_dir), "--task", "pytasks", "--limit", "1", "--out",
                                   str(tmp_path / "ev"), "--set", "eval.max_new_tokens=4",
                                   "--set", "train.report_to=[tensorboard]"])
    assert res.exit_code == 0, res.output
    assert "warning: not sent to tensorboard:" in res.stderr and "loralab[tracking]" in res.stderr
    assert (tmp_path / "ev" / "summary.json").is_file() and not (tmp_path / "ev" / "tracked.json").exists()
