"""pass@k: the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models
Trained on Code", section 2.1.

With n samples per problem of which c pass, pass@k = 1 - C(n-c, k) / C(n, k): the chance
that k samples drawn without replacement from the n contain at least one pass. Computing the
binomials overflows for n in the hundreds, so we use the paper's product form
    C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i),
which stays in [0, 1]. The estimate is defined only for k <= n; a table reports a k only when
every problem has at least k samples (otherwise it would silently mix estimators).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with `n` samples, `c` of them correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n samples, got n={n}")
    if n - c < k:
        return 1.0  # every draw of k contains a correct sample
    prob_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_wrong *= 1.0 - k / i
    return 1.0 - prob_all_wrong


def per_problem(results: Mapping[str, Sequence[bool]], k: int) -> dict[str, float]:
    """task_id -> pass@k from that problem's per-sample pass flags."""
    return {tid: pass_at_k(len(flags), sum(bool(f) for f in flags), k) for tid, flags in results.items()}


def pass_at_k_table(results: Mapping[str, Sequence[bool]], ks: Iterable[int]) -> dict[int, float]:
    """Mean pass@k over problems for each k that every problem has enough samples for.

    `results` maps task_id to the pass flags of its samples. A k larger than the smallest
    sample count is left out rather than estimated on some problems only.
    """
    if not results:
        return {}
    n_min = min(len(flags) for flags in results.values())
    table = {}
    for k in sorted(set(ks)):
        if 1 <= k <= n_min:
            values = per_problem(results, k).values()
            table[k] = sum(values) / len(values)
    return table
