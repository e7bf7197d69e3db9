"""Uncertainty for pass rates: bootstrap CIs over problems and paired tests between systems.

Benchmarks have few problems (41, 164, 422), so "14/41 vs 18/41" needs a noise estimate.
Problems are the unit of resampling: samples of one problem are not independent draws of the
benchmark (Miller 2024, "Adding Error Bars to Evals"). Two systems on the same problems are
compared paired: McNemar's exact test on the problems exactly one of them solves (greedy
decoding, one sample each), and a paired bootstrap of the difference of per-problem pass
rates (several samples). Several comparisons on one task are one family of tests: `holm`
adjusts their p-values so the chance of any false "significant" stays at alpha (Holm 1979).
Pure functions over numbers; no model code is imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np


def _boot_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means of `n_boot` resamples (with replacement) of `values`, shape (n_boot,)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))  # (n_boot, n_problems)
    return values[idx].mean(axis=1)


def bootstrap_ci(values: Sequence[float], *, n_boot: int = 10_000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-problem scores (e.g. per-problem pass@1)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (0.0, 0.0)
    means = _boot_means(x, n_boot, seed)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    Under "no difference", each of the b + c problems solved by exactly one system is equally
    likely to be either's, so min(b, c) ~ Binomial(b + c, 1/2); p = 2 * P(X <= min(b, c)),
    capped at 1. Concordant problems carry no information about the difference.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_a}, {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2.0 * tail)


def smallest_significant_difference(n_discordant: int, alpha: float = 0.05) -> int | None:
    """The smallest |b - c| with b + c = n_discordant that McNemar's exact test calls significant
    (p < alpha), or None when no split of that many discordant problems can be (n <= 5 at 0.05).

    On M problems a difference in solved counts can only be told from noise if it is at least
    this large for the number of problems the two systems disagree on: 6 at best (6 to 0).
    """
    for diff in range(n_discordant % 2, n_discordant + 1, 2):  # b - c has the parity of b + c
        if mcnemar_exact((n_discordant - diff) // 2, (n_discordant + diff) // 2) < alpha:
            return diff
    return None


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (Holm 1979; R's p.adjust "holm").

    Sorted ascending p_(1) <= ... <= p_(m), the i-th (from 1) is adjusted to
    max over j <= i of min(1, (m - j + 1) * p_(j)): the step-down multiplier, made monotone so
    a larger raw p never gets a smaller adjusted one, and capped at 1. Rejecting where the
    adjusted p < alpha controls the family-wise error rate at alpha under any dependence.
    """
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], *, n_boot: int = 10_000,
                        alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile CI of mean(b - a), resampling problems (pairs stay together)."""
    d = _paired_diffs(a, b)
    if d.size == 0:
        return (0.0, 0.0)
    lo, hi = np.quantile(_boot_means(d, n_boot, seed), [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def paired_bootstrap_p(a: Sequence[float], b: Sequence[float], *, n_boot: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value for mean(b - a) = 0: the share of bootstrap means of the centred
    differences (the null made true) at least as far from 0 as the observed mean, with the
    +1 correction so it is never 0. With few problems and 0/1 outcomes prefer McNemar: a
    bootstrap cannot see variance the sample does not show."""
    d = _paired_diffs(a, b)
    if d.size == 0:
        return 1.0
    observed = abs(d.mean())
    null = _boot_means(d - d.mean(), n_boot, seed)
    return float((np.sum(np.abs(null) >= observed - 1e-12) + 1) / (n_boot + 1))


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, n_boot: int = 10_000, alpha: float = 0.05,
                     seed: int = 0) -> dict:
    """delta = mean(b - a), its percentile CI and two-sided bootstrap p-value."""
    d = _paired_diffs(a, b)
    return {"n": int(d.size), "delta": float(d.mean()) if d.size else 0.0,
            "ci": paired_bootstrap_ci(a, b, n_boot=n_boot, alpha=alpha, seed=seed),
            "p": paired_bootstrap_p(a, b, n_boot=n_boot, seed=seed)}


def _paired_diffs(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    if len(a) != len(b):
        raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
    return np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
