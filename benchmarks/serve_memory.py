"""Serving K specialists from one base: peak memory (K=10 vs K=1) and mixed-batch throughput.

    .venv/bin/python benchmarks/serve_memory.py [--k 10] [--rank 16] [--n-prompts 20] [--pairs 3]

The K-specialist study's stated weakness is that serving needs K copies of the model.
loralab keeps one base and K LoRA adapters. This script, in one run:
  1. writes K random LoRA adapters (rank `--rank` on q/k/v/o, B != 0) for the embedded model;
  2. memory: in a fresh child process per run, loads the base plus 1 or K adapters and answers
     `--n-prompts` prompts routed round-robin over them, then reports its peak RSS (VmHWM; on
     CUDA also torch's peak allocated bytes). K=1 and K alternate (`--pairs` pairs,
     benchmarks/harness.py); the figure is the median of the pairwise ratios K / K=1, target <= 1.2;
  3. speed: in one more child with the K adapters, the same prompts as one mixed-adapter batch
     (PEFT `adapter_names`) against adapter by adapter (one batch per adapter, what serving one
     adapter at a time does), interleaved (`--pairs` pairs); greedy outputs must be the same on
     both sides (`--tolerance`: the fraction allowed to differ), else the script fails.
The model runs in `--dtype` (float32 by default): in bf16 a row's logits depend on how many rows
share its matmuls (the kernel's blocking changes with the row count), so a mixed batch and
adapter-by-adapter batches can part ways at a near tie (measured: 1 of 10 texts at 8 tokens),
which says nothing about the adapters' routing.
The last line is one JSON object, also written to benchmarks/results/serve_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from harness import check_outputs, emit, environment, in_child, interleave, peak_rss_mb

PROMPTS = ["Write a Python function that returns the n-th Fibonacci number.", "Reverse a linked list in Python.",
           "Write a function that checks whether a string is a palindrome.", "Parse a CSV line into fields.",
           "Compute the greatest common divisor of two integers.", "Flatten a nested list.",
           "Count the words in a text file.", "Merge two sorted lists into one sorted list.",
           "Write a binary search over a sorted list.", "Remove duplicates from a list, keeping order."]


def make_adapters(root: Path, k: int, rank: int) -> dict[str, str]:
    """K random LoRA adapters of one base, saved as PEFT directories."""
    from peft import LoraConfig, get_peft_model

    from loralab.config import ModelConfig
    from loralab.models import load_model

    model, _ = load_model(ModelConfig(device="cpu"))
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    peft_model = get_peft_model(model, cfg)
    out = {}
    for i in range(k):
        torch.manual_seed(i)
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.data.normal_(0, 0.02)  # B != 0: each adapter really changes the model
        peft_model.save_pretrained(root / f"k{i}")
        out[f"k{i}"] = str(root / f"k{i}")
    return out


def load(adapters: dict[str, str], n_prompts: int, dtype: str):
    """(generator with base + adapters in `dtype`, the round-robin requests)."""
    from loralab.config import ModelConfig
    from loralab.inference.backends.transformers_backend import TransformersGenerator
    from loralab.inference.generate import GenRequest, SamplingParams

    gen = TransformersGenerator.from_config(ModelConfig(dtype=dtype), adapters, batch_size=n_prompts)
    names = list(adapters)
    reqs = [GenRequest(messages=({"role": "user", "content": PROMPTS[i % len(PROMPTS)]},), adapter=names[i % len(names)])
            for i in range(n_prompts)]
    gen.generate(reqs[:2], SamplingParams(max_new_tokens=2))  # warm-up: first-call allocations
    return gen, reqs


def memory_child(adapters: dict[str, str], n_prompts: int, max_new: int, dtype: str) -> dict:
    """Peak memory of base + adapters answering one mixed batch."""
    from loralab.inference.generate import SamplingParams

    gen, reqs = load(adapters, n_prompts, dtype)
    gen.generate(reqs, SamplingParams(max_new_tokens=max_new))
    out = {"k": len(adapters), "peak_rss_mb": peak_rss_mb()}
    if torch.cuda.is_available():
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def speed_child(adapters: dict[str, str], n_prompts: int, max_new: int, pairs: int, tolerance: float, dtype: str) -> dict:
    """Interleaved (adapter by adapter, mixed batch) runs; tokens/s of each and their pairwise ratios."""
    from loralab.inference.generate import SamplingParams

    gen, reqs = load(adapters, n_prompts, dtype)
    params = SamplingParams(max_new_tokens=max_new)
    runs = interleave(lambda: _timed(gen, lambda: _adapter_by_adapter(gen, reqs, params)),
                      lambda: _timed(gen, lambda: gen.generate(reqs, params)), pairs)
    for a, b in zip(runs.a, runs.b, strict=True):
        same = check_outputs(a["outputs"], b["outputs"], tolerance, "greedy texts (adapter by adapter vs mixed batch)")
    return {**runs.summary(), "identical_outputs": same}


def _timed(gen, fn) -> dict:
    """One run: {"rate": new tokens per second, "outputs": fn's texts}."""
    t0, before = time.perf_counter(), gen.stats["new_tokens"]
    outputs = fn()
    return {"rate": (gen.stats["new_tokens"] - before) / (time.perf_counter() - t0), "outputs": outputs}


def _adapter_by_adapter(gen, reqs, params) -> list[str]:
    """The same prompts, one batch per adapter; the texts in request order."""
    texts: list = [None] * len(reqs)
    for name in dict.fromkeys(r.adapter for r in reqs):
        idx = [i for i, r in enumerate(reqs) if r.adapter == name]
        for i, text in zip(idx, gen.generate([reqs[i] for i in idx], params), strict=True):
            texts[i] = text
    return texts


def run_child(mode: str, adapters: dict[str, str], args) -> dict:
    spec = {"mode": mode, "adapters": adapters, "n": args.n_prompts, "max_new": args.max_new_tokens,
            "threads": args.threads, "pairs": args.pairs, "tolerance": args.tolerance, "dtype": args.dtype}
    return in_child(__file__, "--child", json.dumps(spec))


def child(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    if spec["mode"] == "memory":
        return memory_child(spec["adapters"], spec["n"], spec["max_new"], spec["dtype"])
    return speed_child(spec["adapters"], spec["n"], spec["max_new"], spec["pairs"], spec["tolerance"], spec["dtype"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--n-prompts", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved pairs, for memory (K=1, K) and for speed")
    ap.add_argument("--tolerance", type=float, default=0.0, help="fraction of greedy texts allowed to differ")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "auto"],
                    help="the model's precision; float32 by default, where greedy texts cannot depend on batching")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    env_start = environment()
    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(Path(tmp), args.k, args.rank)
        memory = interleave(lambda: run_child("memory", {"k0": adapters["k0"]}, args),
                            lambda: run_child("memory", adapters, args), args.pairs)
        speed = run_child("speed", adapters, args)
    mem = memory.summary("peak_rss_mb")
    print(f"peak RSS: K=1 {mem['baseline']['median']:.0f} MB, K={args.k} {mem['loralab']['median']:.0f} MB -> "
          f"{mem['ratio']['median']:.3f}x; mixed batch vs adapter by adapter {speed['ratio']['median']:.2f}x, "
          f"identical outputs {speed['identical_outputs']}/{args.n_prompts}", file=sys.stderr)
    figures = {"memory_ratio": mem["ratio"]["median"], "memory_ratio_spread": mem["ratio"],
               "peak_rss_mb_k1": mem["baseline"], "peak_rss_mb_k": mem["loralab"],
               "mixed_vs_by_adapter_ratio": speed["ratio"]["median"], "mixed_vs_by_adapter_spread": speed["ratio"],
               "mixed_tokens_per_s": speed["loralab"]["median"], "by_adapter_tokens_per_s": speed["baseline"]["median"],
               "mixed_runs": speed["loralab"], "by_adapter_runs": speed["baseline"],
               "identical_outputs": speed["identical_outputs"], "k": args.k, "rank": args.rank,
               "n_prompts": args.n_prompts, "max_new_tokens": args.max_new_tokens, "threads": args.threads,
               "pairs": args.pairs, "tolerance": args.tolerance, "dtype": args.dtype}
    if "peak_cuda_mb" in memory.b[-1]:
        figures["peak_cuda_mb_k1"] = round(memory.a[-1]["peak_cuda_mb"], 1)
        figures["peak_cuda_mb_k"] = round(memory.b[-1]["peak_cuda_mb"], 1)
    emit("serve_memory", {**figures, "env_start": env_start, "env": environment()})


if __name__ == "__main__":
    main()
