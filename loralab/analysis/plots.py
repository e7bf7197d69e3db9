"""The report's charts: pass@1 versus training step per task, and loss curves per run.

Pure functions from plain numbers to a PNG file. They use matplotlib's object API
(`Figure` + Agg) rather than pyplot, so no global figure state or GUI backend is touched
and they are safe to call from a CLI, a test or a notebook. Files are written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from loralab.io import atomic_path

# One colour per run, the same in every chart of a report (matplotlib's tab10 cycle).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
DPI = 110


@dataclass
class PassSeries:
    """pass@1 of one run's checkpoints on one task, in step order."""

    steps: list[int]
    pass1: list[float]                 # fractions in [0, 1]
    ci95: list[tuple[float, float] | None]
    best_step: int | None = None       # the checkpoint the study selected, starred
    colour: str = PALETTE[0]           # the run's colour in every chart


@dataclass
class LossCurves:
    """One run's training loss (every logging step) and validation loss (every eval)."""

    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    colour: str = PALETTE[0]


def colour(i: int) -> str:
    """The i-th run's colour (runs keep their index even when some have no data yet)."""
    return PALETTE[i % len(PALETTE)]


def _save(fig: Figure, path: Path) -> Path:
    # The temporary file has no .png suffix, so the format is given explicitly; the
    # Software tag is dropped so the PNG bytes do not change with the matplotlib version.
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return path


def _dodge(series: dict[str, PassSeries]) -> float:
    """A small horizontal shift per run so error bars at the same step do not hide each other."""
    steps = sorted({x for s in series.values() for x in s.steps})
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)]
    return 0.06 * min(gaps) / max(1, len(series) - 1) if gaps else 0.0


def plot_pass1_vs_step(task: str, series: dict[str, PassSeries],
                       base: tuple[float, tuple[float, float] | None] | None, path: Path) -> Path:
    """One line per run (95% CI as error bars), base as a dashed line, the selected checkpoint starred."""
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    if base is not None:
        p, ci = base
        ax.axhline(100 * p, color="black", linestyle="--", linewidth=1.2, label=f"base ({100 * p:.1f}%)")
        if ci:
            ax.axhspan(100 * ci[0], 100 * ci[1], color="black", alpha=0.05, linewidth=0)
    dodge = _dodge(series)
    for i, (run, s) in enumerate(series.items()):
        xs = [x + dodge * (i - (len(series) - 1) / 2) for x in s.steps]
        ys = [100 * p for p in s.pass1]
        ax.plot(xs, ys, marker="o", color=s.colour, label=run)
        if all(s.ci95):  # yerr: (2, n) distances below and above each point
            lo = [y - 100 * c[0] for y, c in zip(ys, s.ci95, strict=True)]
            hi = [100 * c[1] - y for y, c in zip(ys, s.ci95, strict=True)]
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor=s.colour, alpha=0.5, capsize=3)
        if s.best_step in s.steps:
            j = s.steps.index(s.best_step)
            ax.plot([xs[j]], [ys[j]], marker="*", markersize=15, color=s.colour, markeredgecolor="black")
    steps = sorted({x for s in series.values() for x in s.steps})
    if 0 < len(steps) <= 12:
        ax.set_xticks(steps)  # tick exactly the evaluated checkpoints
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training step")
    ax.set_ylabel("pass@1 (%)")
    ax.set_title(f"pass@1 versus step on {task}")
    ax.set_ylim(0, min(ax.get_ylim()[1], 102))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return _save(fig, path)


def plot_losses(curves: dict[str, LossCurves], path: Path) -> Path:
    """Training loss (solid) and validation loss (dashed, markers) per run, one colour each."""
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    for run, c in curves.items():
        if c.train_steps:
            ax.plot(c.train_steps, c.train_loss, color=c.colour, linewidth=1.4, label=f"{run} train")
        if c.val_steps:
            ax.plot(c.val_steps, c.val_loss, color=c.colour, linestyle="--", marker="s",
                    markersize=4, label=f"{run} validation")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("training and validation loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return _save(fig, path)
