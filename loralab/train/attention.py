"""Attention for packed rows on CPU: each example's own causal attention, no (T, T) mask.

A packed row holds several examples back to back, and transformers' `sdpa` attends over the
whole row with a block-diagonal causal mask: work for T^2 query-key pairs of which only
sum(n_i^2)/2 count, and on CPU a masked kernel whose backward is slow (the profile of a
SmolLM2-135M LoRA step put ~23% of the time in it). `segment_attention` cuts the row at
every position id that restarts at 0 and runs `scaled_dot_product_attention(is_causal=True)`
per example, which is the same attention (tests/train/test_batching.py checks the loss).
Half-precision inputs run the kernel on fp32 copies: PyTorch's CPU flash kernel is slower in
bf16 than in fp32 at these lengths (forward + backward of ~100-token examples of SmolLM2-135M:
benchmarks/train_step_profile.py, "attention"), and fp32 is the more exact of the two.
Anything else (a padded batch, a cache, a non-causal module) goes to transformers' sdpa.
"""

from __future__ import annotations

NAME = "loralab_segments"


def segment_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                      position_ids=None, **kwargs):
    """query (1, H, T, hd), key/value (1, Hkv, T, hd) -> ((1, T, H, hd), None), as transformers' attention functions."""
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    packed = (query.shape[0] == 1 and position_ids is not None and position_ids.shape[-1] == query.shape[2] == key.shape[2]
              and getattr(module, "is_causal", True) and dropout == 0.0)
    if not packed:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      position_ids=position_ids, **kwargs)
    starts = (position_ids.reshape(-1) == 0).nonzero().reshape(-1).tolist()
    bounds = list(zip(starts, [*starts[1:], query.shape[2]], strict=True)) if starts and starts[0] == 0 else \
        [(0, query.shape[2])]
    gqa = query.shape[1] != key.shape[1]
    dtype = query.dtype
    if dtype in (torch.bfloat16, torch.float16):
        query, key, value = query.float(), key.float(), value.float()
    out = [F.scaled_dot_product_attention(query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], is_causal=True,
                                          scale=scaling, enable_gqa=gqa) for a, b in bounds]
    return torch.cat(out, dim=2).to(dtype).transpose(1, 2).contiguous(), None


def use_segment_attention(model) -> bool:
    """Switch a transformers model to `segment_attention` if it runs sdpa now; True if it did."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return False
    AttentionInterface.register(NAME, segment_attention)
    # Padded batches still need their mask: build it as for sdpa.
    AttentionMaskInterface.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    model.set_attn_implementation(NAME)
    return True
