"""Dedup: hash stages, the greedy blockwise search, the stage's files, and the real embedder (slow)."""

import json
import math

import numpy as np
import pytest

from loralab.curate.config import build_config
from loralab.curate.dedup import dedup, hash_duplicates, normalise, semantic_duplicates
from loralab.errors import LoralabError
from loralab.io import read_jsonl


def unit(*rows):
    e = np.array(rows, dtype=np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_normalise_ignores_case_spacing_and_punctuation():
    assert normalise("Sort a list!") == normalise("  sort a\tLIST ") == "sort a list"
    assert normalise("sort a list") != normalise("sort the list")


def test_hash_duplicates_keep_first_occurrence():
    keys = ["Sort a list.", "Reverse a string.", "Sort a list.", "sort A list", "Reverse  a string!"]
    d = hash_duplicates(keys)
    assert {i: (x.of, x.reason) for i, x in d.items()} == {2: (0, "exact"), 3: (0, "normalised"), 4: (1, "normalised")}
    assert set(hash_duplicates(keys, normalised=False)) == {2}


def test_semantic_greedy_chain_compares_with_kept_rows_only():
    # cos(a, b) = cos(b, c) = 0.96, cos(a, c) = 0.84: b is a duplicate of a; c is kept (b was dropped)
    t = math.acos(0.96)
    e = unit([1, 0], [math.cos(t), math.sin(t)], [math.cos(2 * t), math.sin(2 * t)])
    d = semantic_duplicates(e.copy(), threshold=0.95)
    assert [(x.row, x.of) for x in d] == [(1, 0)] and d[0].similarity == pytest.approx(0.96, abs=1e-5)


def test_semantic_names_the_most_similar_kept_row_and_ignores_block_size():
    rng = np.random.default_rng(1)
    e = rng.standard_normal((300, 16)).astype(np.float32)
    e[150] = e[10] + 0.05 * rng.standard_normal(16)      # near copy of an earlier block's row
    e[151] = e[150] * 2                                   # same direction as 150, so a duplicate of 10 too
    e[299] = e[298]                                       # exact copy inside one block
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    ref = [(x.row, x.of) for x in semantic_duplicates(e.copy(), 0.95, block=1024)]
    assert ref == [(150, 10), (151, 10), (299, 298)]
    for block, chunk in ((1, 1), (7, 3), (64, 1000)):
        assert [(x.row, x.of) for x in semantic_duplicates(e.copy(), 0.95, block=block, chunk=chunk)] == ref


def write(path, rows):
    path.write_text(json.dumps(rows))
    return path


ROWS = [{"instruction": "Sort a list.", "input": "", "output": "sorted(xs)"},
        {"instruction": "Reverse a string.", "input": "", "output": "s[::-1]"},
        {"instruction": "sort a LIST!", "input": "", "output": "xs.sort()"},
        {"instruction": "Sort a list.", "input": "", "output": "sorted(xs)"}]


def test_stage_writes_kept_dropped_and_is_a_no_op_when_rerun(tmp_path):
    src = write(tmp_path / "d.json", ROWS)
    cfg = build_config(None, ["dedup.semantic=false"])
    res = dedup(src, cfg, tmp_path / "out")
    assert res.summary["kept"] == 2 and res.summary["by_reason"] == {"exact": 1, "normalised": 1, "semantic": 0}
    assert read_jsonl(tmp_path / "out" / "kept.jsonl") == [ROWS[0], ROWS[1]]
    dropped = read_jsonl(tmp_path / "out" / "dropped.jsonl")
    assert [(d["row"], d["duplicate_of"], d["reason"], d["similarity"]) for d in dropped] == [
        (3, 1, "normalised", 1.0), (4, 1, "exact", 1.0)]
    assert dropped[0]["duplicate_question"] == "Sort a list."
    for name in ("config.yaml", "meta.json", "summary.json"):
        assert (tmp_path / "out" / name).exists()
    stamp = (tmp_path / "out" / "meta.json").stat().st_mtime_ns
    dedup(src, cfg, tmp_path / "out")
    assert (tmp_path / "out" / "meta.json").stat().st_mtime_ns == stamp


def test_stage_refuses_to_replace_a_foreign_directory(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(LoralabError, match="holds files no loralab stage wrote"):
        dedup(write(tmp_path / "d.json", ROWS), build_config(None, ["dedup.semantic=false"]), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").exists()


@pytest.mark.slow
def test_semantic_dedup_with_the_packaged_embedder(tmp_path):
    rows = [{"instruction": q, "output": "pass"} for q in (
        "Write a Python function that reverses a string.",
        "Write a function in Python that reverses a given string.",
        "Compute the factorial of a number with recursion.",
        "Explain the difference between a list and a tuple.",
        "Write a python function that reverses a string")]
    res = dedup(write(tmp_path / "p.json", rows), build_config(None, ["embedder.cache=false"]), tmp_path / "out")
    dropped = read_jsonl(tmp_path / "out" / "dropped.jsonl")
    assert {(d["row"], d["duplicate_of"], d["reason"]) for d in dropped} == {(2, 1, "semantic"), (5, 1, "normalised")}
    assert 0.95 < dropped[0]["similarity"] <= 1.0
    assert res.summary["kept"] == 3


@pytest.mark.slow
def test_question_plus_code_needs_both_to_match(tmp_path):
    rows = [{"instruction": "Write a Python function that reverses a string.", "output": "def r(s):\n    return s[::-1]"},
            {"instruction": "Write a function in Python that reverses a given string.", "output": "def r(s):\n    return s[::-1]"},
            {"instruction": "Write a Python function that reverses a string!", "output": "print('hello world')"}]
    cfg = build_config(None, ["embedder.cache=false", "dedup.match_on=question+code", "dedup.normalised=false"])
    res = dedup(write(tmp_path / "p.json", rows), cfg, tmp_path / "out")
    dropped = read_jsonl(tmp_path / "out" / "dropped.jsonl")
    # row 2: same code, paraphrased question -> mean cosine > 0.95; row 3: same question, other code -> kept
    assert [(d["row"], d["duplicate_of"]) for d in dropped] == [(2, 1)] and res.summary["match_on"] == "question+code"
