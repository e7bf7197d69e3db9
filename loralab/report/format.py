"""Numbers as the report prints them ("—" for what is not there), and the verdict of a paired test."""

from __future__ import annotations

from loralab.results import Comparison

DASH = "—"


ALPHA = 0.05  # significance level of the verdicts


def pct(p: float | None) -> str:
    return DASH if p is None else f"{100 * p:.1f}%"


def ci_text(ci: tuple[float, float] | list | None) -> str:
    return DASH if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def pp(d: float | None) -> str:
    return DASH if d is None else f"{100 * d:+.1f} pp"


def p_text(p: float | None) -> str:
    return DASH if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")


def duration(s: float | None) -> str:
    if s is None:
        return DASH
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(round(s), 60)
    return f"{m // 60}h {m % 60:02d}m" if m >= 60 else f"{m}m {sec:02d}s"


def num(x: float | None, fmt: str = ",.1f") -> str:
    return DASH if x is None else format(x, fmt)


def count(n: int | None) -> str:
    if n is None:
        return DASH
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def verdict(c: Comparison, alpha: float = ALPHA) -> tuple[str, bool]:
    """A plain-language reading of a paired test, and whether it is significant.

    It reads the Holm-adjusted p (the raw one when the comparison is alone in its family):
    with several comparisons, some raw p < alpha is likely even when nothing differs.
    """
    if c.mcnemar_p is None:
        return "no test recorded", False
    p = c.mcnemar_p_holm if c.mcnemar_p_holm is not None else c.mcnemar_p
    if p < alpha:
        better = c.b if (c.delta_pass1 or (c.b_solved - c.a_solved)) > 0 else c.a
        return f"{better} solves more; unlikely to be noise at {alpha}", True
    flips = (c.only_a or 0) + (c.only_b or 0) if c.only_a is not None else None
    why = [f"only {flips} of {c.n} problems differ"] if flips is not None else []
    if c.mcnemar_p < alpha:
        why.append(f"raw p {p_text(c.mcnemar_p)}, Holm-adjusted over {c.holm_m} tests {p_text(p)}")
    tail = f" ({'; '.join(why)})" if why else ""
    return f"not distinguishable from noise at {alpha}{tail}", False
