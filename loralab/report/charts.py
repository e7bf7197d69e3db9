"""The report's figures: pass@1 per step, loss curves, learning against forgetting (PNGs in STUDY_DIR/figures/)."""

from __future__ import annotations

from pathlib import Path

from loralab.report.blocks import Image, Para, Section, Table, short_cell, slug
from loralab.report.format import DASH
from loralab.report.load import StudyResults, task_names
from loralab.report.summary import base_system


def _pass_series(study: StudyResults, task: str):
    from loralab.analysis.plots import PassSeries, colour

    series = {}
    for i, run in enumerate(study.runs):
        pts = sorted((s for s in (run.eval.systems if run.eval else []) if s.name != "base" and task in s.tasks),
                     key=lambda s: s.step)
        if pts:
            best = run.eval.best.step if run.eval.best else None
            series[run.name] = PassSeries([s.step for s in pts], [s.tasks[task].pass1 for s in pts],
                                          [s.tasks[task].ci95 for s in pts], best_step=best, colour=colour(i))
    return series


def _loss_curves(study: StudyResults):
    from loralab.analysis.plots import LossCurves, colour

    curves = {}
    for i, run in enumerate(study.runs):
        c = LossCurves(colour=colour(i))
        for row in run.metrics:
            if row.get("loss") is not None and row.get("step") is not None:
                c.train_steps.append(row["step"])
                c.train_loss.append(row["loss"])
            if row.get("val_loss") is not None and row.get("step") is not None:
                c.val_steps.append(row["step"])
                c.val_loss.append(row["val_loss"])
        if c.train_steps or c.val_steps:
            curves[run.name] = c
    return curves


def charts_section(study: StudyResults, fig_dir: Path) -> Section:
    from loralab.analysis.plots import plot_losses, plot_pass1_vs_step

    blocks: list = []
    base = base_system(study)
    for task in task_names(study):
        bt = base.tasks.get(task) if base else None
        path = plot_pass1_vs_step(task, _pass_series(study, task), (bt.pass1, bt.ci95) if bt else None,
                                  fig_dir / f"pass1_{slug(task)}.png")
        blocks.append(Image(path, f"pass@1 versus training step on {task}, one line per run, base dashed"))
    if not blocks:
        blocks.append(Para(f"{DASH} no evaluation results yet, so no pass@1 chart.", note=True))
    curves = _loss_curves(study)
    if curves:
        blocks.append(Image(plot_losses(curves, fig_dir / "loss.png"), "training and validation loss per run"))
    missing = [r.name for r in study.runs if r.name not in curves]
    if missing:
        blocks.append(Para(f"No metrics.jsonl yet for: {', '.join(missing)} (loss curve {DASH}).", note=True))
    blocks.insert(0, Para("Error bars are 95% confidence intervals (runs are shifted sideways a little so they "
                          "do not hide each other); a star marks the checkpoint selected as best; the dashed line "
                          "and grey band are the base model before fine-tuning and its interval."))
    return Section("pass@1 versus step, and loss curves", "charts", blocks)


def learn_forget_section(study: StudyResults, fig_dir: Path) -> Section | None:
    """Target gain against forgetting per checkpoint (only when runs have eval_mc/ results)."""
    from loralab.analysis.learn_forget import plot_learn_forget, study_points, table_rows

    points = study_points(study.dir)
    if not points:
        return None
    rows = table_rows(points)
    headers = list(rows[0])
    cells = [[short_cell(str(r[h]), num=not isinstance(r[h], str), strong=h == "run") for h in headers] for r in rows]
    note = Para("Target gain: pass@1 on the report task minus the base's; source change: the mean over the "
                "forgetting tasks of each one's headline metric (acc_norm, or acc) minus the base's, in percentage "
                "points. Up is learning, left is forgetting; the base is the origin.")
    image = Image(plot_learn_forget(points, fig_dir / "learn_forget.png"), "target gain against source change per checkpoint")
    return Section("Learning versus forgetting", "learn-forget", [note, Table(headers, cells, id="learn-forget-table"), image])
