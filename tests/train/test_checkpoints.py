"""Checkpoint directories: replaced by a swap (old aside, new in), restored if a kill fell mid-swap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from loralab.train import checkpoints


class Tokenizer:
    def save_pretrained(self, path: Path) -> None:
        (Path(path) / "tokenizer.json").write_text("{}")


def save(run: Path, step: int, lr: float) -> Path:
    weights = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(weights.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return checkpoints.save(run, step, rank=0, barrier=lambda: None,
                            write_weights=lambda d: torch.save(weights.state_dict(), d / "w.pt"),
                            tokenizer=Tokenizer(), info={"lr": lr}, optimizer=opt, scheduler=sched,
                            state={"step": step, "lr": lr})


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_saving_a_step_again_swaps_in_the_new_checkpoint_and_leaves_nothing_aside(tmp_path):
    save(tmp_path, 2, lr=0.1)
    final = save(tmp_path, 2, lr=0.2)
    assert checkpoints.read_json(final / checkpoints.STATE) == {"step": 2, "lr": 0.2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2"]


def test_a_checkpoint_caught_mid_swap_is_restored_before_choosing_where_to_resume(tmp_path):
    save(tmp_path, 2, lr=0.1)
    save(tmp_path, 4, lr=0.1)
    # the state a kill between "old aside" and "new in" leaves: checkpoint-4 under its aside
    # name, the complete new copy still under its temp name
    aside = tmp_path / f".checkpoint-4.{dead_pid()}.0123abcd.old"
    (tmp_path / "checkpoint-4").rename(aside)
    (tmp_path / ".checkpoint-4.tmp").mkdir()
    assert checkpoints.last_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
    checkpoints.remove_partial(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert checkpoints.read_json(tmp_path / "checkpoint-4" / checkpoints.STATE)["step"] == 4
