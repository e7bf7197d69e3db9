"""Attention for one-token decode steps on CPU: two small matmuls instead of SDPA's flash kernel.

A decode step asks attention for one query per row against the row's whole KV cache. PyTorch
routes that, on CPU, to `_scaled_dot_product_flash_attention_for_cpu`, a kernel blocked for
long queries: with one query it spent 3-4 ms per layer on 64 rows x 85 columns of SmolLM2-135M
(bf16, 2 threads), half of the whole step (profiled; benchmarks/eval_throughput.py has the
end-to-end figure). Here a step is `scores = K q` (keys stay in their cache layout, so no
transposed copy is made), a float32 softmax over the mask, and `probs V`, with the query heads
of a grouped-query model viewed as (kv head, group) rather than the keys repeated per head.

Registered with transformers' AttentionInterface as "loralab_decode" with SDPA's own mask
builder, so the mask is the one SDPA would get; every call that is not a plain one-query step
(prefill, soft-capped logits, attention sinks, a position bias, a mask of another
width) goes to transformers'
SDPA forward unchanged, so prefill and training are untouched. Only the generators enable it,
on CPU models (GPU SDPA kernels handle one query well).
"""

from __future__ import annotations

import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

NAME = "loralab_decode"


def decode_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                     **kwargs):
    """transformers' attention-function signature: query (B, Hq, q, D), key/value (B, Hkv, T, D);
    returns ((B, q, Hq, D), None)."""
    b, hq, q_len, d = query.shape
    hkv, t = key.shape[1], key.shape[2]
    plain = (q_len == 1 and dropout == 0.0 and hq % hkv == 0
             and all(kwargs.get(k) is None for k in ("softcap", "s_aux", "sinks", "position_bias"))
             and (attention_mask is None or attention_mask.shape[-1] == t))
    if not plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)
    q = query.reshape(b, hkv, hq // hkv, d)  # query head h reads kv head h // group (repeat_kv's order)
    scale = scaling if scaling is not None else d ** -0.5
    scores = torch.matmul(key, q.transpose(-1, -2)).transpose(-1, -2).float() * scale  # (B, Hkv, group, T)
    if attention_mask is not None:  # (B, 1, 1, T): bool (True = attend) or additive
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, float("-inf"))
        else:
            scores = scores + attention_mask.float()
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    out = torch.matmul(probs, value)  # (B, Hkv, group, D)
    return out.reshape(b, hq, 1, d).transpose(1, 2).contiguous(), None


def register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, decode_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)


def use_decode_attention(model) -> bool:
    """Switch a CPU model that runs SDPA to the decode attention; False (nothing changed) when
    the model is elsewhere, uses another implementation, or refuses the switch."""
    config = getattr(model, "config", None)
    if config is None or next(model.parameters()).device.type != "cpu":
        return False
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return getattr(config, "_attn_implementation", None) == NAME
    register()
    try:
        model.set_attn_implementation(NAME)
    except (ValueError, KeyError, AttributeError, NotImplementedError):
        return False
    return getattr(config, "_attn_implementation", None) == NAME
