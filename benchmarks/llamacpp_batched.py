"""Greedy llama.cpp decoding batched over sequences, as a fairer anchor than one prompt at a time.

`Llama.create_completion` decodes one sequence per call, so a llama.cpp anchor built on it never
batches. `llamacpp_batched` drives llama-cpp-python's low-level C API instead (llama_init_from_model,
llama_batch_init, llama_decode, llama_get_logits_ith, llama_memory_seq_rm, llama_vocab_is_eog) to
keep up to `n_seq` sequences in one KV cache, each under its own sequence id, and to refill a slot
with the next waiting prompt as soon as its sequence ends (continuous batching). Prompts are tokenized
and outputs detokenized as create_completion does, so its greedy texts are the reference.
"""

from __future__ import annotations

import ctypes
import time

import llama_cpp
import numpy as np

_PAD = 256


def _prompt_tokens(llm: llama_cpp.Llama, prompt: str) -> list[int]:
    """The token ids create_completion feeds for a str prompt without suffix (llama-cpp-python 0.3.x):
    the model's BOS (or CLS) when its vocab asks for one, the prompt with special tokens parsed, and
    the SEP or EOS when the vocab asks for one."""
    model = llm._model
    cls, sep = model.token_cls(), model.token_sep()
    bos = cls if cls != -1 else llm.token_bos()
    head = [bos] if model.add_bos_token() and bos != -1 else []
    tail = [sep if sep != -1 else llm.token_eos()] if model.add_eos_token() or sep != -1 else []
    tokens = head + (llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True) if prompt else []) + tail
    if not tokens:
        raise ValueError("an empty prompt has no token to condition on")
    return tokens


def _context(llm: llama_cpp.Llama, n_seq: int, cells: int) -> llama_cpp.llama_context_p:
    """A new context on llm's model with llm's settings, holding n_seq sequences of `cells` tokens each."""
    params = type(llm.context_params).from_buffer_copy(llm.context_params)
    params.n_seq_max = n_seq
    params.kv_unified = False
    params.n_ctx = n_seq * -(-cells // _PAD) * _PAD
    params.n_batch = max(llm.n_batch, n_seq)
    params.n_ubatch = min(params.n_batch, max(params.n_ubatch, n_seq))
    ctx = llama_cpp.llama_init_from_model(llm.model, params)
    if ctx is None:
        raise RuntimeError(f"llama_init_from_model failed (n_ctx={params.n_ctx}, n_seq_max={n_seq})")
    if (got := llama_cpp.llama_n_ctx_seq(ctx)) < cells:
        llama_cpp.llama_free(ctx)
        raise ValueError(f"llama.cpp gave {got} cells per sequence, {cells} needed")
    if (adapter := getattr(llm, "_lora_adapter", None)) is not None:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
        if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, (ctypes.c_float * 1)(llm.lora_scale)):
            llama_cpp.llama_free(ctx)
            raise RuntimeError("llama_set_adapters_lora failed")
    return ctx


def llamacpp_batched(llm: llama_cpp.Llama, prompts: list[str], max_new: int, n_seq: int = 16) -> dict:
    """Decode `prompts` greedily with llama.cpp, up to `n_seq` sequences at a time.

    The caller's Llama needs no special settings: llama-cpp-python 0.3.36's `Llama(...)` takes no
    n_seq_max or kv_unified (extra keywords are swallowed by **kwargs), so its own context holds one
    sequence. This function therefore creates, and frees before returning, a context of its own on
    llm's model, copying llm.context_params (threads, KV types, flash attention, ...) with
    n_seq_max = min(n_seq, len(prompts)), kv_unified = False (each sequence gets its own
    n_ctx / n_seq_max cells and attends over them only), n_ctx = n_seq_max times the longest prompt
    plus max_new rounded up to 256, n_batch = max(llm.n_batch, n_seq_max) and n_ubatch at least
    n_seq_max; llm's LoRA adapter, if any, is set on it too. llm.ctx is neither used nor changed.

    Prompts are tokenized as create_completion tokenizes a str prompt. A sequence entering a free
    slot is prefilled in llama_decode calls of at most n_batch tokens, shared with the other
    sequences entering at the same time, with logits only for each prompt's last token. Then each
    step is one llama_decode of one token per live sequence; the argmax of each sequence's logits
    row is its next token. A sequence ends at an end-of-generation token (llama_vocab_is_eog) or
    after max_new new tokens; its KV cells are then removed (llama_memory_seq_rm) and the next
    waiting prompt takes its slot.

    Returns {"rate": tokens / seconds, "tokens", "seconds", "outputs"}: tokens counts every new token
    including each end-of-generation token, seconds is the wall time of the whole call (context
    creation included), outputs are the texts in prompt order, detokenized without the
    end-of-generation token and decoded as UTF-8 with errors ignored, as create_completion does.
    """
    if max_new < 1:
        raise ValueError("max_new must be at least 1")
    t0 = time.perf_counter()
    todo = [_prompt_tokens(llm, p) for p in prompts]
    if not todo:
        return {"rate": 0.0, "tokens": 0, "seconds": time.perf_counter() - t0, "outputs": []}
    n_seq = max(1, min(n_seq, len(todo)))
    vocab, n_vocab = llm._model.vocab, llm.n_vocab()
    ctx = _context(llm, n_seq, max(map(len, todo)) + max_new)
    memory = llama_cpp.llama_get_memory(ctx)
    n_batch = llama_cpp.llama_n_batch(ctx)
    batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
    outs: list[list[int]] = [[] for _ in todo]
    ended = [False] * len(todo)
    live: dict[int, int] = {}

    def decode(items: list[tuple[int, int, int, bool]]) -> list[int]:
        for i, (token, pos, seq, logits) in enumerate(items):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
            batch.seq_id[i][0] = seq
        batch.n_tokens = len(items)
        if (rc := llama_cpp.llama_decode(ctx, batch)) != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        return [int(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), (n_vocab,)).argmax())
                for i, item in enumerate(items) if item[3]]

    def emit(slot: int, token: int) -> None:
        k = live[slot]
        outs[k].append(token)
        ended[k] = llama_cpp.llama_vocab_is_eog(vocab, token)
        if ended[k] or len(outs[k]) >= max_new:
            llama_cpp.llama_memory_seq_rm(memory, slot, -1, -1)
            del live[slot]

    try:
        waiting = 0
        while waiting < len(todo) or live:
            entering = [s for s in range(n_seq) if s not in live][: len(todo) - waiting]
            if entering:
                for s in entering:
                    live[s], waiting = waiting, waiting + 1
                items = [(t, j, s, j == len(todo[live[s]]) - 1) for s in entering for j, t in enumerate(todo[live[s]])]
                firsts = [t for i in range(0, len(items), n_batch) for t in decode(items[i : i + n_batch])]
                for s, token in zip(entering, firsts, strict=True):
                    emit(s, token)
                continue
            slots = list(live)
            steps = [(outs[live[s]][-1], len(todo[live[s]]) + len(outs[live[s]]) - 1, s, True) for s in slots]
            for s, token in zip(slots, decode(steps), strict=True):
                emit(s, token)
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
    texts = [llm.detokenize(o[:-1] if e else o).decode("utf-8", errors="ignore")
             for o, e in zip(outs, ended, strict=True)]
    tokens = sum(map(len, outs))
    seconds = time.perf_counter() - t0
    return {"rate": tokens / seconds, "tokens": tokens, "seconds": seconds, "outputs": texts}
