"""The Iterations section: a study whose runs are successive iterations, side by side.

Shown only when the study file says `study.iterations: true` (a matrix whose variants are
steps of one line of work, in order: rank 8 -> 16, then 3 -> 5 epochs); other studies compare
alternatives, for which "what changed since the previous run" means nothing, so their
reports are unchanged. One row per iteration, as a progress note would put it:

    iteration  what changed (vs the previous)   trainable  runtime  train loss (first -> last)  best epoch  pass@1
    it2        adapter.r 8 -> 16; adapter.alpha…   1.15M      1m 02s   2.31 -> 0.88 ▇▆▄▃▂▁         2 (0.912)  33.3% (2/6)

Everything comes from files the runs wrote: config.yaml (the changes), summary.json
(parameters, runtime), metrics.jsonl (the loss rows and the validation loss per evaluation,
from which the best epoch), eval/summary.json (the selected checkpoint's pass@1).
"""

from __future__ import annotations

from loralab.report.blocks import Cell, Para, Section, Table, short_cell
from loralab.report.configs import flatten
from loralab.report.format import DASH, count, duration, pct, pp
from loralab.report.load import RunResult, StudyResults

SPARK = "▁▂▃▄▅▆▇█"
# Keys that differ between any two runs of a study without being a change of recipe.
NOT_CHANGES = ("train.out_dir", "data.prepared")


def changes(before: dict | None, after: dict | None) -> str:
    """'adapter.r 8 → 16; train.epochs 3.0 → 5.0': the settings `after` changed from `before`."""
    if before is None or after is None:
        return DASH
    a, b = flatten(before), flatten(after)
    keys = [k for k in dict.fromkeys([*a, *b]) if k not in NOT_CHANGES and a.get(k) != b.get(k)]
    return "; ".join(f"{k} {a.get(k, DASH)} → {b.get(k, DASH)}" for k in keys) or "nothing"


def sparkline(values: list[float], width: int = 24) -> str:
    """One block character per value (at most `width`, evenly picked, first and last kept), low to high."""
    if not values:
        return ""
    if len(values) > width:
        values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
    lo, span = min(values), max(values) - min(values)
    top = len(SPARK) - 1
    return "".join(SPARK[0 if span == 0 else min(top, int((v - lo) / span * len(SPARK)))] for v in values)


def loss_trend(run: RunResult) -> str:
    """'2.310 → 0.881 ▇▆▄▃▂▁': the logged training loss, first and last, and its shape."""
    losses = [float(m["loss"]) for m in run.metrics if isinstance(m.get("loss"), (int, float))]
    if not losses:
        return DASH
    return f"{losses[0]:.3f} → {losses[-1]:.3f} {sparkline(losses)}"


def best_epoch(run: RunResult) -> str:
    """The epoch whose validation loss was lowest (epoch 0: before training), with that loss."""
    evals = [m for m in run.metrics if isinstance(m.get("val_loss"), (int, float)) and "epoch" in m]
    if not evals:
        return DASH
    best = min(evals, key=lambda m: (m["val_loss"], m.get("step", 0)))  # ties: the earlier one
    return f"{float(best['epoch']):g} (val {best['val_loss']:.3f})"


def _selected(run: RunResult) -> tuple[float | None, str]:
    """(pass@1, 'pass@1 (solved/n)') of the run's selected checkpoint on its report task."""
    best = run.system(run.eval.best.name) if run.eval and run.eval.best else None
    score = best.tasks.get(run.report_task) if best and run.report_task else None
    if score is None:
        return None, DASH
    return score.pass1, f"{pct(score.pass1)} ({score.solved}/{score.n_problems})"


def iterations_section(study: StudyResults) -> Section | None:
    if not study.iterations:
        return None
    headers = ["iteration", "what changed (vs the previous)", "trainable params", "runtime",
               "train loss (first → last)", "best epoch (val loss)", "pass@1 (solved)", "Δ pass@1 vs previous"]
    rows, previous, previous_pass = [], None, None
    for i, run in enumerate(study.runs):
        what = "(first iteration)" if i == 0 else changes(previous.config, run.config)
        pass1, pass_text = _selected(run)
        delta = pass1 - previous_pass if i and pass1 is not None and previous_pass is not None else None
        t = run.train
        rows.append([Cell(run.name, strong=True), short_cell(what, limit=120),
                     Cell(count(t.trainable_params if t else None), num=True),
                     Cell(duration(t.train_runtime if t else None), num=True), Cell(loss_trend(run)),
                     Cell(best_epoch(run), num=True), Cell(pass_text, num=True), Cell(pp(delta), num=True)])
        previous, previous_pass = run, pass1
    note = Para("The runs in the order the study lists them, each compared with the one before: the settings it "
                "changed (from config.yaml), its trainable parameters and training time (summary.json), the "
                "training loss from the first to the last logged step with its shape (metrics.jsonl), the epoch "
                "with the lowest validation loss (0 is before training), and the selected checkpoint's pass@1. "
                "A difference in pass@1 between two iterations is only a difference if the paired test below says "
                "so.", note=True)
    return Section("Iterations", "iterations", [Table(headers, rows, id="iterations-table"), note])
