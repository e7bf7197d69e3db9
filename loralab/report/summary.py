"""The best checkpoint per run against the base: the rows behind the report's first table and `loralab report`'s terminal table."""

from __future__ import annotations

import io
from pathlib import Path

from loralab.report.format import DASH, ci_text, p_text, pct
from loralab.report.load import RunResult, StudyResults, load_study
from loralab.results import Comparison, SystemScore


def base_system(study: StudyResults) -> SystemScore | None:
    return next((s for r in study.runs if r.eval for s in r.eval.systems if s.name == "base"), None)


def _comparison(study: StudyResults, a: str, b: str, task: str | None) -> Comparison | None:
    return next((c for c in study.comparisons or [] if c.a == a and c.b == b and c.task == task), None)


def summary_row(study: StudyResults, run: RunResult) -> dict:
    task = run.report_task
    base = run.system("base") or base_system(study)
    best = run.system(run.eval.best.name) if run.eval and run.eval.best else None
    bs, ts = (best.tasks.get(task) if best else None), (base.tasks.get(task) if base else None)
    comp = _comparison(study, "base", run.name, task)
    note = ("no eval/summary.json yet" if not run.eval else
            "no checkpoint selected yet" if not best else
            "" if comp else "no paired test vs base in comparisons.json")
    return {"run": run.name, "best": best.name if best else None, "step": best.step if best else None,
            "task": task, "base_pass1": ts.pass1 if ts else None, "best_pass1": bs.pass1 if bs else None,
            "delta": bs.pass1 - ts.pass1 if bs and ts else None, "solved": bs.solved if bs else None,
            "n_problems": bs.n_problems if bs else None, "ci95": list(bs.ci95) if bs and bs.ci95 else None,
            "p_value": comp.mcnemar_p if comp else None, "p_holm": comp.mcnemar_p_holm if comp else None,
            "note": note}


def summary_table(study_dir: str | Path) -> list[dict]:
    """Per run: best checkpoint, pass@1 of base and best on the report task, solved N/M, CI, p vs base (raw, Holm)."""
    study = load_study(study_dir)
    return [summary_row(study, run) for run in study.runs]


# Two-line headers keep the table inside an 80-column terminal.
SUMMARY_HEADERS = ["run", "best\ncheckpoint", "task", "base\npass@1", "best\npass@1", "Δ\n(pp)", "solved",
                   "95% CI\n(%)", "p vs\nbase", "Holm\np"]


TASK_COLUMN = SUMMARY_HEADERS.index("task")


def summary_cells(row: dict) -> list[str]:
    """One summary row as text: pass@1 in %, Δ in percentage points, p from McNemar's exact test, raw and Holm."""
    solved = f"{row['solved']}/{row['n_problems']}" if row["solved"] is not None else DASH
    delta = DASH if row["delta"] is None else f"{100 * row['delta']:+.1f}"
    return [row["run"], row["best"] or DASH, row["task"] or DASH, pct(row["base_pass1"]), pct(row["best_pass1"]),
            delta, solved, ci_text(row["ci95"]), p_text(row["p_value"]), p_text(row.get("p_holm"))]


def summary_rich_table(rows: list[dict]):
    """The summary as a rich Table (coloured in a terminal); a task all runs share goes in the title."""
    from rich import box
    from rich.table import Table

    tasks = {row["task"] for row in rows}
    shared = tasks.pop() if len(tasks) == 1 and None not in tasks else None
    on = f" on {shared}" if shared else ""
    table = Table(title=f"best checkpoint per run{on} (McNemar p vs base, raw and Holm)",
                  title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), pad_edge=False, collapse_padding=True)
    keep = [i for i in range(len(SUMMARY_HEADERS)) if not (shared and i == TASK_COLUMN)]
    for i in keep:
        table.add_column(SUMMARY_HEADERS[i], justify="left" if i <= TASK_COLUMN else "right", no_wrap=True)
    for row in rows:
        cells = summary_cells(row)
        table.add_row(*(cells[i] for i in keep))
    return table


def render_summary(study_dir: str | Path) -> str:
    """The summary table as plain text (what `make demo` prints at the end)."""
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=140, color_system=None, force_terminal=False).print(
        summary_rich_table(summary_table(study_dir)))
    return buf.getvalue()
