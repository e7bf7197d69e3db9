"""Our AdapterConfig mapped onto PEFT (LoRA, rsLoRA, DoRA, QLoRA) or onto full fine-tuning.

Only the keys we document are passed to PEFT/bitsandbytes; nothing is forwarded blindly.
  LoRA   Hu et al. 2021: W + (alpha/r) B A, B = 0 at init so training starts at the base model.
  rsLoRA Kalajdzievski 2023: scale alpha/sqrt(r), so higher ranks keep learning.
  DoRA   Liu et al. 2024: magnitude and direction of W trained apart (PEFT use_dora).
  QLoRA  Dettmers et al. 2023: frozen 4-bit NF4 base, double quantisation, bf16 compute,
         paged 32-bit AdamW. bitsandbytes 0.50 also runs NF4 layers on CPU (slowly, no paged
         optimizer), so QLoRA runs on CPU too, with plain AdamW.
  PiSSA  Meng et al. 2024 / OLoRA Büyükakyüz 2024: A0, B0 from the SVD (QR) of W, and the base
         itself becomes W_res = W - s B0 A0. Trained as such, but saved converted (see
         `as_plain_lora`), so the checkpoint applies to the unmodified base like any LoRA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loralab.errors import LoralabError, missing_extra

if TYPE_CHECKING:
    from loralab.config import AdapterConfig

INIT = {"default": True, "gaussian": "gaussian", "pissa": "pissa", "olora": "olora"}
MUTATING_INITS = ("pissa", "olora")  # inits that rewrite the base weights (W -> W_res)


def check_init(acfg: AdapterConfig, continued_adapter: str | None) -> None:
    """Refuse the init combinations whose saved adapter could not reproduce the trained model."""
    if acfg.init not in MUTATING_INITS or acfg.method == "full":
        return
    if acfg.method == "qlora":
        raise LoralabError(f"adapter.init: {acfg.init} with method qlora re-quantises the residual base W_res, so no "
                           "adapter saved from it reproduces the trained model on the original 4-bit base; use "
                           "method lora (or dora) with this init, or init default with qlora")
    if continued_adapter:
        raise LoralabError(f"adapter.init: {acfg.init} initialises a new adapter, but model.adapter "
                           f"({continued_adapter}) continues an existing one with its own weights; set adapter.init "
                           "default, or unset model.adapter")


def quantization_config(acfg: AdapterConfig, device: str):
    """BitsAndBytesConfig for QLoRA; a clear error on MPS or without bitsandbytes."""
    import torch

    if device not in ("cuda", "cpu"):
        raise LoralabError(f"adapter.method: qlora needs CUDA or the CPU (bitsandbytes 4-bit kernels) and this run is "
                           f"on '{device}'; use adapter.method=lora here, or model.device=cpu")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise missing_extra("bitsandbytes", "qlora") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=acfg.quant_type, bnb_4bit_use_double_quant=acfg.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, acfg.compute_dtype), bnb_4bit_quant_storage=torch.uint8)


def linear_names(model) -> list[str]:
    """Leaf names of the linear layers LoRA can target (lm_head excluded, as PEFT's all-linear does)."""
    import torch.nn as nn

    names = set()
    for name, module in model.named_modules():
        is_linear = isinstance(module, nn.Linear) or type(module).__name__ in ("Linear4bit", "Linear8bitLt", "Conv1D")
        if is_linear and name.split(".")[-1] != "lm_head":
            names.add(name.split(".")[-1])
    return sorted(names)


def target_modules(acfg: AdapterConfig, model) -> list[str] | str:
    """'default' -> PEFT's table for the family; 'all-linear'; or a checked list of leaf names."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    available = linear_names(model)
    if acfg.target_modules == "all-linear":
        return "all-linear"
    if acfg.target_modules == "default":
        family = model.config.model_type
        if family not in DEFAULTS:
            raise LoralabError(f"adapter.target_modules: PEFT has no default for model type '{family}'; "
                               f"give a list (its linear layers: {', '.join(available)}) or 'all-linear'")
        return list(DEFAULTS[family])
    missing = [m for m in acfg.target_modules if m not in available]
    if missing:
        raise LoralabError(f"adapter.target_modules: {missing} not found in the model; "
                           f"its linear layers are: {', '.join(available)}")
    return list(acfg.target_modules)


def lora_config(acfg: AdapterConfig, model):
    from peft import LoraConfig

    return LoraConfig(
        r=acfg.r, lora_alpha=acfg.alpha, lora_dropout=acfg.dropout, bias=acfg.bias,
        target_modules=target_modules(acfg, model), use_rslora=acfg.rslora, use_dora=acfg.method == "dora",
        init_lora_weights=INIT[acfg.init], task_type="CAUSAL_LM")


def attach(model, acfg: AdapterConfig, *, gradient_checkpointing: bool, adapter_dir: str | None = None):
    """The model ready to train: PEFT-wrapped for LoRA methods, every weight trainable for full.

    `adapter_dir` continues training an existing adapter (LoRA methods) or is merged into
    the weights first (full). Adapter weights stay fp32 on a bf16/fp16 base (PEFT's
    autocast_adapter_dtype), so small updates are not rounded away.
    """
    if gradient_checkpointing:
        # Non-reentrant checkpointing needs no requires_grad on the inputs (PyTorch docs).
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    if acfg.method == "full":
        return _full(model, adapter_dir)
    from peft import get_peft_model, prepare_model_for_kbit_training

    from loralab.models import load_adapter

    if acfg.method == "qlora":
        _keep_cpu_4bit_trainable(model)
        # Casts norms to fp32 and freezes the 4-bit base, as the QLoRA recipe does.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
    if adapter_dir:
        return load_adapter(model, adapter_dir, trainable=True)
    return get_peft_model(model, lora_config(acfg, model))


def _keep_cpu_4bit_trainable(model) -> None:
    """Stop bitsandbytes repacking NF4 weights for CPU inference during our no-grad validation passes.

    On AVX512-BF16 CPUs, bitsandbytes 0.50 converts a Linear4bit's weight to a CPU-only layout
    the first time it runs in eval mode without grad, and keeps that layout; its kernel for it
    (gemv_4bit) has no autograd, so every later training step back-propagates zeros (measured:
    grad_norm 0.0 after the step-0 validation). Training keeps the standard layout.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def mutates_base(model) -> bool:
    """The PEFT model's adapter was initialised by PiSSA/OLoRA (its base now holds W_res)."""
    init = getattr(getattr(model, "peft_config", {}).get("default"), "init_lora_weights", True)
    return isinstance(init, str) and init.startswith(MUTATING_INITS)


def adapter_state(model) -> dict:
    """A detached copy of the adapter tensors, keyed as in adapter_model.safetensors."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}


def as_plain_lora(trained: dict, initial: dict) -> dict:
    """A PiSSA/OLoRA adapter as a rank-2r LoRA on the unmodified base W (PEFT's conversion).

    The trained model computes W_res + s B A with W_res = W - s B0 A0, i.e. W + s (B A - B0 A0)
    = W + s [B | -B0] [A ; A0]: A' (2r, in) stacks A over A0, B' (out, 2r) sets -B0 beside B.
    Saved with r and alpha doubled (scale alpha/r unchanged; alpha*sqrt(2) under rsLoRA), as
    PEFT's `save_pretrained(path_initial_model_for_weight_conversion=...)` does. Other tensors
    (DoRA magnitudes, trained biases) pass through: they act on W_res + s B A = W + s B' A'.
    """
    import torch

    out = {}
    for key, value in trained.items():
        if ".lora_A." in key:
            out[key] = torch.cat([value, initial[key].to(value)], dim=0).contiguous()
        elif ".lora_B." in key:
            out[key] = torch.cat([value, -initial[key].to(value)], dim=1).contiguous()
        else:
            out[key] = value.contiguous()
    return out


def split_plain_lora(converted: dict) -> tuple[dict, dict]:
    """Inverse of `as_plain_lora`: (trained, initial) adapters of rank r from a rank-2r checkpoint."""
    trained, initial = {}, {}
    for key, value in converted.items():
        if ".lora_A." in key:
            r = value.shape[0] // 2
            trained[key], initial[key] = value[:r].contiguous(), value[r:].contiguous()
        elif ".lora_B." in key:
            r = value.shape[1] // 2
            trained[key], initial[key] = value[:, :r].contiguous(), (-value[:, r:]).contiguous()
        else:
            trained[key] = value
    return trained, initial


def plain_lora_config(peft_config):
    """The adapter_config of a converted adapter: rank and alpha doubled, a plain (no-op) init."""
    import copy

    cfg = copy.deepcopy(peft_config)
    cfg.r *= 2
    cfg.lora_alpha *= 2 ** 0.5 if cfg.use_rslora else 2
    cfg.init_lora_weights = True
    cfg.rank_pattern = {k: 2 * v for k, v in (cfg.rank_pattern or {}).items()}
    cfg.alpha_pattern = {k: 2 * v for k, v in (cfg.alpha_pattern or {}).items()}
    cfg.inference_mode = True
    return cfg


def save_adapter(model, out, *, state_dict: dict | None = None, initial: dict | None = None) -> None:
    """save_pretrained, converted to a plain LoRA when `initial` (the PiSSA/OLoRA A0, B0) is given."""
    from pathlib import Path

    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    model.save_pretrained(out, state_dict=state_dict, safe_serialization=True)
    if initial is None:
        return
    trained = get_peft_model_state_dict(model, state_dict=state_dict)
    save_file(as_plain_lora(trained, initial), Path(out) / "adapter_model.safetensors", metadata={"format": "pt"})
    config = plain_lora_config(model.peft_config["default"])
    config.base_model_name_or_path = model.peft_config["default"].base_model_name_or_path
    config.save_pretrained(str(out))


def _full(model, adapter_dir: str | None):
    if adapter_dir:
        from loralab.models import load_adapter

        model = load_adapter(model, adapter_dir).merge_and_unload()
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def optimizer(name: str, params: list, *, lr: float, weight_decay: float, method: str, device: str):
    """AdamW (decay on matrices only: biases and norms are not decayed), SGD, or a bitsandbytes optimizer."""
    import torch

    if name == "auto":
        # Paged optimizers page to CUDA unified memory; on CPU there is nothing to page.
        name = "paged_adamw_32bit" if method == "qlora" and device == "cuda" else "adamw"
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, fused=device in ("cuda", "cpu") or None)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr)
    if device != "cuda":
        raise LoralabError(f"train.optimizer: {name} is a bitsandbytes CUDA optimizer; use adamw on '{device}'")
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise missing_extra("bitsandbytes", "qlora") from None
    cls = {"adamw_8bit": bnb.optim.AdamW8bit, "paged_adamw_32bit": bnb.optim.PagedAdamW32bit}[name]
    return cls(groups, lr=lr)
