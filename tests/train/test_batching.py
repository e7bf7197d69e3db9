"""Tokenisation guards, the batch plan, and the claim that every batching mode gives the same loss."""

from __future__ import annotations

import pytest
from trainfixtures import task_rows

from loralab.errors import LoralabError
from loralab.train.attention import use_segment_attention
from loralab.train.batching import (
    IGNORE,
    TokenizedExample,
    bos_prefix,
    collate,
    make_plan,
    shifted_targets,
    tokenize_cpt,
    tokenize_instruction,
)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from loralab.models import load_tokenizer

    return load_tokenizer(str(tiny_model_dir))


def test_shifted_targets_supervise_from_the_response():
    # ids: 3 prompt tokens then 2 response tokens; position j predicts ids[j+1]
    assert shifted_targets([10, 11, 12, 20, 21], first_supervised=3) == (IGNORE, IGNORE, 20, 21, IGNORE)
    assert shifted_targets([5, 6, 7], first_supervised=0) == (6, 7, IGNORE)  # cpt: the first token has no context


def test_instruction_masks_prompt_and_supervises_eos(tok):
    rows = task_rows(3)
    examples, report = tokenize_instruction(rows, tok, max_seq_len=512)
    assert report.examples == 3 and not report.no_supervised and not report.eos_truncated
    for row, ex in zip(rows, examples, strict=True):
        prompt = bos_prefix(tok) + tok(row["prompt"], add_special_tokens=False).input_ids
        response = tok(row["response"], add_special_tokens=False).input_ids + [tok.eos_token_id]
        assert list(ex.input_ids) == prompt + response
        supervised = [t for t in ex.targets if t != IGNORE]
        assert supervised == response  # every response token and the EOS, nothing of the prompt
        assert ex.targets[len(prompt) - 2] == IGNORE and ex.targets[len(prompt) - 1] == response[0]


def test_truncation_is_counted_and_prompt_only_examples_dropped(tok):
    rows = task_rows(4)
    prompt_len = len(tok(rows[0]["prompt"], add_special_tokens=False).input_ids)
    examples, report = tokenize_instruction(rows, tok, max_seq_len=prompt_len + 2)
    assert report.eos_truncated and all(len(e.input_ids) <= prompt_len + 2 for e in examples)
    assert all(e.n_supervised >= 1 for e in examples)
    examples, report = tokenize_instruction(rows, tok, max_seq_len=8)
    assert examples == [] and len(report.no_supervised) == 4
    assert "fills train.max_seq_len=8" in report.warnings("train", 8)[0]


def test_cpt_supervises_every_token_and_windows_long_documents(tok):
    rows = [{"id": "d", "text": "def f(x):\n    return x * 2\n" * 20}]
    examples, report = tokenize_cpt(rows, tok, max_seq_len=32)
    ids = tok(rows[0]["text"], add_special_tokens=False).input_ids + [tok.eos_token_id]
    assert report.chunked == 1 and [t for e in examples for t in e.input_ids] == ids
    assert all(e.n_supervised == len(e.input_ids) - 1 for e in examples)
    assert all(len(e.input_ids) <= 32 for e in examples)


def test_a_row_without_response_names_line_and_field(tok):
    rows = task_rows(2) + [{"id": "x", "prompt": "hi"}]
    with pytest.raises(LoralabError, match=r"train.jsonl line 3: field 'response' is missing"):
        tokenize_instruction(rows, tok, 64)


def _examples(lengths):
    return [TokenizedExample(tuple(range(n)), tuple([IGNORE] * (n - 2) + [1, IGNORE])) for n in lengths]


def test_plan_visits_every_example_once_per_epoch_and_is_deterministic():
    plan = make_plan(_examples([5 + i % 7 for i in range(23)]), batch_size=2, grad_accum=3, world=1, seed=1,
                     mode="packed")
    assert plan.steps_per_epoch == 4  # 12 micro-batches of 2 (the last has 1), 3 per step
    seen = [i for s in range(4) for mb in plan.step(s)[1] for i in mb]
    assert sorted(seen) == list(range(23))
    assert plan.step(4)[0] == 1 and plan.step(4) != plan.step(0)  # a new epoch, a new order
    again = make_plan(_examples([5 + i % 7 for i in range(23)]), 2, 3, 1, 1, "packed")
    assert [again.step(s) for s in range(8)] == [plan.step(s) for s in range(8)]


