"""What `loralab train --resume` checks before continuing a run: the same config, the same initialisation.

A resumed run must make exactly the batches and updates the interrupted one would have
made; these checks refuse to continue when something that decides them has changed.
"""

from __future__ import annotations

from pathlib import Path

from loralab.config import RunConfig, read_yaml
from loralab.errors import LoralabError
from loralab.results import CONFIG

# Keys that decide which batches and updates a run makes: changing one breaks exact resume.
FIXED_ON_RESUME = ("model", "data", "adapter", "train.objective", "train.batch_size", "train.grad_accum",
                   "train.seed", "train.batching", "train.max_seq_len", "train.epochs", "train.max_steps",
                   "train.scheduler", "train.warmup_ratio", "train.optimizer")


def flatten_config(tree: dict, prefix: str = "") -> dict:
    """Nested config -> dotted keys; data.field_map and task_options stay whole (their keys are the user's)."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key != "field_map" and key != "task_options":
            out.update(flatten_config(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_same_config(cfg: RunConfig, run_dir: Path) -> None:
    """`cfg` agrees with the run_dir/config.yaml the run started with on every key of FIXED_ON_RESUME."""
    # A key added to the config after the run started (data.train_on) reads as its default.
    saved = {**flatten_config(RunConfig().model_dump(mode="json")), **flatten_config(read_yaml(run_dir / CONFIG))}
    now = flatten_config(cfg.model_dump(mode="json"))
    changed = sorted(k for k in saved.keys() | now.keys()
                     if saved.get(k) != now.get(k) and k.startswith(FIXED_ON_RESUME))
    if changed:
        diffs = "; ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise LoralabError(f"{run_dir / CONFIG}: --resume needs the same run, but {diffs}; "
                           "restore these keys or train into a new train.out_dir")


def check_same_init(ckpt: Path, derived: dict, saved: dict) -> None:
    """The PiSSA/OLoRA init re-derived from the base is the one the run started from.

    Otherwise W_res differs (another library version or device computed another SVD) and
    continuing would train a different model than the checkpoint's."""
    keys = {k for k in derived if ".lora_A." in k or ".lora_B." in k}
    if keys != saved.keys():
        raise LoralabError(f"{ckpt}: its adapter does not match this run's adapter config (layers or init differ)")
    worst = max(((derived[k] - saved[k].to(derived[k])).abs().max().item() for k in keys), default=0.0)
    if worst > 1e-4:
        raise LoralabError(f"{ckpt}: the PiSSA/OLoRA initialisation re-derived from the base differs from the one this "
                           f"run started from (max diff {worst:.2g}); resume where the run started, or continue its "
                           "adapter through model.adapter (init default) in a new train.out_dir")
