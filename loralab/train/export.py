"""`loralab export RUN/checkpoint-N --out DIR [--merge]`: a checkpoint other tools load directly.

  --merge   base + adapter merged (W + (alpha/r) B A) into one safetensors model that plain
            `AutoModelForCausalLM.from_pretrained(DIR)` loads, with the training tokenizer
            and chat template; vLLM/llama.cpp conversion take it as any other model.
  default   the adapter alone (PEFT format) + tokenizer, without the resume state. A PiSSA/OLoRA
            adapter saved unconverted (older loralab, or plain PEFT `save_pretrained`) is
            converted on the way to a plain LoRA for the unmodified base (see docs/adapters.md).
A full fine-tuning checkpoint is already a whole model: it is copied without its resume state.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from loralab.errors import LoralabError
from loralab.io import atomic_dir, read_json, write_json
from loralab.results import CHECKPOINT_INFO, CONFIG

RESUME_ONLY = ("optimizer.pt", "scheduler.pt", "trainer_state.json")


def export(checkpoint: str | Path, out_dir: str | Path, *, merge: bool = False, dtype: str = "auto") -> Path:
    """Write `checkpoint` to `out_dir` (atomically) as a merged model or a clean adapter; returns out_dir."""
    ckpt, out_dir = Path(checkpoint), Path(out_dir)
    is_adapter = (ckpt / "adapter_config.json").is_file()
    if not is_adapter and not (ckpt / "config.json").is_file():
        raise LoralabError(f"{ckpt}: not a checkpoint (neither adapter_config.json nor config.json)")
    if out_dir.resolve() == ckpt.resolve():
        raise LoralabError(f"--out {out_dir}: must differ from the checkpoint it exports")
    with atomic_dir(out_dir) as tmp:
        if is_adapter and merge:
            _merge(ckpt, tmp, dtype)
        else:
            _copy_clean(ckpt, tmp)
            if is_adapter and _unconverted_init(ckpt):
                _convert(ckpt, tmp)
        write_json(tmp / "loralab_export.json", {"checkpoint": str(ckpt.resolve()), "merged": bool(is_adapter and merge),
                                                  "base_model": base_model_name(ckpt) if is_adapter else None,
                                                  "trained_on": trained_on(ckpt) if is_adapter else None})
    return out_dir


def base_model_name(ckpt: Path) -> str:
    """The base the adapter was trained on: loralab.json, else the run's config.yaml, else PEFT's record."""
    if (ckpt / CHECKPOINT_INFO).is_file():
        return read_json(ckpt / CHECKPOINT_INFO)["base_model"]
    if (ckpt.parent / CONFIG).is_file():
        from loralab.config import load_config

        return load_config(ckpt.parent / CONFIG).model.name
    return json.loads((ckpt / "adapter_config.json").read_text())["base_model_name_or_path"]


def trained_on(ckpt: Path) -> str:
    """'4-bit nf4 base' for a QLoRA checkpoint, else 'full-precision base'.

    A QLoRA adapter learned its update against the NF4-rounded W. --merge adds it to the
    original full-precision W instead (the merged model is dequantized, not 4-bit), which
    is the usual QLoRA release but not bit-for-bit the model that was trained; the export
    record says so.
    """
    run_cfg = ckpt.parent / CONFIG
    if not run_cfg.is_file():
        return "unknown (no run config.yaml next to the checkpoint)"
    from loralab.config import load_config

    adapter = load_config(run_cfg).adapter
    return f"4-bit {adapter.quant_type} base" if adapter.method == "qlora" else "full-precision base"


def _model_config(ckpt: Path, dtype: str):
    """The run's ModelConfig (revision, remote code), pointed at the base, adapter unset."""
    from loralab.config import ModelConfig, load_config

    run_cfg = ckpt.parent / CONFIG
    mcfg = load_config(run_cfg).model if run_cfg.is_file() else ModelConfig(name=base_model_name(ckpt))
    return mcfg.model_copy(update={"name": base_model_name(ckpt), "adapter": None, "device": "cpu",
                                   "chat_template": "auto"})


def _merge(ckpt: Path, out: Path, dtype: str) -> None:
    import torch
    from transformers import AutoConfig, AutoTokenizer

    from loralab.models import load_adapter, load_model, resolve

    mcfg = _model_config(ckpt, dtype)
    if dtype == "auto":  # keep the base's own storage dtype (fp32 for the dequantized embedded model)
        saved = getattr(AutoConfig.from_pretrained(resolve(mcfg.name)), "dtype", None) or torch.float32
        torch_dtype = saved if isinstance(saved, torch.dtype) else getattr(torch, str(saved))
    else:
        torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    model, _ = load_model(mcfg, device="cpu", dtype=torch_dtype)
    merged = load_adapter(model, ckpt).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(ckpt).save_pretrained(out)  # the tokenizer and chat template of training


def _unconverted_init(ckpt: Path) -> bool:
    from loralab.train.lora import MUTATING_INITS

    init = json.loads((ckpt / "adapter_config.json").read_text()).get("init_lora_weights", True)
    return isinstance(init, str) and init.startswith(MUTATING_INITS)


def _convert(ckpt: Path, out: Path) -> None:
    """Rewrite the copied adapter in `out` as a plain rank-2r LoRA (lora.as_plain_lora).

    A0, B0 are not stored in an unconverted adapter; they are re-derived by decomposing the
    fp32 base again, as PEFT does when it loads one. (A run trained on a bf16 base decomposed
    the bf16-rounded weights: the result then matches to that rounding.)"""
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file, save_file

    from loralab.models import load_model
    from loralab.train.lora import adapter_state, as_plain_lora, plain_lora_config

    config = LoraConfig.from_pretrained(str(ckpt))
    base, _ = load_model(_model_config(ckpt, "float32"), device="cpu", dtype=torch.float32)
    initial = adapter_state(get_peft_model(base, config))
    trained = load_file(ckpt / "adapter_model.safetensors")
    save_file(as_plain_lora(trained, initial), out / "adapter_model.safetensors", metadata={"format": "pt"})
    plain_lora_config(config).save_pretrained(str(out))


def _copy_clean(ckpt: Path, out: Path) -> None:
    for path in ckpt.iterdir():
        if path.name in RESUME_ONLY or path.name.startswith("rng_state_") or not path.is_file():
            continue
        shutil.copy2(path, out / path.name)
