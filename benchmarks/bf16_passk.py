"""Does generating in bf16 change what the model solves? pass@1 on HumanEval, fp32 against bf16.

    .venv/bin/python benchmarks/bf16_passk.py [--limit 164] [--max-new-tokens 384]

`model.dtype: auto` switches generation to bf16 on a CPU that runs it faster (measured, see
loralab/inference/precision.py). bf16 rounds every matmul's inputs, so some greedy completions
change; what must not change is the verdict a study draws. This runs `loralab eval` twice on
the same HumanEval problems, greedily, with `model.dtype` float32 and bfloat16 (each its own
output directory and generation cache under --out), sandboxes both, and pairs them problem by
problem: solved counts, the problems only one dtype solves, McNemar's exact p of that split,
and how many completions are character-identical. Not a speed figure: eval_throughput.py is.
The last line is one JSON object, also written to benchmarks/results/bf16_passk.json.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness import emit, environment

from loralab.analysis.stats import mcnemar_exact
from loralab.eval.sweep import evaluate, load_samples


def run(dtype: str, out: Path, limit: int, max_new: int) -> dict[str, dict]:
    """task_id -> the base model's record (completion, passed) under `dtype`."""
    path = evaluate("smollm2-135m-instruct", out / dtype,
                    overrides=["eval.tasks=[humaneval]", f"eval.limit={limit}", f"model.dtype={dtype}",
                               f"eval.max_new_tokens={max_new}", "eval.temperature=0.0", "eval.n_samples=1",
                               "eval.batch_size=32"])
    return {r["task_id"]: r for r in load_samples(path) if r["system"] == "base"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=164, help="first N HumanEval problems (164 = all)")
    ap.add_argument("--max-new-tokens", type=int, default=384)
    ap.add_argument("--out", default="runs/bench/bf16_passk", help="eval directories (kept: a re-run reuses them)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    start = environment()
    fp32 = run("float32", Path(args.out), args.limit, args.max_new_tokens)
    bf16 = run("bfloat16", Path(args.out), args.limit, args.max_new_tokens)
    ids = sorted(fp32, key=lambda t: int(t.split("/")[-1]))
    only_fp32 = [t for t in ids if fp32[t]["passed"] and not bf16[t]["passed"]]
    only_bf16 = [t for t in ids if bf16[t]["passed"] and not fp32[t]["passed"]]
    solved32, solved16 = sum(fp32[t]["passed"] for t in ids), sum(bf16[t]["passed"] for t in ids)
    emit("bf16_passk", {
        "n_problems": len(ids), "solved_fp32": solved32, "solved_bf16": solved16,
        "pass1_fp32": round(solved32 / len(ids), 4), "pass1_bf16": round(solved16 / len(ids), 4),
        "only_fp32": only_fp32, "only_bf16": only_bf16,
        "mcnemar_p": round(mcnemar_exact(len(only_fp32), len(only_bf16)), 4),
        "identical_completions": sum(fp32[t]["completion"] == bf16[t]["completion"] for t in ids),
        "max_new_tokens": args.max_new_tokens, "model": "smollm2-135m-instruct", "greedy": True,
        "env_start": start, "env": environment()})


if __name__ == "__main__":
    main()
