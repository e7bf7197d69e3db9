"""Metrics against values worked out by hand on tiny inputs."""

import math

import numpy as np
import pytest
from parity import reference

from loralab.curate.metrics import (
    complexity,
    complexity_summary,
    fenced_blocks,
    mean_pairwise_cosine,
    mtld,
    python_code,
    sample_indices,
    spread,
    words,
)

# ----------------------------------------------------------------------------- MTLD
# threshold 0.72; a factor closes when the running TTR falls to <= 0.72; the leftover run adds
# (1 - TTR) / (1 - 0.72); MTLD = mean(tokens / forward factors, tokens / backward factors)


def test_words_lowercase_split_punctuation_and_underscores():
    assert words("Don't sort_list, X2!") == ["don't", "sort", "list", "x2"]


def test_mtld_one_full_factor_each_way():
    # forward a b a | b : TTRs 1, 1, 2/3 -> factor; leftover "b" TTR 1 adds 0 -> 4/1
    # backward b a b | a : the same -> 4/1
    assert mtld("a b a b".split()) == pytest.approx(4.0)


def test_mtld_partial_factor():
    # forward a a | b c : 1/2 <= .72 -> factor; leftover b c TTR 1 -> 0; 4 / 1 = 4
    # backward c b a a : TTRs 1, 1, 1, 3/4 (> .72) -> partial (1 - .75)/.28 = 0.892857; 4 / 0.892857 = 4.48
    assert mtld("a a b c".split()) == pytest.approx((4 + 4 / (0.25 / 0.28)) / 2)
    assert mtld("a a b c".split()) == pytest.approx(4.24)


def test_mtld_partial_only():
    # a b c a both ways: TTR 3/4 at the end -> 0.892857 factors -> 4.48
    assert mtld("a b c a".split()) == pytest.approx(4.48)


def test_mtld_never_falls_counts_text_as_one_factor_and_empty_is_zero():
    assert mtld("a b c".split()) == 3.0
    assert mtld([]) == 0.0


def test_mtld_threshold_is_a_parameter():
    # at threshold 0.5 "a b a b" never closes a factor (2/3, 2/4=0.5 closes at the 4th token)
    # forward: TTR 1,1,.667,.5 -> factor at token 4, nothing left -> 4/1
    assert mtld("a b a b".split(), threshold=0.5) == pytest.approx(4.0)
    # "a b a c": 1,1,.667,.75 never <= .5 -> partial (1-.75)/.5 = .5 -> 8; backward c a b a: same -> 8
    assert mtld("a b a c".split(), threshold=0.5) == pytest.approx(8.0)


def test_mtld_agrees_with_lexicalrichness():
    lr = reference("lexicalrichness")
    text = ("the quick brown fox jumps over the lazy dog and the dog sleeps while the fox runs over the hill "
            "and the quick dog follows the brown fox over the lazy hill").split()
    ref = lr.LexicalRichness(text, preprocessor=None, tokenizer=None).mtld(threshold=0.72)
    assert mtld(text) == pytest.approx(ref)


# ----------------------------------------------------------------------------- spread


def test_spread_hand_computed():
    e = np.array([[1, 0], [0, 1], [1 / math.sqrt(2), 1 / math.sqrt(2)]], dtype=np.float32)
    # pairs: e1.e2 = 0, e1.e3 = e2.e3 = 0.7071 -> mean 0.4714 -> spread 2.1213
    assert mean_pairwise_cosine(e) == pytest.approx(math.sqrt(2) / 3, rel=1e-6)
    assert spread(e) == pytest.approx(3 / math.sqrt(2), rel=1e-6)


def test_spread_identical_rows_is_one_orthogonal_is_infinite():
    assert spread(np.ones((5, 1), dtype=np.float32)) == pytest.approx(1.0)
    assert spread(np.eye(3, dtype=np.float32)) == math.inf


def test_mean_pairwise_cosine_matches_the_pairwise_matrix():
    rng = np.random.default_rng(0)
    e = rng.standard_normal((50, 8)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    sims = e @ e.T
    brute = (sims.sum() - np.trace(sims)) / (50 * 49)
    assert mean_pairwise_cosine(e) == pytest.approx(float(brute), abs=1e-6)


def test_sample_indices_seeded_sorted_and_capped():
    a, b = sample_indices(100, 10, seed=3), sample_indices(100, 10, seed=3)
    assert list(a) == list(b) and list(a) == sorted(a) and len(set(a)) == 10
    assert list(sample_indices(5, 10, seed=0)) == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------- code extraction


def test_fenced_blocks_and_python_code():
    resp = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```java\nint x;\n```"
    assert [lang for lang, _ in fenced_blocks(resp)] == ["python", "java"]
    assert python_code(resp) == "def f():\n    return 1\n"
    assert python_code("```java\nint x = 1;\n```") is None
    assert python_code("def f(): return 1") == "def f(): return 1"       # whole response parses
    assert python_code("```\nx = 1\n") == "x = 1\n"                      # untagged, unterminated fence


@pytest.mark.parametrize("prose", ["The answer is 42.", "42", "True", "hello", "", "SELECT * FROM t;"])
def test_prose_and_bare_literals_are_not_code(prose):
    assert python_code(prose) is None


# ----------------------------------------------------------------------------- complexity (radon's counting)


def test_halstead_of_one_addition():
    # operators {+}: n1 = 1, N1 = 1; operands {a, b}: n2 = 2, N2 = 2
    # vocabulary 3, length 3, difficulty n1/2 * N2/n2 = 0.5; no branches -> cyclomatic 1
    c = complexity("x = a + b\n")
    assert (c.vocabulary, c.length, c.difficulty, c.cyclomatic) == (3, 3, 0.5, 1)


SNIPPET = """\
def f(n):
    if n > 0:
        return n * 2
    for i in range(n):
        n -= i
    return n
"""


def test_halstead_and_cyclomatic_of_a_function():
    # operators: > (n > 0), * (n * 2), -= (n -= i): n1 = 3, N1 = 3
    # operands: n, 0 | n, 2 | n, i -> distinct {n, 0, 2, i}: n2 = 4, N2 = 6
    # vocabulary 7, length 9, difficulty 3/2 * 6/4 = 2.25; cyclomatic 1 + if + for = 3
    c = complexity(SNIPPET)
    assert (c.vocabulary, c.length, c.difficulty, c.cyclomatic) == (7, 9, 2.25, 3)


def test_cyclomatic_counts_every_decision_in_the_snippet():
    code = ("def g(xs):\n    try:\n        return [x for x in xs if x]\n    except ValueError:\n        return None\n"
            "y = 1 if g([]) else 2\n")
    # 1 + comprehension (1) + its if (1) + except handler (1) + conditional expression (1) = 5
    assert complexity(code).cyclomatic == 5


def test_complexity_summary_averages_parsing_rows_and_reports_parse_rate():
    rows = [f"```python\n{SNIPPET}```", "x = a + b", "Use a hash map.", "```java\nint x;\n```"]
    s = complexity_summary(rows)
    assert s["parsed"] == 2 and s["parse_rate"] == 0.5
    assert s["halstead_vocabulary"] == pytest.approx((7 + 3) / 2)
    assert s["halstead_length"] == pytest.approx((9 + 3) / 2)
    assert s["halstead_difficulty"] == pytest.approx((2.25 + 0.5) / 2)
    assert s["cyclomatic"] == pytest.approx((3 + 1) / 2)


def test_complexity_summary_without_code_is_nan():
    s = complexity_summary(["no code here", "none either"])
    assert s["parse_rate"] == 0 and math.isnan(s["cyclomatic"])
