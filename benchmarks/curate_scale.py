"""How large a dataset `loralab curate dedup` handles on one machine, and how long it takes.

    .venv/bin/python benchmarks/curate_scale.py [--sizes 5000,20000,50000] [--baseline-max 20000] [--pairs 3]

Measures, in one run:
  * semantic search at each of `--sizes` rows: loralab's blockwise greedy pass
    (`loralab.curate.dedup.semantic_duplicates`) against the baseline that builds the full
    N x N similarity matrix and runs the same greedy first-occurrence pass over it. The rows are
    random unit vectors (384-d, the embedder's width) with every 10th row a noisy copy of an
    earlier one, so nearly every row stays in the kept set (the search's worst case) and there
    are duplicates to find. Each run is its own child process, so its peak RSS (VmHWM) is its
    own; baseline and loralab alternate (`--pairs` pairs, benchmarks/harness.py) up to
    `--baseline-max` rows, above it loralab runs alone. Both sides must drop the same rows
    as duplicates of the same kept rows, else the script fails;
  * embedding throughput of the default embedder on real CodeAlpaca questions (rows/s);
  * memory per loaded row (the dataset itself is held in memory as Python dicts);
then extrapolates the largest N whose rows + embeddings fit in a memory budget (default 24 GiB,
4 GiB kept for the embedder, Python and the OS) and the time it would take there. The last line
is one JSON object, also written to benchmarks/results/curate_scale.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from harness import check_outputs, emit, environment, in_child, interleave, peak_rss_mb, spread

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "instruct" / "new_codealpaca.json"
DIM, THRESHOLD, DUP_EVERY = 384, 0.95, 10


def planted_rows(n: int, seed: int = 0) -> np.ndarray:
    """(n, DIM) float32 unit rows; every DUP_EVERY-th row is an earlier original plus 1% noise (cos ~0.98)."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n, DIM)).astype(np.float32)
    for i in range(DUP_EVERY - 1, n, DUP_EVERY):
        j = int(rng.integers(0, i))
        j -= (j % DUP_EVERY == DUP_EVERY - 1)  # copy an original, never a copy: no chains near the threshold
        e[i] = e[j] / np.linalg.norm(e[j]) + 0.01 * rng.standard_normal(DIM).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def full_matrix_dedup(emb: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Baseline: the whole (N, N) similarity matrix, then the greedy first-occurrence pass.
    Returns (dropped row, the kept row it duplicates) pairs."""
    sims = emb @ emb.T                       # (N, N) float32: the memory the blockwise pass avoids
    kept = np.zeros(len(emb), dtype=bool)
    drops = []
    for i in range(len(emb)):
        earlier = np.flatnonzero(kept[:i])
        k = int(sims[i, earlier].argmax()) if earlier.size else -1
        if k >= 0 and sims[i, earlier[k]] > threshold:
            drops.append((i, int(earlier[k])))
        else:
            kept[i] = True
    return drops


def child(side: str, n: int) -> None:
    """One measured run in this fresh process: prints {seconds, peak_rss_mb, outputs: ["dropped->of", ...]}."""
    from loralab.curate.dedup import semantic_duplicates  # both sides import it: neither pays alone

    emb = planted_rows(n)
    t0 = time.perf_counter()
    if side == "baseline":
        drops = full_matrix_dedup(emb, THRESHOLD)
    else:
        drops = [(d.row, d.of) for d in semantic_duplicates(emb, THRESHOLD)]
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "rate": 1 / seconds, "peak_rss_mb": peak_rss_mb(),
                      "outputs": [f"{i}->{of}" for i, of in drops]}))


def measure(side: str, n: int) -> dict:
    return in_child(__file__, "--child", side, str(n))


def search_at(n: int, pairs: int, with_baseline: bool) -> dict:
    """Figures of one size: each side's seconds and peak RSS, and (with the baseline) the pairwise ratios."""
    if not with_baseline:
        runs = [measure("loralab", n) for _ in range(pairs)]
        return {"loralab_s": spread([r["seconds"] for r in runs]),
                "loralab_peak_rss_mb": spread([r["peak_rss_mb"] for r in runs], 1), "duplicates": len(runs[-1]["outputs"])}
    runs = interleave(lambda: measure("baseline", n), lambda: measure("loralab", n), pairs)
    for a, b in zip(runs.a, runs.b, strict=True):
        check_outputs(a["outputs"], b["outputs"], 0.0, f"duplicates found at N={n} (dropped->kept row)")
    speed, memory = runs.summary("rate"), runs.summary("peak_rss_mb")
    return {"baseline_s": spread([r["seconds"] for r in runs.a]), "loralab_s": spread([r["seconds"] for r in runs.b]),
            "speedup": speed["ratio"], "baseline_peak_rss_mb": memory["baseline"], "loralab_peak_rss_mb": memory["loralab"],
            "memory_ratio": memory["ratio"], "duplicates": len(runs.b[-1]["outputs"])}


def embed_rate(n: int) -> float:
    from loralab.curate.rows import load_examples
    from loralab.embed import embed

    texts = [x.question for x in load_examples(DATA)[:n]]
    embed(texts[:16])  # load the model and warm up outside the timing
    t0 = time.perf_counter()
    embed(texts, cache=False)
    return len(texts) / (time.perf_counter() - t0)


def bytes_per_row() -> float:
    from loralab.curate.rows import load_examples

    tracemalloc.start()
    rows = load_examples(DATA)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return size / len(rows)


def extrapolate(search: dict, embed_per_s: float, row_bytes: float, budget_gib: float, reserve_gib: float) -> dict:
    """The largest N that fits the budget and the hours it would take (search cost ~ N^2, worst case)."""
    n_big = max(search)
    c = search[n_big]["loralab_s"]["median"] / n_big**2  # seconds per (row x kept row) pair
    per_row = row_bytes + DIM * 4 + 8 + 64  # rows + embedding + kept id + hash digests
    n_max = int((budget_gib - reserve_gib) * 2**30 / per_row)
    return {"budget_gib": budget_gib, "bytes_per_row_total": round(per_row), "max_rows_in_budget": n_max,
            "hours_at_max_embed": round(n_max / embed_per_s / 3600, 1),
            "hours_at_max_search_worst_case": round(c * n_max**2 / 3600, 1),
            "hours_1m_rows_total": round((1e6 / embed_per_s + c * 1e12) / 3600, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-gib", type=float, default=24.0)
    ap.add_argument("--reserve-gib", type=float, default=4.0, help="Kept for the embedder, Python and the OS.")
    ap.add_argument("--sizes", default="5000,20000,50000")
    ap.add_argument("--baseline-max", type=int, default=20000, help="Largest N for the full-matrix baseline.")
    ap.add_argument("--embed-rows", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved (full matrix, blockwise) pairs per size")
    args = ap.parse_args()
    if not DATA.exists():
        raise SystemExit(f"error: needs {DATA}")
    env_start, search = environment(), {}
    for n in (int(s) for s in args.sizes.split(",")):
        search[n] = search_at(n, args.pairs, n <= args.baseline_max)
        print(n, json.dumps(search[n]), file=sys.stderr, flush=True)
    compared = [n for n in search if "speedup" in search[n]]
    figures = {"search": search}
    if compared:  # the headline: the largest size both sides ran
        top = search[max(compared)]
        figures.update(dedup_speedup=top["speedup"]["median"], dedup_speedup_spread=top["speedup"],
                       dedup_memory_ratio=top["memory_ratio"]["median"], dedup_memory_ratio_spread=top["memory_ratio"],
                       compared_rows=max(compared))
    embed_per_s, row_bytes = embed_rate(args.embed_rows), bytes_per_row()
    figures.update(embed_rows_per_s=round(embed_per_s, 1), bytes_per_loaded_row=round(row_bytes),
                   **extrapolate(search, embed_per_s, row_bytes, args.budget_gib, args.reserve_gib),
                   identical_duplicates=bool(compared), threshold=THRESHOLD, dim=DIM, pairs=args.pairs,
                   sizes=list(search), env_start=env_start, env=environment())
    emit("curate_scale", figures)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
