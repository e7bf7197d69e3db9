"""A run killed with SIGKILL (mid-checkpoint-write and mid-step) and resumed ends bit-for-bit
where an uninterrupted run ends: same adapter weights (max abs diff <= 1e-6), same losses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from loralab.config import save_config
from loralab.io import read_json
from loralab.train.tracking import read_metrics

STEPS = 18


def _launch(cfg_path: Path, resume: bool) -> subprocess.Popen:
    # One thread: the same matmul blocking in every process, so runs are comparable bit for bit.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "loralab", "train", str(cfg_path)] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _adapter(run: Path):
    from safetensors.torch import load_file

    return load_file(run / f"checkpoint-{STEPS}" / "adapter_model.safetensors")


def test_sigkill_then_resume_matches_an_uninterrupted_run(make_cfg, tmp_path):
    sets = {"train.max_steps": STEPS, "train.save_steps": 3, "train.batch_size": 2, "train.eval_max_examples": 2,
            "adapter.dropout": 0.1}  # dropout on: the RNG state must be restored too
    for name in ("a", "b"):
        save_config(make_cfg(run=name, **sets), tmp_path, f"{name}.yaml")
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    _finish(_launch(tmp_path / "a.yaml", resume=False))

    # Kill 1: while checkpoint-9 is being written (its temp dir exists, the rename has not happened).
    proc = _launch(tmp_path / "b.yaml", resume=False)
    _kill_when(proc, lambda: (run_b / ".checkpoint-9.tmp").exists() or (run_b / "checkpoint-9").exists())
    # Kill 2: in the middle of training, between checkpoints.
    proc = _launch(tmp_path / "b.yaml", resume=True)
    _kill_when(proc, lambda: any(r.get("step", 0) >= 13 for r in read_metrics(run_b / "metrics.jsonl")))
    _finish(_launch(tmp_path / "b.yaml", resume=True))

    a, b = _adapter(run_a), _adapter(run_b)
    assert a.keys() == b.keys()
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff <= 1e-6, diff
    assert any(v.abs().max() > 0 for k, v in a.items() if "lora_B" in k)  # it did train
    losses = [[(r["step"], r.get("loss"), r.get("val_loss")) for r in read_metrics(run / "metrics.jsonl")]
              for run in (run_a, run_b)]
    assert losses[0] == losses[1]  # no duplicated or missing rows after two resumes
    assert [c["step"] for c in read_json(run_b / "checkpoints.json")] == list(range(3, STEPS + 1, 3))
    assert not list(run_b.glob(".checkpoint-*.tmp"))
