"""Holm's correction over the comparisons of one study: one family per task."""

from __future__ import annotations

import pytest

from loralab.analysis.compare import add_holm, compare_pair


def test_holm_families_are_per_task_and_raw_p_is_kept():
    rows = [{"task": "pytasks", "mcnemar_p": 0.01}, {"task": "pytasks", "mcnemar_p": 0.04},
            {"task": "pytasks", "mcnemar_p": 0.03}, {"task": "humaneval", "mcnemar_p": 0.04},
            {"task": "humaneval", "mcnemar_p": None}]
    add_holm(rows)
    # pytasks: sorted .01 .03 .04 x 3 2 1 -> .03 .06 .06 (monotone); humaneval: one test, unchanged
    assert [r.get("mcnemar_p_holm") for r in rows] == pytest.approx([0.03, 0.06, 0.06, 0.04, None])
    assert [r.get("holm_m") for r in rows] == [3, 3, 3, 1, None]
    assert [r["mcnemar_p"] for r in rows[:4]] == [0.01, 0.04, 0.03, 0.04]


def test_compare_pair_counts_and_mcnemar():
    a = {f"t/{i}": [i < 5] for i in range(10)}
    b = {f"t/{i}": [i < 9] for i in range(10)}
    row = compare_pair("base", a, "r8", b, "t", "base", "checkpoint-2")
    assert (row["only_a"], row["only_b"], row["n"]) == (0, 4, 10)
    assert row["mcnemar_p"] == pytest.approx(2 / 16) and row["delta_pass1"] == pytest.approx(0.4)
