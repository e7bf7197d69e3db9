"""Judge rates on hand-made verdict tables, every figure computed by hand in the comments."""

from __future__ import annotations

import math
import random

import pytest

from loralab.analysis.judge_stats import (
    Judged,
    alpaca_eval_stats,
    fit_logistic,
    judged_from_rows,
    lc_win_rate,
    lc_win_rate_loralab_logistic,
    mt_bench_stats,
    position_consistency,
)
from loralab.errors import LoralabError

# (model_first, model_second) -> outcome under the both-orders-agree rule
TABLE = [
    Judged("1", "model", "model", 100, 80),   # win
    Judged("2", "base", "base", 50, 90),      # loss
    Judged("3", "model", "base", 70, 70),     # orders disagree -> tie
    Judged("4", "tie", "tie", 40, 40),        # tie
    Judged("5", "model", "tie", 30, 60),      # one order ties -> tie
    Judged("6", None, "model", 999, 1),       # unparseable: out of every rate
]


def test_outcome_rule():
    assert [j.outcome for j in TABLE] == ["model", "base", "tie", "tie", "tie", None]


def test_alpaca_eval_counts_and_rates():
    s = alpaca_eval_stats(TABLE)
    assert (s["n_wins"], s["n_wins_base"], s["n_draws"], s["n_total"], s["n_unparseable"]) == (1, 1, 3, 5, 1)
    # scores 1, 0, .5, .5, .5 -> mean .5; sd (ddof=1) = sqrt(.5/4); se = sd/sqrt(5)
    assert s["win_rate"] == pytest.approx(50.0)
    assert s["discrete_win_rate"] == pytest.approx(50.0)
    assert s["standard_error"] == pytest.approx(100 * math.sqrt(0.125 / 5))  # 15.811
    assert s["avg_length"] == pytest.approx((100 + 50 + 70 + 40 + 30) / 5)  # 58, the unparseable 999 left out


def test_alpaca_eval_three_wins_one_loss():
    table = [Judged(str(i), "model", "model") for i in range(3)] + [Judged("x", "base", "base")]
    s = alpaca_eval_stats(table)
    assert s["win_rate"] == pytest.approx(75.0)
    assert s["standard_error"] == pytest.approx(100 * 0.5 / 2)  # sd of 1,1,1,0 is .5; / sqrt(4)


def test_empty_and_all_unparseable_give_nan_not_crash():
    s = alpaca_eval_stats([Judged("1", None, None)])
    assert s["n_total"] == 0 and s["n_unparseable"] == 1 and math.isnan(s["win_rate"])
    assert math.isnan(mt_bench_stats([])["win_rate"])


def test_lc_equals_win_rate_when_lengths_are_equal():
    # x = 0 for every pair, so the fit is the intercept alone: sigmoid(a) = mean preference
    table = [Judged(str(i), "model", "model", 10, 10) for i in range(30)] + \
            [Judged(f"b{i}", "base", "base", 10, 10) for i in range(10)]
    assert lc_win_rate_loralab_logistic(table) == pytest.approx(75.0, abs=0.1)  # ridge pulls < .1 pp


def test_lc_removes_a_pure_length_preference():
    # A judge that prefers longer answers and nothing else (true intercept 0), shown a model that
    # is usually longer: the raw win rate is well above 50, the length-controlled one near 50.
    rng = random.Random(0)
    table = []
    for i in range(3000):
        d = rng.gauss(80, 100)  # model answers ~80 characters longer on average
        p = 1 / (1 + math.exp(-3 * math.tanh(d / 100)))
        win = rng.random() < p
        table.append(Judged(str(i), *(("model", "model") if win else ("base", "base")), int(300 + d), 300))
    s = alpaca_eval_stats(table)
    assert s["win_rate"] > 70
    assert abs(s["lc_win_rate_loralab_logistic"] - 50) < 4 and "length_controlled_win_rate" not in s


def test_fit_logistic_matches_sklearn_on_soft_labels():
    from sklearn.linear_model import LogisticRegression

    x = [-1.0, -0.5, -0.2, 0.0, 0.3, 0.6, 0.9, -0.8]
    y = [0.0, 0.5, 1.0, 0.5, 0.0, 1.0, 1.0, 0.5]
    a, b = fit_logistic(x, y, ridge=0.0)
    # a soft label y is a row with label 1 and weight y plus a row with label 0 and weight 1-y
    xs = [[v] for v in x] * 2
    labels = [1] * len(x) + [0] * len(x)
    weights = y + [1 - v for v in y]
    ref = LogisticRegression(C=math.inf, tol=1e-10, max_iter=1000).fit(xs, labels, sample_weight=weights)
    assert a == pytest.approx(ref.intercept_[0], abs=1e-5)
    assert b == pytest.approx(ref.coef_[0][0], abs=1e-5)


def test_lc_stays_finite_when_the_model_wins_everything():
    table = [Judged(str(i), "model", "model", 10 + i, 10) for i in range(20)]
    assert 95 < lc_win_rate_loralab_logistic(table) <= 100


def test_mt_bench_rates_overall_and_per_turn():
    table = [
        Judged("81", "model", "model", turn=1),  # win
        Judged("81", "model", "base", turn=2),   # tie (disagree)
        Judged("82", "base", "base", turn=1),    # loss
        Judged("82", "model", "model", turn=2),  # win
        Judged("83", "tie", "tie", turn=1),      # tie
        Judged("83", None, "base", turn=2),  # unparseable
    ]
    s = mt_bench_stats(table)
    assert (s["win"], s["loss"], s["tie"], s["n"], s["n_unparseable"]) == (2, 1, 2, 5, 1)
    assert s["win_rate"] == pytest.approx(2 / 5)
    assert s["loss_rate"] == pytest.approx(1 / 5)
    assert s["win_rate_adjusted"] == pytest.approx((2 + 2 / 2) / 5)
    assert s["turn_1"] == {"win": 1, "loss": 1, "tie": 1, "n": 3, "n_unparseable": 0,
                           "win_rate": pytest.approx(1 / 3), "loss_rate": pytest.approx(1 / 3),
                           "win_rate_adjusted": pytest.approx(0.5)}
    assert (s["turn_2"]["win"], s["turn_2"]["tie"], s["turn_2"]["n_unparseable"]) == (1, 1, 1)
    assert s["turn_2"]["win_rate_adjusted"] == pytest.approx(0.75)


def test_position_consistency():
    assert position_consistency(TABLE) == pytest.approx(3 / 5)  # rows 1, 2, 4 agree


def test_rows_round_trip_and_bad_rows_are_named():
    rows = [{"id": 1, "model_first": "model", "model_second": None, "len_model": 5, "len_base": 3, "turn": 2}]
    assert judged_from_rows(rows) == [Judged("1", "model", None, 5, 3, 2)]
    with pytest.raises(LoralabError, match=r"v.jsonl: row 2: model_first='A'"):
        judged_from_rows(rows + [{"id": 2, "model_first": "A", "model_second": "tie"}], "v.jsonl")
    with pytest.raises(LoralabError, match="row 1: missing key 'id'"):
        judged_from_rows([{"model_first": "tie", "model_second": "tie"}])


def test_lc_reads_the_key_of_results_written_before_the_rename():
    assert lc_win_rate({"length_controlled_win_rate": 61.5}) == 61.5  # results.json of an older loralab
    assert lc_win_rate({"lc_win_rate_loralab_logistic": 48.0}) == 48.0