def test_ranks_split_each_global_batch():
    plan = make_plan(_examples([6] * 11), batch_size=2, grad_accum=1, world=2, seed=0, mode="pad")
    for s in range(plan.steps_per_epoch):
        _, (mb,) = plan.step(s)
        shards = [plan.shard(mb, r) for r in range(2)]
        assert sorted(shards[0] + shards[1]) == sorted(mb) and len(shards[0]) == len(shards[1])
    assert sum(len(mb) for s in range(plan.steps_per_epoch) for mb in plan.step(s)[1]) == 10  # 11 -> even


def test_length_grouping_reduces_padding():
    import numpy as np

    lengths = np.random.default_rng(0).integers(8, 300, size=400).tolist()
    waste = {}
    for mode in ("pad", "length_grouped"):
        plan = make_plan(_examples(lengths), batch_size=4, grad_accum=1, world=1, seed=0, mode=mode)
        batches = [plan.step(s)[1][0] for s in range(plan.steps_per_epoch)]
        waste[mode] = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    assert waste["length_grouped"] < waste["pad"] / 5


def test_every_batching_mode_gives_the_same_loss_as_one_example_at_a_time(tiny_model_dir, tok):
    """Packing must not let attention cross examples: the summed loss equals per-example losses."""
    import torch

    from loralab.config import ModelConfig
    from loralab.models import load_model
    from loralab.train.sft import loss_sum

    model, _ = load_model(ModelConfig(name=str(tiny_model_dir), device="cpu", dtype="float32"))
    examples, _ = tokenize_instruction(task_rows(5), tok, 512)
    with torch.no_grad():
        alone = sum(loss_sum(model, collate([e], "packed", tok.pad_token_id)).item() for e in examples)
        # transformers' sdpa (a block-diagonal mask), then loralab's per-example attention on CPU
        for use in (lambda m: True, use_segment_attention):
            assert use(model)
            for mode in ("pad", "packed"):
                batch = collate(examples, mode, tok.pad_token_id)
                assert batch.n_tokens == sum(len(e.input_ids) for e in examples)
                assert loss_sum(model, batch).item() == pytest.approx(alone, rel=1e-5)
    assert model.config._attn_implementation == "loralab_segments"


def test_segment_attention_gives_the_gradients_of_masked_attention(tiny_model_dir, tok):
    """The backward pass too: LoRA-relevant input gradients equal under both attentions."""
    import torch

    from loralab.config import ModelConfig
    from loralab.models import load_model
    from loralab.train.sft import loss_sum

    model, _ = load_model(ModelConfig(name=str(tiny_model_dir), device="cpu", dtype="float32"))
    batch = collate(tokenize_instruction(task_rows(4), tok, 512)[0], "packed", tok.pad_token_id)
    grads = []
    for use in (lambda m: True, use_segment_attention):
        use(model)
        model.zero_grad()
        loss_sum(model, batch).backward()
        grads.append(model.model.layers[0].self_attn.q_proj.weight.grad.clone())
    assert grads[0].abs().max() > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)


def test_segment_attention_runs_half_precision_in_fp32_and_returns_the_input_dtype():
    """bf16 inputs: each example's attention on fp32 copies (faster on CPU, and exact), cast back; gradients reach bf16."""
    import torch
    import torch.nn.functional as F

    from loralab.train.attention import segment_attention

    torch.manual_seed(0)
    lengths, heads, kv_heads, dim = (5, 9, 3), 6, 2, 16
    q, k, v = (torch.randn(1, h, sum(lengths), dim).to(torch.bfloat16).requires_grad_()
               for h in (heads, kv_heads, kv_heads))
    position_ids = torch.cat([torch.arange(n) for n in lengths])[None]
    module = torch.nn.Module()
    out, _ = segment_attention(module, q, k, v, None, scaling=dim**-0.5, position_ids=position_ids)
    assert out.dtype == torch.bfloat16 and out.shape == (1, sum(lengths), heads, dim)
    bounds = torch.tensor((0, *lengths)).cumsum(0).tolist()
    expected = torch.cat([F.scaled_dot_product_attention(q[:, :, a:b].float(), k[:, :, a:b].float(), v[:, :, a:b].float(),
                                                         is_causal=True, scale=dim**-0.5, enable_gqa=True)
                          for a, b in zip(bounds, bounds[1:], strict=False)], dim=2).to(torch.bfloat16).transpose(1, 2)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    out.float().square().sum().backward()
    assert q.grad.dtype == torch.bfloat16 and q.grad.abs().max() > 0 and k.grad.abs().max() > 0


