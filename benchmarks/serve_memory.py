"""Serving K specialists from one base: peak memory (K=10 vs K=1) and mixed-batch throughput.

    .venv/bin/python benchmarks/serve_memory.py [--k 10] [--rank 16] [--n-prompts 20]

The K-specialist study's stated weakness is that serving needs K copies of the model.
loralab keeps one base and K LoRA adapters. This script, in one run:
  1. writes K random LoRA adapters (rank `--rank` on q/k/v/o, B != 0) for the embedded model;
  2. in a fresh child process per setting, loads the base plus K=1 or K=10 adapters and
     answers a batch of prompts routed round-robin over the adapters, then reports peak RSS
     (ru_maxrss; on CUDA also torch's peak allocated bytes). Target: K=10 / K=1 <= 1.2;
  3. in the K=10 child, times the same prompts as one mixed-adapter batch (PEFT
     `adapter_names`) against adapter by adapter (one batch per adapter), alternating the two
     for `--rounds` rounds and keeping each one's best, so other load on a shared machine
     biases neither.
The last line is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

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


def child(adapters: dict[str, str], n_prompts: int, max_new: int, compare: bool, rounds: int) -> dict:
    """Load base + adapters, answer a round-robin mixed batch; peak memory and timings."""
    from loralab.config import ModelConfig
    from loralab.inference.backends.transformers_backend import TransformersGenerator
    from loralab.inference.generate import GenRequest, SamplingParams

    gen = TransformersGenerator.from_config(ModelConfig(), adapters, batch_size=n_prompts)
    names = list(adapters)
    reqs = [GenRequest(messages=({"role": "user", "content": PROMPTS[i % len(PROMPTS)]},), adapter=names[i % len(names)])
            for i in range(n_prompts)]
    params = SamplingParams(max_new_tokens=max_new)
    gen.generate(reqs[:2], SamplingParams(max_new_tokens=2))  # warm-up
    out: dict = {"k": len(adapters), "mixed_tokens_per_s": 0.0, "by_adapter_tokens_per_s": 0.0}
    for _ in range(rounds if compare else 1):
        mixed, tps = _timed(gen, lambda: gen.generate(reqs, params))
        out["mixed_tokens_per_s"] = max(out["mixed_tokens_per_s"], tps)
        if compare:
            same, tps = _timed(gen, lambda mixed=mixed: _adapter_by_adapter(gen, reqs, params, mixed))
            out["by_adapter_tokens_per_s"], out["identical_outputs"] = max(out["by_adapter_tokens_per_s"], tps), same
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _timed(gen, fn) -> tuple:
    """(fn's result, new tokens per second while it ran)."""
    t0, before = time.perf_counter(), gen.stats["new_tokens"]
    result = fn()
    return result, (gen.stats["new_tokens"] - before) / (time.perf_counter() - t0)


def _adapter_by_adapter(gen, reqs, params, mixed) -> int:
    """The same prompts, one batch per adapter (what serving one adapter at a time does);
    returns how many outputs equal the mixed batch's."""
    same = 0
    for name in dict.fromkeys(r.adapter for r in reqs):
        idx = [i for i, r in enumerate(reqs) if r.adapter == name]
        outs = gen.generate([reqs[i] for i in idx], params)
        same += sum(outs[j] == mixed[i] for j, i in enumerate(idx))
    return same


def run_child(adapters: dict[str, str], args, compare: bool) -> dict:
    spec = json.dumps({"adapters": adapters, "n": args.n_prompts, "max_new": args.max_new_tokens, "compare": compare,
                       "threads": args.threads, "rounds": args.rounds})
    res = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--n-prompts", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.child)
        torch.set_num_threads(spec["threads"])
        print(json.dumps(child(spec["adapters"], spec["n"], spec["max_new"], spec["compare"], spec["rounds"])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(Path(tmp), args.k, args.rank)
        one = run_child({"k0": adapters["k0"]}, args, compare=False)
        many = run_child(adapters, args, compare=True)
    mem_ratio = many["peak_rss_mb"] / one["peak_rss_mb"]
    speed_ratio = many["mixed_tokens_per_s"] / many["by_adapter_tokens_per_s"]
    print(f"peak RSS: K=1 {one['peak_rss_mb']:.0f} MB, K={args.k} {many['peak_rss_mb']:.0f} MB -> {mem_ratio:.3f}x")
    print(f"K={args.k}, {args.n_prompts} prompts: mixed batch {many['mixed_tokens_per_s']:.1f} tok/s, "
          f"adapter by adapter {many['by_adapter_tokens_per_s']:.1f} tok/s -> {speed_ratio:.2f}x; "
          f"identical outputs {many['identical_outputs']}/{args.n_prompts}")
    figures = {"memory_ratio_k10_vs_k1": round(mem_ratio, 3), "peak_rss_mb_k1": round(one["peak_rss_mb"], 1),
               f"peak_rss_mb_k{args.k}": round(many["peak_rss_mb"], 1), "mixed_vs_by_adapter_ratio": round(speed_ratio, 2),
               "mixed_tokens_per_s": round(many["mixed_tokens_per_s"], 1),
               "by_adapter_tokens_per_s": round(many["by_adapter_tokens_per_s"], 1),
               "identical_outputs": many["identical_outputs"], "k": args.k, "rank": args.rank,
               "n_prompts": args.n_prompts, "max_new_tokens": args.max_new_tokens, "threads": args.threads,
               "rounds": args.rounds, "loadavg_1m_end": round(os.getloadavg()[0], 2)}
    for key in ("peak_cuda_mb",):
        if key in many:
            figures[f"{key}_k1"], figures[f"{key}_k{args.k}"] = round(one[key], 1), round(many[key], 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
