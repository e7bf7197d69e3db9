"""The report's judge section: each run's judged checkpoint against the base, beside its pass@1.

Only studies with a `judge:` stage have runs/NAME/judge/summary.json; for the others this
section is absent and the report is byte for byte what it was before the stage existed.
"""

from __future__ import annotations

import math

from loralab.analysis.judge_stats import LC_KEY, OLD_LC_KEY
from loralab.report.blocks import Cell, Para, Section, Table
from loralab.report.format import DASH, pct
from loralab.report.load import RunResult, StudyResults


def _rate(x) -> str:
    """A percentage already in 0..100 (AlpacaEval's scale); NaN (no parseable pair) is a dash."""
    return DASH if not isinstance(x, (int, float)) or math.isnan(x) else f"{x:.1f}"


def _frac(x) -> str:
    """A fraction in 0..1 (MT-Bench's scale, as FastChat prints it)."""
    return DASH if not isinstance(x, (int, float)) or math.isnan(x) else f"{x:.3f}"


def _pass1(run: RunResult, step: int | None) -> str:
    """pass@1 on the report task of the judged checkpoint, when the evaluation scored it."""
    system = next((s for s in (run.eval.systems if run.eval else []) if s.step == step), None)
    score = system.tasks.get(run.report_task) if system and run.report_task else None
    return f"{pct(score.pass1)} ({score.solved}/{score.n_problems})" if score else DASH


def _row(run: RunResult, set_name: str, stats: dict) -> list[Cell]:
    a, m = stats.get("alpaca_eval", {}), stats.get("mt_bench", {})
    judge = run.judge
    se = _rate(a.get("standard_error"))
    lc = _rate(a.get(LC_KEY, a.get(OLD_LC_KEY)))
    return [Cell(run.name, strong=True), Cell(f"{judge.checkpoint} ({judge.selected_by})", cls="id"),
            Cell(set_name), Cell(str(a.get("n_total", DASH)), num=True),
            Cell(f"{_rate(a.get('win_rate'))} ± {se}", num=True), Cell(lc, num=True),
            Cell(f"{m.get('win', DASH)}/{m.get('loss', DASH)}/{m.get('tie', DASH)}", num=True),
            Cell(_frac(m.get("win_rate_adjusted")), num=True), Cell(str(a.get("n_unparseable", DASH)), num=True),
            Cell(_frac(stats.get("position_consistency")), num=True), Cell(_pass1(run, judge.step), num=True)]


def judge_section(study: StudyResults) -> Section | None:
    runs = [r for r in study.runs if r.judge is not None]
    if not runs:
        return None
    judges = sorted({f"{r.judge.judge_model} at {r.judge.judge_endpoint}" for r in runs})
    headers = ["run", "checkpoint", "set", "pairs", "win rate ± SE", "LC win rate (loralab)", "W/L/T",
               "win_rate_adjusted", "unparseable", "position consistency", "pass@1 of that checkpoint"]
    rows = [_row(r, name, s.results) for r in runs for name, s in r.judge.sets.items()]
    why = ("Each run's checkpoint (model) and the base model answer the same instructions greedily; the judge "
           f"({'; '.join(judges)}) sees every pair twice with the answers' positions swapped, and a win counts only "
           "when both orders agree (FastChat's MT-Bench rule), any disagreement is a tie. Win rate (AlpacaEval's "
           "formula: ties count one half) and its standard error are percentages over the parseable pairs; W/L/T and "
           "win_rate_adjusted = (W + T/2)/N are MT-Bench's, over pairs and turns. The LC win rate is loralab's "
           "two-parameter logistic fit at zero length difference, not AlpacaEval 2's (see docs/judges.md). A win "
           "rate of 50 means no preference.")
    return Section("Pairwise judge versus the base", "judge", [Table(headers, rows, id="judge-table"), Para(why, note=True)])