# ----------------------------------------------------------------------------- multi-turn chat rows (issue #12)

CONVERSATION = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Say hello."},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "  Body of f, returning 9?\n"},
    {"role": "assistant", "content": "    return 9\n\n"},  # indented code: kept as it is (one trailing newline)
    {"role": "user", "content": "And 10?"},
    {"role": "assistant", "content": "```python\nx = 10\n```"},
]


def prepared_chat(tmp_path, model_dir, train_on="all_assistant") -> list[dict]:
    import json

    from loralab.config import DataConfig, ModelConfig
    from loralab.data.prepare import prepare

    src = tmp_path / "chat.jsonl"
    src.write_text("".join(json.dumps({"messages": CONVERSATION[:n]}) + "\n" for n in (7, 5, 3)))
    out = tmp_path / f"prepared-{train_on}"
    prepare(DataConfig(source=str(src), splits=(1.0, 0.0, 0.0), train_on=train_on), out,
            model_cfg=ModelConfig(name=str(model_dir)))
    return [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]


def supervised_spans(tok, ex: TokenizedExample) -> list[str]:
    """The supervised targets, grouped into runs of consecutive positions, each run decoded."""
    runs, last = [], -2
    for j, t in enumerate(ex.targets):
        if t == IGNORE:
            continue
        if j != last + 1:
            runs.append([])
        runs[-1].append(t)
        last = j
    return [tok.decode(run) for run in runs]


def test_every_assistant_turn_is_learned_and_nothing_of_system_or_user(tmp_path, tiny_model_dir, tok):
    """The SmolLM2 chat template: each assistant turn's content and its <|im_end|>, and nothing else."""
    rows = prepared_chat(tmp_path, tiny_model_dir)
    longest = next(r for r in rows if len(r["messages"]) == 7)
    examples, _ = tokenize_instruction([longest], tok, 1024)
    assert supervised_spans(tok, examples[0]) == [
        "Hello.<|im_end|>", "    return 9\n<|im_end|>", "```python\nx = 10\n```<|im_end|>"]
    assert [longest["prompt"][s:e] for s, e in longest["assistant_spans"]] == \
        ["Hello.<|im_end|>", "    return 9\n<|im_end|>"]
    single = next(r for r in rows if len(r["messages"]) == 3)
    assert "assistant_spans" not in single  # one assistant turn: the response alone

    last_only, _ = tokenize_instruction([longest], tok, 1024, all_assistant=False)
    assert supervised_spans(tok, last_only[0]) == ["```python\nx = 10\n```<|im_end|>"]
    prepared_last = next(r for r in prepared_chat(tmp_path, tiny_model_dir, "last_assistant")
                         if len(r["messages"]) == 7)
    assert "assistant_spans" not in prepared_last and prepared_last["prompt"] == longest["prompt"]


def test_multi_turn_loss_is_the_same_in_every_batching_mode(tmp_path, tiny_model_dir, tok):
    import torch

    from loralab.config import ModelConfig
    from loralab.models import load_model
    from loralab.train.sft import loss_sum

    model, _ = load_model(ModelConfig(name=str(tiny_model_dir), device="cpu"))
    examples, _ = tokenize_instruction(prepared_chat(tmp_path, tiny_model_dir) + task_rows(3), tok, 1024)
    with torch.no_grad():
        alone = sum(loss_sum(model, collate([e], "packed", tok.pad_token_id)).item() for e in examples)
        for mode in ("pad", "length_grouped", "packed"):
            assert loss_sum(model, collate(examples, mode, tok.pad_token_id)).item() == pytest.approx(alone, rel=1e-5)


def test_assistant_spans_outside_the_prompt_name_the_line(tok):
    rows = [{"id": "a", "prompt": "abc", "response": "d", "assistant_spans": [[1, 9]]}]
    with pytest.raises(LoralabError, match=r"train.jsonl line 1: 'assistant_spans' must be sorted"):
        tokenize_instruction(rows, tok, 64)
