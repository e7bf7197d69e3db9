"""Diversity and complexity metrics of an instruction dataset, as pure functions.

Diversity (the seed study's Table 1):
  * MTLD (McCarthy & Jarvis 2010, "MTLD, vocd-D, and HD-D", Behavior Research Methods 42(2)):
    the mean length of word runs that keep the type-token ratio above 0.72, averaged over a
    forward and a backward pass; the leftover run counts as a partial factor.
  * spread: the reciprocal of the mean pairwise cosine similarity of embeddings (higher = the
    rows point in more different directions).
Complexity (Table 2): Halstead vocabulary, length and difficulty (Halstead 1977) and McCabe's
cyclomatic complexity (McCabe 1976), counted by `radon` on the Python code of each response.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # letters/digits, with inner apostrophes ("don't")
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
PYTHON_TAGS = {"", "python", "py", "python3", "py3"}


# ----------------------------------------------------------------------------- lexical diversity


def words(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation and underscores split words."""
    return _WORD.findall(text.lower())


def _mtld_factors(tokens: list[str], threshold: float) -> float:
    """Factor count of one MTLD pass: +1 each time the running TTR falls to the threshold."""
    factors, types, count, ttr = 0.0, set(), 0, 1.0
    for tok in tokens:
        count += 1
        types.add(tok)
        ttr = len(types) / count
        if ttr <= threshold:  # "reaches" the threshold (McCarthy & Jarvis 2010, p. 384)
            factors, types, count = factors + 1, set(), 0
    if count:  # partial factor: how far the leftover run's TTR fell, as a share of a full factor
        factors += (1 - ttr) / (1 - threshold)
    return factors


def mtld(tokens: list[str], threshold: float = 0.72) -> float:
    """Bidirectional MTLD: mean of the forward and backward token count per factor.

    A text whose TTR never falls (every token new) has zero factors; like the reference
    implementations we then count the whole text as one factor, so MTLD = its length.
    """
    if not tokens:
        return 0.0
    passes = [_mtld_factors(tokens, threshold), _mtld_factors(tokens[::-1], threshold)]
    return sum(len(tokens) / (f if f > 0 else 1.0) for f in passes) / 2


# ----------------------------------------------------------------------------- semantic spread


def sample_indices(n_rows: int, n: int, seed: int) -> np.ndarray:
    """A seeded sample of min(n, n_rows) row indices, sorted."""
    import numpy as np

    if n >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=n, replace=False))


def mean_pairwise_cosine(emb: np.ndarray) -> float:
    """Mean of e_i . e_j over all pairs i != j of unit rows, in O(N D) without the N x N matrix.

    sum_{i != j} e_i . e_j = |sum_i e_i|^2 - sum_i |e_i|^2
    """
    import numpy as np

    n = len(emb)
    if n < 2:
        raise ValueError("spread needs at least two rows")
    e = emb.astype(np.float64)  # (N, D); float64 so the difference of two large sums stays exact
    s = e.sum(axis=0)           # (D,)
    return float((s @ s - (e * e).sum()) / (n * (n - 1)))


def spread(emb: np.ndarray) -> float:
    """1 / mean pairwise cosine similarity; inf when the mean is not positive."""
    m = mean_pairwise_cosine(emb)
    return 1.0 / m if m > 0 else math.inf


# ----------------------------------------------------------------------------- code extraction


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, code) of every ``` block; an unterminated last block runs to the end."""
    return [(lang.lower(), code) for lang, code in _FENCE.findall(text)]


def code_text(response: str) -> str:
    """The code of a response for embedding: its fenced blocks (any language), else all of it."""
    blocks = fenced_blocks(response)
    return "\n\n".join(code for _, code in blocks).strip() if blocks else response.strip()


def is_python(code: str) -> bool:
    """Parses as Python and is more than a bare name or literal (prose like "42" or "True")."""
    if not code.strip():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes in prose
            tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(not (isinstance(s, ast.Expr) and isinstance(s.value, (ast.Constant, ast.Name))) for s in tree.body)


def python_code(response: str) -> str | None:
    """The response's Python: its python/untagged fenced blocks, else the whole response; None if it does not parse."""
    blocks = fenced_blocks(response)
    if blocks:
        code = "\n\n".join(c for lang, c in blocks if lang in PYTHON_TAGS)
    else:
        code = response
    return code if is_python(code) else None


# ----------------------------------------------------------------------------- complexity


@dataclass(frozen=True)
class Complexity:
    vocabulary: int     # Halstead n = n1 distinct operators + n2 distinct operands
    length: int         # Halstead N = N1 operator + N2 operand occurrences
    difficulty: float   # Halstead D = n1/2 * N2/n2
    cyclomatic: int     # 1 + decision points of the whole snippet (radon's total_complexity)


def complexity(code: str) -> Complexity:
    """Halstead and cyclomatic complexity of a Python snippet, as radon counts them."""
    from radon.metrics import h_visit
    from radon.visitors import ComplexityVisitor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = h_visit(code).total
        cc = ComplexityVisitor.from_code(code).total_complexity
    return Complexity(h.vocabulary, h.length, float(h.difficulty), cc)


def complexity_summary(responses: list[str]) -> dict:
    """Mean complexity over the responses whose code parses, and the parse rate."""
    found = []
    for response in responses:
        code = python_code(response)
        if code is not None:
            try:
                found.append(complexity(code))
            except (SyntaxError, ValueError, RecursionError):  # radon's own parse can still refuse
                pass
    out = {}
    for key in ("vocabulary", "length", "difficulty", "cyclomatic"):
        name = key if key == "cyclomatic" else f"halstead_{key}"
        out[name] = sum(getattr(c, key) for c in found) / len(found) if found else math.nan
    out["parsed"] = len(found)
    out["parse_rate"] = len(found) / len(responses) if responses else math.nan
    return out
