"""How large a dataset `loralab curate dedup` handles on one machine, and how long it takes.

Measures, in one run:
  * embedding throughput of the default embedder on real CodeAlpaca questions (rows/s);
  * semantic search: the blockwise greedy pass against the baseline that builds the full
    N x N similarity matrix, time and peak array memory, on random unit vectors (worst case:
    nothing is a duplicate, so every row stays in the kept set);
  * memory per loaded row (the dataset itself is held in memory as Python dicts);
then extrapolates the largest N whose rows + embeddings fit in a memory budget (default 24 GiB,
4 GiB kept for the embedder, Python and the OS) and the time it would take there.

Run: .venv/bin/python benchmarks/curate_scale.py [--budget-gib 24] [--sizes 5000,20000,50000]
Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "instruct" / "new_codealpaca.json"


def unit_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    e = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def full_matrix_dedup(emb: np.ndarray, threshold: float) -> int:
    """Baseline: the whole (N, N) similarity matrix, then the same greedy first-occurrence pass."""
    sims = emb @ emb.T                       # (N, N) float32: the memory the blockwise pass avoids
    kept = np.zeros(len(emb), dtype=bool)
    dropped = 0
    for i in range(len(emb)):
        if kept[:i].any() and sims[i, :i][kept[:i]].max() > threshold:
            dropped += 1
        else:
            kept[i] = True
    return dropped


def measure(fn, *args) -> tuple[float, float]:
    """(seconds, peak traced MiB) of fn(*args)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    fn(*args)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def embed_rate(n: int) -> float:
    from loralab.curate.rows import load_examples
    from loralab.embed import embed

    texts = [x.question for x in load_examples(DATA)[:n]]
    embed(texts[:16])  # load the model and warm up outside the timing
    t0 = time.perf_counter()
    embed(texts, cache=False)
    return n / (time.perf_counter() - t0)


def bytes_per_row() -> float:
    from loralab.curate.rows import load_examples

    tracemalloc.start()
    rows = load_examples(DATA)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return size / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-gib", type=float, default=24.0)
    ap.add_argument("--reserve-gib", type=float, default=4.0, help="Kept for the embedder, Python and the OS.")
    ap.add_argument("--sizes", default="5000,20000,50000")
    ap.add_argument("--baseline-max", type=int, default=20000, help="Largest N for the full-matrix baseline.")
    ap.add_argument("--embed-rows", type=int, default=1000)
    args = ap.parse_args()
    from loralab.curate.dedup import semantic_duplicates

    d, out = 384, {"cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    search = {}
    for n in (int(s) for s in args.sizes.split(",")):
        emb = unit_rows(n, d)
        t, peak = measure(semantic_duplicates, emb.copy(), 0.95)
        row = {"blockwise_s": round(t, 2), "blockwise_peak_mib": round(peak, 1)}
        if n <= args.baseline_max:
            tb, pb = measure(full_matrix_dedup, emb, 0.95)
            row.update(full_matrix_s=round(tb, 2), full_matrix_peak_mib=round(pb, 1))
        search[n] = row
        print(n, row, flush=True)
    out["search"] = search
    n_big = max(search)
    c = search[n_big]["blockwise_s"] / n_big**2          # seconds per (row x kept row) pair, worst case
    out["embed_rows_per_s"] = round(embed_rate(args.embed_rows), 1)
    out["bytes_per_loaded_row"] = round(bytes_per_row())
    per_row = out["bytes_per_loaded_row"] + d * 4 + 8 + 64  # rows + embedding + kept id + hash digests
    n_max = int((args.budget_gib - args.reserve_gib) * 2**30 / per_row)
    out.update(budget_gib=args.budget_gib, bytes_per_row_total=per_row, max_rows_in_budget=n_max,
               hours_at_max_embed=round(n_max / out["embed_rows_per_s"] / 3600, 1),
               hours_at_max_search_worst_case=round(c * n_max**2 / 3600, 1),
               hours_1m_rows_total=round((1e6 / out["embed_rows_per_s"] + c * 1e12) / 3600, 1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
