"""The report's judge section, on the hand-built study of test_report.py plus a judge/summary.json.

Without a judge stage the section is absent (test_report_golden.py holds those reports byte for byte)."""

from __future__ import annotations

import math

from test_report import SOLVED, TASKS, write_fake_study  # sibling module: the hand-built two-run study

from loralab.io import write_json
from loralab.report import write_report


def judge_summary(step: int) -> dict:
    alpaca = {"win_rate": 62.5, "standard_error": 12.5, "n_wins": 5, "n_wins_base": 2, "n_draws": 1, "n_total": 8,
              "n_unparseable": 1, "discrete_win_rate": 62.5, "avg_length": 410.0, "lc_win_rate_loralab_logistic": 60.14}
    mt = {"win": 5, "loss": 2, "tie": 1, "n": 8, "n_unparseable": 1, "win_rate": 0.625, "loss_rate": 0.25,
          "win_rate_adjusted": 0.6875}
    one = {"alpaca_eval": alpaca, "mt_bench": mt, "position_consistency": 0.75}
    two = {"alpaca_eval": {**alpaca, "win_rate": math.nan, "standard_error": math.nan, "n_total": 0,
                           "n_unparseable": 4, "lc_win_rate_loralab_logistic": math.nan},
           "mt_bench": {**mt, "win": 0, "loss": 0, "tie": 0, "n": 0, "win_rate_adjusted": math.nan},
           "position_consistency": math.nan}
    return {"checkpoint": f"checkpoint-{step}", "step": step, "selected_by": "selected", "judge_endpoint": "local",
            "judge_model": "smollm2-135m-instruct",
            "sets": {"alpaca_eval": {"instructions": "alpaca_eval.jsonl", "results": one},
                     "mt_bench_question": {"instructions": "mt_bench_question.jsonl", "results": two}}}


def test_judge_section_sits_after_pass1_with_every_rate(tmp_path):
    root = write_fake_study(tmp_path / "quickstart")
    write_json(root / "runs" / "r8" / "judge" / "summary.json", judge_summary(20))  # r16 was not judged
    md, page = write_report(root)
    text = md.read_text()
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[:2] == ["## Best checkpoint per run", "## Pairwise judge versus the base"]
    rows = [line for line in text.split("## Pairwise judge versus the base")[1].split("\n## ")[0].splitlines()
            if line.startswith("| **")]
    assert len(rows) == 2 and all(line.startswith("| **r8** | checkpoint-20 (selected) |") for line in rows)
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[2:10] == ["alpaca_eval", "8", "62.5 ± 12.5", "60.1", "5/2/1", "0.688", "1", "0.750"]
    solved, n = len(SOLVED["r8"][20]["pytasks"]), TASKS["pytasks"]  # the fake study reports on pytasks
    assert cells[10] == f"{100 * solved / n:.1f}% ({solved}/{n})"  # the judged checkpoint's pass@1 beside it
    nothing = [c.strip() for c in rows[1].strip("|").split("|")]
    assert nothing[3:8] == ["0", "— ± —", "—", "0/0/0", "—"]  # no parseable pair: dashes, never "nan"
    assert "smollm2-135m-instruct at local" in text and "not AlpacaEval 2's" in text
    assert 'id="judge-table"' in page.read_text()
