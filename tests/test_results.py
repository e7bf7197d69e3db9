"""results.py: the schemas accept what the writers write and what older versions wrote,
and name the file and key when a result file is broken (#14)."""

import pytest

from loralab import results
from loralab.errors import LoralabError

SUMMARY = {"systems": [{"name": "base", "step": 0, "adapter": None, "full": False,
                        "tasks": {"test": {"n_problems": 3, "n_samples": 1, "solved": 1, "pass@1": 1 / 3,
                                           "pass@k": {"1": 1 / 3}, "ci95": [0.0, 1.0]}}}],
           "select_on": "test", "report_on": "test", "best": None}


def test_an_eval_summary_round_trips_through_its_schema():
    s = results.parse(results.EvalSummary, SUMMARY, "eval/summary.json")
    assert s.systems[0].tasks["test"].pass1 == pytest.approx(1 / 3) and s.best is None
    assert results.check(results.EvalSummary, SUMMARY, "x") is SUMMARY  # writers write their dict unchanged


def test_a_broken_file_names_the_file_and_the_key():
    bad = {"systems": [{"name": "base", "step": "zero"}]}
    with pytest.raises(LoralabError, match=r"eval/summary.json: systems.0.step: .*another loralab version"):
        results.parse(results.EvalSummary, bad, "eval/summary.json")


def test_study_files_of_every_shape_name_their_runs():
    new = {"kind": "kspecialist", "study": {"name": "k", "out_dir": "runs/k", "compare": "all"},
           "runs": {"k1": {}, "k2": {}}, "kspecialist": {"k": [1, 2]}}
    old_k = {"study": {"name": "k", "out_dir": "runs/k", "compare": "all"}, "kspecialist": {"k": [1, 2]},
             "runs": ["k1", "k2"]}
    old_matrix = {"study": {"study": {"name": "m", "out_dir": "runs/m", "compare": "base"}, "base": {},
                            "matrix": [{"name": "r2", "set": {}}]}, "runs": {"r2": {}}}
    assert results.parse(results.StudyFile, new, "study.json").run_names() == ["k1", "k2"]
    assert results.parse(results.StudyFile, old_k, "study.json").run_names() == ["k1", "k2"]
    old = results.parse(results.StudyFile, old_matrix, "study.json")
    assert old.study.name == "m" and old.kind == "matrix" and old.run_names() == ["r2"]


def test_the_layout():
    run = results.run_dir("runs/s", "r2")
    assert str(results.eval_dir(run)) == "runs/s/runs/r2/eval"
    assert str(results.eval_mc_dir(run)) == "runs/s/runs/r2/eval_mc"
    assert str(results.study_cache("runs/s")) == "runs/s/cache/generations.jsonl"


def test_checkpoint_paths(tmp_path):
    assert results.checkpoint_dir("runs/a", 20).as_posix() == "runs/a/checkpoint-20"
    assert [results.checkpoint_step(p) for p in ("x/checkpoint-7", "checkpoint-", "checkpoint-7.tmp",
                                                 ".checkpoint-7.tmp", "checkpoint-x")] == [7, None, None, None, None]
    for name in ("checkpoint-10", "checkpoint-9", ".checkpoint-11.tmp", "checkpoint-best", "eval"):
        (tmp_path / name).mkdir()
    # by step, not by name (checkpoint-9 before checkpoint-10); anything else ignored
    assert results.checkpoint_dirs(tmp_path) == [(9, tmp_path / "checkpoint-9"), (10, tmp_path / "checkpoint-10")]
