"""`loralab study run` on the tiny model: the matrix, the files it writes, and SIGKILL + re-run.

A study killed mid-training or mid-evaluation and run again must end with the same results
as one that was never interrupted, without redoing finished work: no generation is made twice
(every key appears once in the study's generation cache) and a finished run is not retrained.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl
from loralab.studies.matrix import load_study, run_study


def write_study(path: Path, tiny_model_dir: Path, out: Path) -> Path:
    spec = {"study": {"name": "tiny", "out_dir": str(out), "compare": "all"},
            "base": {"model": {"name": str(tiny_model_dir)},
                     "data": {"source": "bundled:pytasks", "template": "chat", "max_rows": 40},
                     "adapter": {"alpha": 8},
                     "train": {"max_steps": 6, "batch_size": 2, "save_steps": 2, "logging_steps": 1,
                               "learning_rate": 1e-3, "max_seq_len": 256},
                     "eval": {"tasks": ["val=pytasks", "test=pytasks"],
                              "task_options": {"val": {"split_file": "{prepared}/validation.jsonl"},
                                               "test": {"split_file": "{prepared}/test.jsonl"}},
                              "select_on": "val", "report_on": "test", "max_new_tokens": 24, "batch_size": 4}},
            "matrix": [{"name": "r2", "set": {"adapter.r": 2}}, {"name": "r4", "set": {"adapter.r": 4}}]}
    path.write_text(yaml.safe_dump(spec))
    return path


def results(root: Path) -> dict:
    """What a study decided: per run, every sample's completion and verdict, and the selection."""
    out = {}
    for run in ("r2", "r4"):
        ev = root / "runs" / run / "eval"
        out[run] = {"samples": [(r["system"], r["task"], r["task_id"], r["completion"], r["passed"])
                                for r in read_jsonl(ev / "samples.jsonl")],
                    "best": read_json(ev / "summary.json")["best"]}
    out["comparisons"] = read_json(root / "comparisons.json")
    return out


def cache_keys(root: Path) -> list[str]:
    path = root / "cache" / "generations.jsonl"
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()]


def adapter_weights(root: Path, run: str, step: int) -> dict:
    return load_file(root / "runs" / run / f"checkpoint-{step}" / "adapter_model.safetensors")


def run_until(spec: Path, condition, timeout: float = 600) -> bool:
    """Start `loralab study run`, SIGKILL it once `condition()` holds; False if it finished first."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "loralab", "study", "run", str(spec), "--no-report"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while proc.poll() is None and time.time() < deadline:
            if condition():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.02)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_matrix_resolves_every_variant(tmp_path, tiny_model_dir):
    study, runs = load_study(write_study(tmp_path / "s.yaml", tiny_model_dir, tmp_path / "out"))
    assert list(runs) == ["r2", "r4"] and (runs["r2"].adapter.r, runs["r4"].adapter.r) == (2, 4)
    assert runs["r2"].train.learning_rate == runs["r4"].train.learning_rate == 1e-3
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: {name: x}\nmatrix: [{name: a, set: {adapter.rank: 2}}]\n")
    with pytest.raises(LoralabError, match=r"(?s)variant 'a'.*adapter.rank: unknown key; did you mean 'r'"):
        load_study(bad)


@pytest.mark.slow
def test_killed_study_resumes_to_the_same_results(tmp_path, tiny_model_dir):
    ref_root = run_study(write_study(tmp_path / "ref.yaml", tiny_model_dir, tmp_path / "ref"))
    want = results(ref_root)
    assert len(want["r4"]["samples"]) == 4 * (4 + 4)  # base + 3 checkpoints, 4 val + 4 test tasks
    assert {(c["a"], c["b"]) for c in want["comparisons"]} == {("base", "r2"), ("base", "r4"), ("r2", "r4")}

    root = tmp_path / "killed"
    spec = write_study(tmp_path / "killed.yaml", tiny_model_dir, root)
    # 1) mid-training: the second run has written its first checkpoint
    assert run_until(spec, lambda: (root / "runs" / "r4" / "checkpoint-2" / "adapter_model.safetensors").exists()
                     and not (root / "runs" / "r4" / "summary.json").exists()), "the study finished before the kill"
    r2_trained = (root / "runs" / "r2" / "summary.json").stat().st_mtime_ns
    # 2) mid-evaluation: r4 is trained and some of its generations are cached (beyond the
    #    base's and r2's 8 x 4), but its evaluation summary is not written yet
    assert run_until(spec, lambda: (root / "runs" / "r4" / "summary.json").exists()
                     and len(cache_keys_safe(root)) > 8 * 4
                     and not (root / "runs" / "r4" / "eval" / "summary.json").exists()), "no kill mid-evaluation"
    run_study(spec)
    assert results(root) == want
    keys = cache_keys(root)
    assert len(keys) == len(set(keys)), "a generation was made twice"
    assert (root / "runs" / "r2" / "summary.json").stat().st_mtime_ns == r2_trained  # not retrained
    for run in ("r2", "r4"):
        for step in (2, 4, 6):
            got, ref = adapter_weights(root, run, step), adapter_weights(ref_root, run, step)
            assert got.keys() == ref.keys() and max((got[k] - ref[k]).abs().max().item() for k in ref) <= 1e-6


def cache_keys_safe(root: Path) -> list[str]:
    """Cache keys while a writer may be mid-line (a torn last line is ignored)."""
    path = root / "cache" / "generations.jsonl"
    if not path.exists():
        return []
    keys = []
    for line in path.read_text(errors="replace").split("\n"):
        try:
            keys.append(json.loads(line)["key"])
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    return keys
