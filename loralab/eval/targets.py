"""What `loralab eval TARGET [--adapter [NAME=]DIR]` scores: a base model and adapters on it.

TARGET is one of
  * a loralab run directory (config.yaml, checkpoints.json): the run's base and every
    checkpoint the index lists;
  * a run directory of another tool (HF Trainer, TRL, Axolotl): checkpoint-N/ folders holding
    adapter_config.json + adapter weights, no checkpoints.json. N is the step (HF Trainer names
    a checkpoint by its global step); the base is the adapters' `base_model_name_or_path`. An
    adapter saved at the top of the directory (HF Trainer's final `save_model`) is one more
    system, "final";
  * an adapter directory (adapter_config.json): the base from a loralab checkpoint's run
    config, else from `base_model_name_or_path`;
  * a model (alias, hub id, directory): the base alone.
Each `--adapter` (and `model.adapter`, which means the same as one `--adapter`) adds a system
named NAME, by default the directory's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loralab.config import RunConfig, load_config
from loralab.errors import LoralabError
from loralab.io import read_json
from loralab.results import CHECKPOINT_INFO, CHECKPOINTS, CONFIG, checkpoint_dirs, checkpoint_step

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
# Inits that rewrite the base (W -> W_res = W - s B0 A0); such an adapter saved without PEFT's
# conversion does not apply to the unmodified base that every other system shares.
_MUTATING_INITS = ("pissa", "olora", "corda", "lora_ga")


@dataclass(frozen=True)
class System:
    """One thing to score: the base, or a checkpoint (an adapter dir or a full model dir)."""

    name: str          # "base" or "checkpoint-20"
    step: int          # 0 for the base
    path: str | None   # checkpoint directory; None for the base
    full: bool = False  # a full fine-tuning checkpoint (a whole model, not an adapter)


# ----------------------------------------------------------------------------- kinds of TARGET


def is_adapter(path: Path) -> bool:
    return (path / ADAPTER_CONFIG).is_file() and any((path / w).is_file() for w in ADAPTER_WEIGHTS)


def foreign_checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, dir) of each complete checkpoint-N adapter of a run another tool wrote, by step.

    A checkpoint without its weights file is one the tool was still writing: skipped."""
    return [(step, path) for step, path in checkpoint_dirs(run) if is_adapter(path)]


def is_foreign_run(path: Path) -> bool:
    return path.is_dir() and not (path / CHECKPOINTS).exists() and bool(foreign_checkpoints(path))


def step_of(adapter_dir: Path) -> int:
    """An adapter's training step: loralab.json, trainer_state.json's global_step, checkpoint-N, else 0."""
    if (adapter_dir / CHECKPOINT_INFO).is_file():
        return int(read_json(adapter_dir / CHECKPOINT_INFO).get("step", 0))
    state = adapter_dir / "trainer_state.json"
    if state.is_file() and "global_step" in (saved := read_json(state)):
        return int(saved["global_step"])
    step = checkpoint_step(adapter_dir)
    return step if step is not None else 0


