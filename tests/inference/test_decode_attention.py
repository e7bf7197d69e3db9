"""The CPU decode attention: the same numbers as SDPA for one-query steps, SDPA itself otherwise."""

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from loralab.config import ModelConfig
from loralab.inference.backends.attention import NAME, decode_attention, use_decode_attention
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import GenRequest, SamplingParams


class Module:  # what the attention functions read from a layer
    num_key_value_groups = 3
    is_causal = True
    training = False


def cache_view(b, h, t, d, spare, dtype=torch.float32):
    """Keys as the decode cache hands them over: a view of the first t columns of a wider buffer."""
    return torch.randn(b, h, t + spare, d, dtype=dtype)[:, :, :t]


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
def test_one_query_step_equals_sdpa_with_left_padding_and_grouped_heads(dtype, tol):
    torch.manual_seed(0)
    b, hq, hkv, t, d = 5, 9, 3, 37, 16
    q = torch.randn(b, hq, 1, d, dtype=dtype)
    k, v = cache_view(b, hkv, t, d, 11, dtype), cache_view(b, hkv, t, d, 11, dtype)
    mask = torch.ones(b, 1, 1, t, dtype=torch.bool)
    for row, pad in enumerate([0, 3, 10, 20, 36]):  # left padding: leading columns masked
        mask[row, ..., :pad] = False
    ours, none = decode_attention(Module(), q, k, v, mask, scaling=0.25)
    ref, _ = sdpa_attention_forward(Module(), q, k, v, mask, scaling=0.25)
    assert none is None and ours.shape == ref.shape == (b, 1, hq, d)
    assert torch.allclose(ours.float(), ref.float(), atol=tol, rtol=tol)
    additive = torch.zeros(b, 1, 1, t).masked_fill(~mask, float("-inf"))  # a float mask means the same
    assert torch.allclose(decode_attention(Module(), q, k, v, additive, scaling=0.25)[0].float(), ours.float(), atol=tol)
    # a masked column's key does not matter at all
    k2 = k.clone()
    k2[4, :, :36] = 1e4
    assert torch.equal(decode_attention(Module(), q, k2, v, mask, scaling=0.25)[0], ours)


def test_anything_but_a_plain_one_query_step_is_sdpa_itself():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 9, 4, 8), torch.randn(2, 3, 4, 8), torch.randn(2, 3, 4, 8)  # prefill: 4 queries
    assert torch.equal(decode_attention(Module(), q, k, v, None, scaling=0.3)[0],
                       sdpa_attention_forward(Module(), q, k, v, None, scaling=0.3)[0])
    q1, bias = q[:, :, :1], torch.randn(2, 9, 1, 4)  # a position bias (T5-style) goes to SDPA too
    assert torch.equal(decode_attention(Module(), q1, k, v, None, scaling=0.3, position_bias=bias)[0],
                       sdpa_attention_forward(Module(), q1, k, v, None, scaling=0.3, position_bias=bias)[0])


def test_generator_uses_it_on_cpu_and_greedy_tokens_match_stock_sdpa(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gen = TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir), dtype="float32"), batch_size=3)
    assert gen.decode_attention and gen.model.config._attn_implementation == NAME
    stock = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    assert stock.config._attn_implementation == "sdpa"
    tok = AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left")
    prompts = ["def add(a, b):", "Write a function that reverses a string.", "x", "import os\nimport sys\n\ndef f():\n"]
    ours = gen.generate([GenRequest(prompt=p) for p in prompts], SamplingParams(max_new_tokens=24))
    enc = tok(prompts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        ids = stock.generate(**enc, max_new_tokens=24, do_sample=False, pad_token_id=tok.pad_token_id)
    eos = {tok.eos_token_id, tok.pad_token_id}
    for (text,), row in zip(ours, ids[:, enc["input_ids"].shape[1]:].tolist(), strict=True):
        cut = next((i for i, t in enumerate(row) if t in eos), len(row))
        assert text == tok.decode(row[:cut], skip_special_tokens=True)


def test_only_sdpa_cpu_models_switch(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    eager = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="eager")
    assert not use_decode_attention(eager) and eager.config._attn_implementation == "eager"
    sdpa = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert use_decode_attention(sdpa) and use_decode_attention(sdpa)  # switching twice is a no-op


def test_decoding_cache_hands_attention_whole_chunked_buffers(tiny_model_dir):
    """After prefill the batch's cache grows CHUNK columns at a time and attention gets the whole
    (contiguous) buffers; the masked spare columns change nothing (the backend tests compare
    the tokens with `model.generate` and with one row at a time)."""
    from transformers import AutoModelForCausalLM

    from loralab.inference.backends.decode import CHUNK, DecodeBatch, Row

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    batch = DecodeBatch(model, pad_id=0)
    with torch.inference_mode():
        batch.add([Row(ids=[1, 2, 3, 4, 5], params=SamplingParams(max_new_tokens=80)),
                   Row(ids=[7, 8], params=SamplingParams(max_new_tokens=80))])
        for _ in range(70):
            batch.step()
    layer = batch.cache.layers[0]
    assert layer.whole and layer.n == batch.width == 5 + 70
    assert layer.capacity() % CHUNK == 0 and 0 < layer.capacity() - layer.n <= CHUNK
    assert layer.buf_k.is_contiguous() and layer.get_mask_sizes(1) == (layer.capacity_for(layer.n + 1), 0)
    with torch.inference_mode():
        keys, _ = layer.update(torch.zeros(2, 2, 1, 16), torch.zeros(2, 2, 1, 16))  # what attention is handed
    assert keys.shape[-2] == layer.capacity() and keys.is_contiguous()
