"""Multiple-choice scoring on the embedded model: ours vs one pair at a time (and lm-eval when importable).

    .venv/bin/python benchmarks/mc_scoring.py [--items 25] [--batch-size 16]
    PYTHONPATH=/path/to/lm_eval .venv/bin/python benchmarks/mc_scoring.py   # adds the lm-eval column

All sides score the same ARC-Challenge (context, continuation) pairs from ../shared/data on
SmolLM2-135M-Instruct in fp32 on CPU, in this one process:
  baseline: one forward pass per pair, full logits, log-softmax over every position (the
            straightforward loop of an evaluation script);
  ours:     loglikelihoods(): longest-first right-padded batches, the vocabulary projection
            only at continuation positions;
  lm-eval:  lm-evaluation-harness's HFLM.loglikelihood on the same pairs (if installed).
Reports pairs/s, the largest |Δ log-likelihood| against the baseline and lm-eval, and acc /
acc_norm of each. The last line is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from loralab.config import ModelConfig
from loralab.eval.mc_tasks import load_items
from loralab.eval.multiple_choice import encode_pair, loglikelihoods, score_items, summarise
from loralab.models import DEFAULT_MODEL, load_model, resolve

ARC = Path(__file__).resolve().parents[2] / "shared" / "data" / "forgetting" / "arc_challenge_test.jsonl"


def one_at_a_time(model, tok, pairs) -> list[float]:
    out = []
    with torch.inference_mode():
        for context, continuation in pairs:
            ctx, cont = encode_pair(tok, context, continuation)
            logprobs = torch.log_softmax(model(torch.tensor([ctx + cont])).logits[0].float(), -1)  # (T, V)
            out.append(sum(logprobs[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont)))
    return out


def lm_eval_scores(pairs, batch_size: int) -> list[float] | None:
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        return None
    lm = HFLM(pretrained=resolve(DEFAULT_MODEL), device="cpu", dtype="float32", batch_size=batch_size)
    return [ll for ll, _ in lm.loglikelihood([Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)],
                                             disable_tqdm=True)]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is steadiest on a shared CPU)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    items = load_items("arc_challenge", str(ARC), limit=args.items)
    pairs = [(c, x) for it in items for c, x in zip(it.contexts, it.continuations, strict=True)]
    model, tok = load_model(ModelConfig(name=DEFAULT_MODEL, device="cpu", dtype="float32"))
    model.eval()
    base, t_base = timed(lambda: one_at_a_time(model, tok, pairs))
    ours, t_ours = timed(lambda: loglikelihoods(model, tok, pairs, batch_size=args.batch_size))
    ref, t_ref = timed(lambda: lm_eval_scores(pairs, args.batch_size))
    figures = {"items": len(items), "pairs": len(pairs), "threads": args.threads, "baseline_pairs_per_s": len(pairs) / t_base,
               "ours_pairs_per_s": len(pairs) / t_ours, "speedup": t_base / t_ours,
               "max_abs_diff_vs_baseline": max(abs(a - b) for a, b in zip(ours, base, strict=True))}
    for name, lls in (("baseline", base), ("ours", ours), ("lm_eval", ref)):
        if lls is not None:
            m = summarise(score_items(items, lls))
            figures[f"{name}_acc"], figures[f"{name}_acc_norm"] = m["acc"], m["acc_norm"]
    if ref is not None:
        figures["max_abs_diff_vs_lm_eval"] = max(abs(a - b) for a, b in zip(ours, ref, strict=True))
        figures["lm_eval_pairs_per_s"] = len(pairs) / t_ref
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