def adapter_base(adapter_dir: Path) -> str:
    """The base an adapter was trained on: what `loralab export` or `train` recorded (the alias,
    not its cache path), else PEFT's `base_model_name_or_path`."""
    for mine in ("loralab_export.json", CHECKPOINT_INFO):
        if (adapter_dir / mine).is_file() and read_json(adapter_dir / mine).get("base_model"):
            return read_json(adapter_dir / mine)["base_model"]
    path = adapter_dir / ADAPTER_CONFIG
    base = json.loads(path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise LoralabError(f"{path}: no base_model_name_or_path; name the base with --set model.name=MODEL")
    return base


def loralab_run_of(adapter_dir: Path) -> Path | None:
    """The loralab run directory a checkpoint belongs to (its config.yaml names base and template)."""
    run = adapter_dir.parent
    return run if (adapter_dir / CHECKPOINT_INFO).is_file() and (run / CONFIG).is_file() else None


# ----------------------------------------------------------------------------- config


def run_config_of(target: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """The config eval uses for TARGET: a run's own config.yaml (model and chat template it
    trained with), else the adapters' base as model.name; `overrides` (--set) win over both."""
    path = Path(target)
    if path.is_dir() and (path / "config.yaml").exists():
        return load_config(path / "config.yaml", overrides)
    if path.is_dir() and is_adapter(path) and (run := loralab_run_of(path)):
        return load_config(run / "config.yaml", overrides)
    sources = _adapter_dirs_of(path)
    if not sources:
        return load_config(None, [f"model.name={target}", *(overrides or [])])
    bases = {adapter_base(d) for d in sources}
    if len(bases) > 1:
        raise LoralabError(f"{target}: its adapters name different bases ({', '.join(sorted(bases))}); "
                           "evaluate them one at a time or name the base with --set model.name=MODEL")
    base = bases.pop()
    cfg = load_config(None, [f"model.name={base}", *(overrides or [])])
    if cfg.model.name == base:  # not replaced by --set model.name
        check_base(base, sources[0] / ADAPTER_CONFIG)
    return cfg


def _adapter_dirs_of(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    if is_foreign_run(path):
        return [p for _, p in foreign_checkpoints(path)]
    return [path] if is_adapter(path) else []


def check_base(name: str, source: Path) -> None:
    """Fail now, in one line naming `source`, when the base an adapter records cannot be loaded.

    The embedded alias and local directories load offline; a hub id must be cached (or the
    hub reachable): its config.json is fetched here, a few kB."""
    from loralab.models import resolve

    try:
        src = resolve(name)
        if not Path(src).exists():
            from transformers import AutoConfig

            AutoConfig.from_pretrained(src)
    except (LoralabError, OSError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise LoralabError(f"{source}: base model '{name}' (base_model_name_or_path) cannot be loaded ({reason}); "
                           "name a local copy with --set model.name=DIR (or the embedded alias it was trained on)"
                           ) from None


# ----------------------------------------------------------------------------- systems


def systems_of(target: str | Path, include_base: bool = True) -> list[System]:
    """The base plus every checkpoint TARGET holds (see the module docstring), in step order."""
    run = Path(target)
    systems = [System("base", 0, None)] if include_base else []
    if not run.is_dir():
        return systems
    if (run / "checkpoints.json").exists():
        return systems + _indexed(run)
    if is_foreign_run(run):
        found = [System(p.name, step, str(p)) for step, p in foreign_checkpoints(run)]
        if is_adapter(run):
            found.append(System("final", step_of(run) or found[-1].step, str(run)))
        return systems + found
    if is_adapter(run):
        return systems + [System(run.name, step_of(run), str(run))]
    return systems


def _indexed(run: Path) -> list[System]:
    """A loralab run's checkpoints from checkpoints.json (pruned ones skipped)."""
    out = []
    for ck in sorted(read_json(run / "checkpoints.json"), key=lambda c: c["step"]):
        path = Path(ck["path"])
        path = path if path.is_absolute() or path.exists() else run / path
        if not path.exists():
            continue  # pruned by keep-last-K
        full = not (path / ADAPTER_CONFIG).exists()
        out.append(System(path.name, int(ck["step"]), str(path), full))
    return out


def parse_adapter(spec: str) -> tuple[str, Path]:
    """'[NAME=]DIR' -> (NAME, DIR); NAME defaults to the directory's name."""
    name, sep, where = spec.partition("=")
    if not sep:
        name, where = "", spec
    path = Path(where.strip()).expanduser()
    return (name.strip() or path.resolve().name), path


def systems_for(target: str | Path, cfg: RunConfig, adapters: list[str] | None = None,
                include_base: bool = True) -> list[System]:
    """TARGET's systems, then model.adapter and each --adapter [NAME=]DIR; names must be unique."""
    systems = systems_of(target, include_base)
    specs = ([("model.adapter", cfg.model.adapter)] if cfg.model.adapter else []) + \
            [(f"--adapter {a}", a) for a in adapters or []]
    for origin, spec in specs:
        name, path = parse_adapter(spec)
        if not is_adapter(path):
            raise LoralabError(f"{origin}: {path} is not a PEFT adapter directory (needs adapter_config.json and "
                               "adapter_model.safetensors)")
        if any(s.name == name for s in systems) or name == "base":
            raise LoralabError(f"{origin}: the name '{name}' is already taken by another system; "
                               "give it its own with --adapter NAME=DIR")
        systems.append(System(name, step_of(path), str(path)))
    for s in systems:
        if s.path and not s.full:
            check_converted(Path(s.path))
    if not systems:
        raise LoralabError(f"{target}: nothing to evaluate (no base requested and no checkpoints)")
    return systems


def check_converted(adapter_dir: Path) -> None:
    """Refuse a PiSSA/OLoRA adapter saved for its residual base: on the shared base it is another model."""
    init = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("init_lora_weights", True)
    if isinstance(init, str) and init.lower().startswith(_MUTATING_INITS):
        raise LoralabError(
            f"{adapter_dir / ADAPTER_CONFIG}: init_lora_weights '{init}' means these weights apply to the residual "
            "base W - s B0 A0, not to the base every system here shares; convert it to a plain LoRA with "
            f"`loralab export {adapter_dir} --out NEW_DIR` (pissa, olora) or PEFT's save_pretrained(..., "
            "path_initial_model_for_weight_conversion=...), and evaluate that")
