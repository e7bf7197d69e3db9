"""`loralab train, export`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from loralab.cli.common import SetOpt, app, out
from loralab.errors import LoralabError
from loralab.inputs import (
    data_source,
    in_dir_arg,
    in_file_arg,
    input_dir,
    model_name,
    out_dir_opt,
    output_dir,
)

# ----------------------------------------------------------------------------- train, export


@app.command("train")
def train_cmd(
    config: Path = in_file_arg(..., help="A run YAML (model, data, adapter, train sections)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last complete checkpoint in train.out_dir."),
    overrides: Optional[list[str]] = SetOpt,
) -> None:
    """Fine-tune a base model (LoRA, DoRA, QLoRA or full) into a run directory of checkpoints.

    Multi-GPU: accelerate launch --multi_gpu --num_processes 4 -m loralab train CONFIG.

    Example: loralab train examples/lora_codealpaca.yaml --set train.max_steps=50
    """
    from loralab.config import load_config
    from loralab.train.sft import train

    cfg = load_config(config, overrides or [])
    model_name(cfg.model.name, "model.name", cfg.model.revision)
    if cfg.data.prepared:
        input_dir(cfg.data.prepared, "data.prepared")
    else:
        data_source(cfg.data.source, "data.source")
    check_run_dir(cfg, resume)
    run_dir = train(cfg, resume=resume)
    out.print(f"run directory: {run_dir}")


def check_run_dir(cfg, resume: bool) -> None:
    """train.out_dir must be new, empty, or this same run; --resume needs a run there.

    A non-empty directory of another run (or of anything else) is refused, so a typo in
    out_dir never mixes two runs' checkpoints or overwrites someone's files.
    """
    from loralab.config import read_yaml
    from loralab.train.resume import FIXED_ON_RESUME, flatten_config

    run_dir = output_dir(cfg.train.out_dir, "train.out_dir")
    entries = {p.name for p in run_dir.iterdir()} if run_dir.exists() else set()
    if not entries - {"data"}:  # new, empty, or killed while preparing its data
        if resume:
            raise LoralabError(f"--resume: train.out_dir {run_dir} holds no run to resume; drop --resume to start one")
        return
    if "config.yaml" not in entries:
        raise LoralabError(f"train.out_dir {run_dir}: not empty and not a loralab run (no config.yaml); "
                           "choose a new or empty directory")
    saved = flatten_config(read_yaml(run_dir / "config.yaml"))
    now = flatten_config(cfg.model_dump(mode="json"))
    changed = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k) and k.startswith(FIXED_ON_RESUME))
    if changed:
        diffs = "; ".join(f"{k}: {saved.get(k)!r} there, {now.get(k)!r} here" for k in changed[:5])
        raise LoralabError(f"train.out_dir {run_dir}: holds a different run ({diffs}); "
                           "choose another train.out_dir, or restore these keys to continue that run")


@app.command("export")
def export_cmd(
    checkpoint: Path = in_dir_arg(..., help="A checkpoint directory, e.g. runs/lora/checkpoint-100."),
    out_dir: Path = out_dir_opt(..., "--out", help="Directory to write (replaced atomically)."),
    merge: bool = typer.Option(False, "--merge", help="Merge the adapter into the base: one plain transformers model."),
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = typer.Option("auto", "--dtype", help="Merged weights dtype: auto (the base's), float32, bfloat16, float16."),
) -> None:
    """Export a checkpoint: merged safetensors model (--merge) or a clean adapter, with the training tokenizer.

    Example: loralab export runs/lora-codealpaca/checkpoint-100 --merge --out runs/merged
    """
    from loralab.io import read_json
    from loralab.train.export import export

    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise LoralabError(f"--dtype {dtype}: choose auto, float32, bfloat16 or float16")
    written = export(checkpoint, out_dir, merge=merge, dtype=dtype)
    trained = read_json(written / "loralab_export.json").get("trained_on") or ""
    if merge and trained.startswith("4-bit"):
        out.print(f"note: the adapter was trained on a {trained}; it is merged into the full-precision base "
                  "(dequantized), not into 4-bit weights")
    out.print(f"wrote {written}")
