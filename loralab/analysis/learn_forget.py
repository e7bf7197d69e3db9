"""Learning versus forgetting ("LoRA learns less and forgets less", Biderman et al. 2024).

For every evaluated checkpoint of a study: the **target gain** (pass@1 on the report task minus
the base's) against the **source change** (the mean over the forgetting tasks of each task's
headline metric, acc_norm or acc, minus the base's). The base sits at the origin; a point up and
to the left learned and forgot, up and to the right learned without forgetting.

Reads `runs/NAME/eval/summary.json` (code tasks) and `runs/NAME/eval_mc/summary.json` (the
multiple-choice suite) only; no model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loralab.errors import LoralabError
from loralab.io import read_json
from loralab.results import CONFIG, SUMMARY, eval_dir, eval_mc_dir


@dataclass(frozen=True)
class LearnForget:
    run: str
    method: str          # lora / dora / full ... from the run's config
    checkpoint: str
    step: int
    target: float        # pass@1 on the target task
    source: float        # mean headline metric of the forgetting tasks
    target_gain: float   # target - base target
    source_change: float  # source - base source (negative = forgotten)
    per_task: dict[str, float]  # forgetting task -> change of its headline metric


def _method(run_dir: Path) -> str:
    import yaml

    path = run_dir / CONFIG
    cfg = yaml.safe_load(path.read_text()) if path.exists() else {}
    return str(((cfg or {}).get("adapter") or {}).get("method") or "?")


def _headline(task: dict) -> float:
    return float(task[task["primary"]])


def run_points(run_dir: Path, target_task: str | None = None) -> list[LearnForget]:
    """The base-relative points of one run (empty when it lacks either evaluation)."""
    code, mc = eval_dir(run_dir) / SUMMARY, eval_mc_dir(run_dir) / SUMMARY
    if not (code.exists() and mc.exists()):
        return []
    ev, fg = read_json(code), read_json(mc)
    task = target_task or ev.get("report_on") or ev.get("select_on")
    code_by = {s["name"]: s for s in ev["systems"] if task in s["tasks"]}
    mc_by = {s["name"]: s for s in fg["systems"]}
    if "base" not in code_by or "base" not in mc_by:
        raise LoralabError(f"{run_dir}: learn-versus-forget needs the base in both eval/ and eval_mc/")
    base_t, base_m = code_by["base"]["tasks"][task]["pass@1"], mc_by["base"]
    points = []
    for name, s in code_by.items():
        if name not in mc_by:
            continue
        m = mc_by[name]
        t = s["tasks"][task]["pass@1"]
        per = {a: _headline(m["tasks"][a]) - _headline(base_m["tasks"][a]) for a in m["tasks"]}
        points.append(LearnForget(run_dir.name, _method(run_dir), name, int(s["step"]), t, float(m["mean_primary"]),
                                  t - base_t, float(m["mean_primary"]) - float(base_m["mean_primary"]), per))
    return sorted(points, key=lambda p: p.step)


def study_points(study_dir: str | Path, target_task: str | None = None) -> list[LearnForget]:
    """Every run's points; the base appears once, as the first row."""
    runs = sorted(p for p in (Path(study_dir) / "runs").iterdir() if p.is_dir())
    points: list[LearnForget] = []
    for run in runs:
        for p in run_points(run, target_task):
            if p.checkpoint == "base" and any(q.checkpoint == "base" for q in points):
                continue
            points.append(p if p.checkpoint != "base" else LearnForget("base", "-", "base", 0, p.target, p.source,
                                                                        0.0, 0.0, {a: 0.0 for a in p.per_task}))
    return points


def table_rows(points: list[LearnForget]) -> list[dict]:
    """Rows for Markdown/CSV: percentages, changes in percentage points."""
    return [{"run": p.run, "method": p.method, "checkpoint": p.checkpoint, "step": p.step,
             "target pass@1 %": round(100 * p.target, 2), "target gain pp": round(100 * p.target_gain, 2),
             "source %": round(100 * p.source, 2), "source change pp": round(100 * p.source_change, 2),
             **{f"{a} change pp": round(100 * v, 2) for a, v in p.per_task.items()}} for p in points]


def plot_learn_forget(points: list[LearnForget], path: Path) -> Path:
    """Target gain (y) against source change (x) per checkpoint; one line per run, base at 0, 0."""
    from matplotlib.figure import Figure

    from loralab.analysis.plots import _save, colour

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.plot([0], [0], marker="o", color="black", markersize=8, label="base")
    runs = [r for r in dict.fromkeys(p.run for p in points) if r != "base"]
    for i, run in enumerate(runs):
        mine = [p for p in points if p.run == run]
        xs, ys = [0.0] + [100 * p.source_change for p in mine], [0.0] + [100 * p.target_gain for p in mine]
        ax.plot(xs, ys, marker="o", color=colour(i), label=f"{run} ({mine[0].method})")
        for p, x, y in zip(mine, xs[1:], ys[1:], strict=True):
            ax.annotate(str(p.step), (x, y), textcoords="offset points", xytext=(4, 4), fontsize="x-small")
    ax.set_xlabel("source change: mean of the forgetting tasks (pp)")
    ax.set_ylabel("target gain: pass@1 (pp)")
    ax.set_title("learning versus forgetting (base at the origin; labels: step)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return _save(fig, path)


def write_learn_forget(study_dir: str | Path, out_dir: str | Path | None = None,
                       target_task: str | None = None) -> tuple[Path, list[dict]]:
    """learn_forget.csv, learn_forget.md and learn_forget.png in out_dir (default: the study)."""
    import csv
    import io

    from loralab.io import write_text

    points = study_points(study_dir, target_task)
    if not points:
        raise LoralabError(f"{study_dir}: no run has both eval/summary.json and eval_mc/summary.json; add forgetting "
                           "tasks (e.g. arc_challenge, hellaswag) to eval.tasks")
    out = Path(out_dir or study_dir)
    rows = table_rows(points)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "learn_forget.csv", buf.getvalue())
    head = list(rows[0])
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    write_text(out / "learn_forget.md", "\n".join(md) + "\n")
    plot_learn_forget(points, out / "learn_forget.png")
    return out, rows
