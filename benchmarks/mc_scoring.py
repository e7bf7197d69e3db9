"""Multiple-choice scoring on the embedded model: batched (ours) vs one pair at a time, and lm-eval when importable.

    .venv/bin/python benchmarks/mc_scoring.py [--items 25] [--batch-size 16] [--pairs 3] [--no-lm-eval]

All sides score the same ARC-Challenge (context, continuation) pairs from ../shared/data on
SmolLM2-135M-Instruct in fp32 on CPU, in this one process:
  baseline: one forward pass per pair, full logits, log-softmax over every position (the
            straightforward loop of an evaluation script);
  ours:     loglikelihoods(): longest-first right-padded batches, the vocabulary projection
            only at continuation positions;
  lm-eval:  lm-evaluation-harness's HFLM.loglikelihood on the same pairs (if installed), run
            once after the pairs as a reference for the values, not interleaved.
Baseline and ours alternate (`--pairs` pairs, benchmarks/harness.py); the speedup is the median
of the pairwise ratios with its spread. Every log-likelihood must agree with the baseline's (and
lm-eval's) within `--tolerance` nats, else the script fails. Reports pairs/s, the largest
|Δ log-likelihood| and acc / acc_norm of each side. The last line is one JSON object, also
written to benchmarks/results/mc_scoring.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from harness import check_outputs, emit, environment, interleave

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


def timed(fn, n: int) -> dict:
    """One run: {"rate": pairs per second, "outputs": the log-likelihoods}."""
    t0 = time.perf_counter()
    out = fn()
    return {"rate": n / (time.perf_counter() - t0), "outputs": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is steadiest on a shared CPU)")
    ap.add_argument("--pairs", type=int, default=3, help="interleaved (one at a time, batched) pairs")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest |Δ log-likelihood| accepted, nats")
    ap.add_argument("--no-lm-eval", action="store_true", help="skip the lm-eval reference even when importable")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env_start = environment()
    items = load_items("arc_challenge", str(ARC), limit=args.items)
    pairs = [(c, x) for it in items for c, x in zip(it.contexts, it.continuations, strict=True)]
    model, tok = load_model(ModelConfig(name=DEFAULT_MODEL, device="cpu", dtype="float32"))
    model.eval()
    n = len(pairs)
    runs = interleave(lambda: timed(lambda: one_at_a_time(model, tok, pairs), n),
                      lambda: timed(lambda: loglikelihoods(model, tok, pairs, batch_size=args.batch_size), n), args.pairs)
    for a, b in zip(runs.a, runs.b, strict=True):
        check_outputs(a["outputs"], b["outputs"], args.tolerance, "log-likelihoods (one at a time vs batched)")
    base, ours, s = runs.a[-1]["outputs"], runs.b[-1]["outputs"], runs.summary()
    ref = None if args.no_lm_eval else timed(lambda: lm_eval_scores(pairs, args.batch_size), n)
    figures = {"speedup": s["ratio"]["median"], "speedup_spread": s["ratio"],
               "baseline_pairs_per_s": s["baseline"]["median"], "ours_pairs_per_s": s["loralab"]["median"],
               "baseline_runs": s["baseline"], "ours_runs": s["loralab"],
               "max_abs_diff_vs_baseline": max(abs(x - y) for x, y in zip(ours, base, strict=True))}
    for name, lls in (("baseline", base), ("ours", ours), ("lm_eval", ref and ref["outputs"])):
        if lls is not None:
            m = summarise(score_items(items, lls))
            figures[f"{name}_acc"], figures[f"{name}_acc_norm"] = m["acc"], m["acc_norm"]
    if ref is not None and ref["outputs"] is not None:
        check_outputs(ref["outputs"], ours, args.tolerance, "log-likelihoods (lm-eval vs batched)")
        figures["max_abs_diff_vs_lm_eval"] = max(abs(x - y) for x, y in zip(ours, ref["outputs"], strict=True))
        figures["lm_eval_pairs_per_s"] = round(ref["rate"], 3)
    else:
        figures["lm_eval_note"] = "skipped (--no-lm-eval)" if args.no_lm_eval else "lm_eval is not importable here"
    emit("mc_scoring", {**figures, "items": len(items), "scored_pairs": n, "threads": args.threads,
                        "batch_size": args.batch_size, "pairs": args.pairs, "tolerance": args.tolerance,
                        "env_start": env_start, "env": environment()})


if __name__ == "__main__":
    main()
