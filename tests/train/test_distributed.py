"""Scale-out through `accelerate launch` (DDP): two CPU processes (gloo) with batch b follow the
same loss curve as one process with batch 2b, because each optimizer step sees the same examples
and the loss is normalised by the supervised tokens of the whole step, not per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from loralab.config import save_config
from loralab.train.tracking import read_metrics


def _run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_doubled_batch(make_cfg, tmp_path):
    from safetensors.torch import load_file

    sets = {"model.device": "cpu", "adapter.dropout": 0.0, "train.max_steps": 5, "train.save_steps": 5,
            "train.eval_max_examples": 4, "train.precision": "fp32"}  # the launcher runs fp32 (--mixed_precision no)
    save_config(make_cfg(run="two", **sets, **{"train.batch_size": 2}), tmp_path, "two.yaml")
    save_config(make_cfg(run="one", **sets, **{"train.batch_size": 4}), tmp_path, "one.yaml")
    # --multi_gpu picks accelerate's torchrun launcher; on a CPU-only machine it starts
    # MULTI_CPU processes with the gloo backend (`--cpu` alone would need mpirun).
    _run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
          "-m", "loralab", "train", str(tmp_path / "two.yaml")])
    _run([sys.executable, "-m", "loralab", "train", str(tmp_path / "one.yaml")])

    rows = {name: read_metrics(tmp_path / name / "metrics.jsonl") for name in ("one", "two")}
    for key in ("loss", "val_loss"):
        one = [r[key] for r in rows["one"] if key in r]
        two = [r[key] for r in rows["two"] if key in r]
        assert len(one) == len(two) > 1 and one == pytest.approx(two, abs=1e-5), key
    assert [r["step"] for r in rows["two"] if "loss" in r] == [1, 2, 3, 4, 5]
    a = load_file(tmp_path / "one" / "checkpoint-5" / "adapter_model.safetensors")
    b = load_file(tmp_path / "two" / "checkpoint-5" / "adapter_model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoint-5").glob("rng_state_*")) == \
        ["rng_state_0.pth", "rng_state_1.pth"]
