"""The table `loralab eval` prints: one row per system, pass@k and solved N/M per task."""

from __future__ import annotations

from pathlib import Path

from loralab import results
from loralab.io import read_json


def render_eval_summary(eval_dir: str | Path) -> str:
    path = Path(eval_dir) / results.SUMMARY
    summary = results.parse(results.EvalSummary, read_json(path), path)
    tasks = sorted({t for s in summary.systems for t in s.tasks})
    best = summary.best.name if summary.best else None
    lines = [f"{'system':<18}{'step':>6}  " + "  ".join(f"{t:<34}" for t in tasks)]
    for s in summary.systems:
        cells = []
        for t in tasks:
            r = s.tasks.get(t)
            if r is None:
                cells.append(f"{'—':<34}")
                continue
            ks = " ".join(f"p@{k}={v:.3f}" for k, v in r.pass_at_k.items() if k != "1")
            lo, hi = r.ci95 or (float("nan"), float("nan"))
            cells.append(f"{r.pass1:.3f} [{lo:.2f},{hi:.2f}] {r.solved}/{r.n_problems} {ks}".ljust(34))
        mark = " *" if s.name == best else ""
        lines.append(f"{s.name + mark:<18}{s.step:>6}  " + "  ".join(cells))
    lines.append(f"pass@1 [95% CI] solved/total; * = best checkpoint by pass@1 on {summary.select_on}")
    lines.append(f"written to {Path(eval_dir).resolve()}")
    return "\n".join(lines)
