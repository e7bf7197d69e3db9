"""Paired comparisons between evaluated runs, from their saved per-sample records.

Each run is represented by its selected checkpoint (summary.json's `best`) on the report
task; the base model by its own records. Two systems are compared on the problems both
answered: per problem, "solved" is the first sample passing (greedy decoding gives one
sample), which makes the McNemar exact test on discordant problems the right paired test;
the bootstrap CI is over problems for the difference of per-problem pass@1 estimates.

All comparisons of one study on one task form one family of tests (with `compare: all`, K
runs give K + K(K-1)/2 of them): each row keeps its raw McNemar p and gets the Holm-adjusted
p over its family (`mcnemar_p_holm`, family size `holm_m`); verdicts read the adjusted one.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

from loralab.io import read_json, read_jsonl
from loralab.results import SAMPLES, SUMMARY, EvalSummary, parse


def per_problem(eval_dir: Path, system: str, task: str) -> dict[str, list[bool]]:
    """task_id -> pass flags of every sample of `system` on `task`."""
    out: dict[str, list[bool]] = defaultdict(list)
    for r in read_jsonl(eval_dir / SAMPLES):
        if r["system"] == system and r["task"] == task:
            out[r["task_id"]].append(bool(r["passed"]))
    return dict(out)


def compare_pair(a_name: str, a: dict[str, list[bool]], b_name: str, b: dict[str, list[bool]],
                 task: str, a_system: str, b_system: str, seed: int = 0) -> dict:
    """One comparisons.json row: counts, McNemar exact p, delta pass@1 and its bootstrap CI."""
    from loralab.analysis.stats import mcnemar_exact, paired_bootstrap_ci

    ids = sorted(set(a) & set(b))
    sa = [a[i][0] for i in ids]
    sb = [b[i][0] for i in ids]
    only_a = sum(x and not y for x, y in zip(sa, sb, strict=False))
    only_b = sum(y and not x for x, y in zip(sa, sb, strict=False))
    pa = [sum(a[i]) / len(a[i]) for i in ids]
    pb = [sum(b[i]) / len(b[i]) for i in ids]
    n = len(ids)
    return {"a": a_name, "b": b_name, "task": task, "a_system": a_system, "b_system": b_system, "n": n,
            "a_solved": sum(sa), "b_solved": sum(sb), "both": sum(x and y for x, y in zip(sa, sb, strict=False)),
            "only_a": only_a, "only_b": only_b, "mcnemar_p": mcnemar_exact(only_a, only_b),
            "delta_pass1": (sum(pb) - sum(pa)) / n if n else 0.0,
            "bootstrap_ci95": list(paired_bootstrap_ci(pa, pb, seed=seed)) if n else [0.0, 0.0]}


def add_holm(rows: list[dict]) -> list[dict]:
    """Set `mcnemar_p_holm` and `holm_m` on every row with a McNemar p, one Holm family per task."""
    from loralab.analysis.stats import holm

    families: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("mcnemar_p") is not None:
            families[row["task"]].append(row)
    for family in families.values():
        for row, adjusted in zip(family, holm([r["mcnemar_p"] for r in family]), strict=True):
            row["mcnemar_p_holm"], row["holm_m"] = adjusted, len(family)
    return rows


def compare_runs(eval_dirs: dict[str, Path], mode: str = "base") -> list[dict]:
    """Every run's best checkpoint vs base; with mode 'all' also every pair of runs; Holm-adjusted per task."""
    picked = {}
    for name, d in eval_dirs.items():
        summary = parse(EvalSummary, read_json(d / SUMMARY), d / SUMMARY)
        picked[name] = (d, summary.best.name if summary.best else "base", summary.report_on or summary.select_on)
    rows = []
    for name, (d, system, task) in picked.items():
        base = per_problem(d, "base", task)
        if base:
            rows.append(compare_pair("base", base, name, per_problem(d, system, task), task, "base", system))
    if mode == "all":
        for (n1, (d1, s1, t1)), (n2, (d2, s2, _)) in itertools.combinations(picked.items(), 2):
            rows.append(compare_pair(n1, per_problem(d1, s1, t1), n2, per_problem(d2, s2, t1), t1, s1, s2))
    return add_holm(rows)
