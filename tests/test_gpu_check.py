"""scripts/gpu_check.sh: one JSON line; without CUDA a clean 'nothing run', with --cpu the two steps learn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
torch = pytest.importorskip("torch")


def run_check(*args: str) -> tuple[int, dict]:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run([str(ROOT / "scripts" / "gpu_check.sh"), *args], capture_output=True, text=True, env=env,
                          timeout=600)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr[-3000:]
    return proc.returncode, json.loads(lines[0])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA answer")
def test_without_cuda_the_script_says_so_and_exits_0():
    rc, report = run_check()
    assert rc == 0 and report["cuda"] is False and "no CUDA" in report["note"] and "checks" not in report
    assert report["torch"] == torch.__version__


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU variant of the steps")
def test_cpu_steps_train_lora_and_qlora():
    pytest.importorskip("bitsandbytes")
    rc, report = run_check("--cpu")
    assert rc == 0 and report["ok"], report
    for name in ("fp32_lora", "qlora"):
        check = report["checks"][name]
        assert check["ok"] and check["grad_norm"] > 0 and check["losses"][-1] < check["losses"][0]
