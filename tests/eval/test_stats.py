"""Bootstrap CIs over problems and the paired tests, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from loralab.analysis.stats import (
    bootstrap_ci,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_bootstrap_ci,
    paired_bootstrap_p,
    smallest_significant_difference,
)


@pytest.mark.parametrize(("b", "c", "expected"), [
    (0, 0, 1.0),
    (0, 5, 2 / 32),                   # 2 * 0.5^5
    (1, 9, 2 * (1 + 10) / 1024),      # 2 * P(X <= 1), X ~ Bin(10, 1/2)
    (4, 4, 1.0),                      # 2 * P(X <= 4 | n=8) > 1, capped
    (2, 6, 2 * (1 + 8 + 28) / 256),
])
def test_mcnemar_exact_hand_computed(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected)
    assert mcnemar_exact(c, b) == pytest.approx(expected)  # symmetric


def test_mcnemar_exact_matches_scipy_binomial_test():
    from scipy.stats import binomtest

    for b, c in [(3, 11), (7, 8), (0, 12), (20, 41)]:
        assert mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_mcnemar_14_of_41_vs_18_of_41_example():
    # 14/41 vs 18/41 where 12 are solved by both: discordant 2 vs 6 -> not distinguishable
    assert mcnemar_exact(2, 6) == pytest.approx(0.2890625)


@pytest.mark.parametrize(("raw", "adjusted"), [
    # sorted .005 .01 .03 .04 -> x4 x3 x2 x1 = .02 .03 .06 .04 -> monotone .02 .03 .06 .06
    ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
    ([0.3, 0.6], [0.6, 0.6]),              # .6 x 1 stays .6: never below the step before
    ([0.5, 0.9], [1.0, 1.0]),              # 2 x .5 = 1; capped at 1
    ([0.02, 0.02, 0.5], [0.06, 0.06, 0.5]),  # ties get the same adjusted p
    ([0.2], [0.2]),                        # a family of one: no correction
    ([], []),
])
def test_holm_hand_computed(raw, adjusted):
    assert holm(raw) == pytest.approx(adjusted)


def test_holm_is_monotone_capped_and_never_below_raw():
    raw = list(np.random.default_rng(0).random(12) ** 3)
    adj = holm(raw)
    order = np.argsort(raw)
    assert all(np.diff(np.asarray(adj)[order]) >= 0) and max(adj) <= 1.0
    assert all(a >= r for a, r in zip(adj, raw, strict=True))


def test_bootstrap_ci_degenerate_and_two_point_cases():
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    # two problems [0, 1]: resampled means are 0, .5, 1 with prob 1/4, 1/2, 1/4 -> 95% CI (0, 1)
    assert bootstrap_ci([0.0, 1.0], n_boot=4000) == (0.0, 1.0)
    assert bootstrap_ci([]) == (0.0, 0.0)


def test_bootstrap_ci_is_seeded_and_covers_the_mean():
    rng = np.random.default_rng(1)
    values = (rng.random(41) < 0.4).astype(float)
    a, b = bootstrap_ci(values, seed=3), bootstrap_ci(values, seed=3)
    assert a == b
    lo, hi = a
    assert lo < values.mean() < hi
    # normal approximation: half-width ~ 1.96 * sd / sqrt(n)
    half = 1.96 * values.std() / np.sqrt(len(values))
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)


def test_paired_bootstrap_ci_and_p():
    a = [0, 0, 1, 1, 0, 1, 0, 0, 1, 0] * 4
    b = [1, 0, 1, 1, 1, 1, 0, 1, 1, 0] * 4   # b solves 3 more per 10, never fewer
    lo, hi = paired_bootstrap_ci(a, b, seed=0)
    assert 0 < lo < 0.3 < hi
    assert paired_bootstrap_p(a, b, seed=0) < 0.01
    same = paired_bootstrap(a, a, seed=0)
    assert same["delta"] == 0 and same["p"] == 1.0 and same["ci"] == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1, 0], [1])


def test_paired_bootstrap_p_is_large_for_noise():
    rng = np.random.default_rng(7)
    a = (rng.random(60) < 0.5).astype(float)
    b = a.copy()
    b[:2] = 1 - b[:2]  # two flipped problems: noise
    assert paired_bootstrap_p(a, b, seed=1) > 0.2


def test_smallest_significant_difference_on_a_few_dozen_problems():
    # 6 to 0: p = 2 / 64 = 0.031; 5 to 0: 0.0625. With 10 discordant, 9-1 gives 2 * 11 / 1024 = 0.021
    # but 8-2 gives 2 * 56 / 1024 = 0.109, so the difference must be 8.
    assert [smallest_significant_difference(n) for n in (5, 6, 7, 10)] == [None, 6, 7, 8]
    assert smallest_significant_difference(41) == 15  # 28 to 13: p = 0.028; 27 to 14: 0.059
    assert mcnemar_exact(13, 28) < 0.05 < mcnemar_exact(14, 27)
