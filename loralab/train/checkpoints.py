"""Checkpoints of a run: atomic writes, the checkpoints.json index, keep-last-K, resume state.

    RUN/checkpoint-N/
        adapter_model.safetensors, adapter_config.json   LoRA methods (PEFT format, vLLM loads it)
        model.safetensors, config.json                   full fine-tuning
        tokenizer files + chat_template.jinja            the template used in training
        loralab.json                                     base model, prompt template, objective, step
        optimizer.pt, scheduler.pt, rng_state_R.pth      what resume needs (R = process rank)
        trainer_state.json                               written last: its presence marks completeness

A checkpoint is built in RUN/.checkpoint-N.tmp, fsynced, and swapped into place only when
every process has written its part (an existing checkpoint-N is moved aside first, never
deleted first), so a SIGKILL at any instant leaves either the whole checkpoint or none of
it; `resume` takes the highest complete one.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

from loralab.errors import LoralabError
from loralab.io import read_json, recover_all, swap_dir, write_json
from loralab.results import CHECKPOINT_INFO, CHECKPOINTS, checkpoint_dir, checkpoint_dirs

STATE = "trainer_state.json"
INDEX = CHECKPOINTS


def complete_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint, oldest first."""
    return [(step, path) for step, path in checkpoint_dirs(run_dir) if (path / STATE).is_file()]


def last_checkpoint(run_dir: Path) -> Path | None:
    recover_all(run_dir)  # a checkpoint a kill caught mid-swap is back before we choose where to resume
    found = complete_checkpoints(run_dir)
    return found[-1][1] if found else None


def remove_partial(run_dir: Path) -> None:
    """Temp dirs a killed run left behind (never complete, never read); a checkpoint caught
    mid-swap is restored from its aside copy."""
    for path in run_dir.glob(".checkpoint-*.tmp"):
        shutil.rmtree(path, ignore_errors=True)
    recover_all(run_dir)


# ----------------------------------------------------------------------------- RNG


def rng_state() -> dict:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------- save


def save(run_dir: Path, step: int, *, rank: int, barrier: Callable[[], None], write_weights: Callable[[Path], None],
         tokenizer, info: dict, optimizer, scheduler, state: dict) -> Path:
    """Write checkpoint-`step` atomically from every process; returns its final path.

    Rank 0 writes weights, tokenizer, optimizer and scheduler; every rank writes its own RNG
    state (dropout masks differ per rank). trainer_state.json goes last, then the rename.
    """
    import torch

    final = checkpoint_dir(run_dir, step)
    tmp = run_dir / f".{final.name}.tmp"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    torch.save(rng_state(), tmp / f"rng_state_{rank}.pth")
    write_weights(tmp)  # every rank calls it (FSDP/ZeRO gather); it writes only on rank 0
    if rank == 0:
        tokenizer.save_pretrained(tmp)
        write_json(tmp / CHECKPOINT_INFO, info)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    barrier()
    if rank == 0:
        write_json(tmp / STATE, state)
        swap_dir(tmp, final)
    barrier()
    return final


def load_state(ckpt: Path, *, rank: int, optimizer, scheduler) -> dict:
    """Restore optimizer, scheduler and this rank's RNG from `ckpt`; returns trainer_state.json."""
    import torch

    # Our own files, written by `save`: they hold numpy RNG arrays, so not weights_only.
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location="cpu", weights_only=False))
    scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=False))
    rng_file = ckpt / f"rng_state_{rank}.pth"
    if not rng_file.exists():
        raise LoralabError(f"{ckpt}: no RNG state for process {rank}; resume with as many processes as the run used")
    set_rng_state(torch.load(rng_file, weights_only=False))
    return read_json(ckpt / STATE)


# ----------------------------------------------------------------------------- index, pruning


def read_index(run_dir: Path) -> list[dict]:
    path = run_dir / INDEX
    return read_json(path) if path.exists() else []


def record(run_dir: Path, entry: dict) -> None:
    """Add (or replace) the entry of one checkpoint in checkpoints.json."""
    rows = [r for r in read_index(run_dir) if r["step"] != entry["step"]] + [entry]
    write_json(run_dir / INDEX, sorted(rows, key=lambda r: r["step"]))


def sync_index(run_dir: Path, up_to: int | None = None) -> None:
    """Keep only entries whose checkpoint exists (and, on resume, at or before step `up_to`)."""
    steps = {s for s, _ in complete_checkpoints(run_dir)}
    rows = [r for r in read_index(run_dir) if r["step"] in steps and (up_to is None or r["step"] <= up_to)]
    write_json(run_dir / INDEX, rows)


def prune(run_dir: Path, keep_last: int | None, protect: int | None) -> list[int]:
    """Delete all but the last `keep_last` checkpoints, never the best one (`protect`); returns deleted steps."""
    if keep_last is None:
        return []
    found = complete_checkpoints(run_dir)
    doomed = [(s, p) for s, p in found[:-keep_last] if s != protect]
    for _, path in doomed:
        shutil.rmtree(path)
    if doomed:
        sync_index(run_dir)
    return [s for s, _ in doomed]
