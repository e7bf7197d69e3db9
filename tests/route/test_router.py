"""The k-means router: pure assignment, soft weights, seeded fits, per-cluster splits, files."""

import json

import numpy as np
import pytest

from loralab.errors import LoralabError
from loralab.io import read_jsonl, write_jsonl
from loralab.route.router import (
    Router,
    assign,
    fit_kmeans,
    fit_routers,
    load_router,
    question_text,
    row_question,
    save_router,
    softmax_weights,
    squared_distances,
)


def unit(rows):
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_assign_is_the_nearest_centroid_by_hand():
    centroids = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.array([[1.0, 1.0], [9.0, -1.0], [-1.0, 7.0], [5.0, 5.0]])
    # distances^2 of the last point: 50, 50, 50: a tie goes to the lower index
    assert assign(centroids, points).tolist() == [0, 1, 2, 0]
    d = squared_distances(centroids, points)
    assert d[0].tolist() == pytest.approx([2.0, 82.0, 82.0])


def test_soft_weights_by_hand():
    d = np.array([[0.0, np.log(3.0)]])  # softmax(-d / 1) = [3/4, 1/4]
    assert softmax_weights(d, 1.0)[0].tolist() == pytest.approx([0.75, 0.25])
    w = softmax_weights(np.array([[1.0, 2.0, 4.0]] * 2), 0.5)
    assert w.sum(1).tolist() == pytest.approx([1.0, 1.0]) and w[0, 0] > w[0, 1] > w[0, 2]
    with pytest.raises(LoralabError, match="temperature"):
        softmax_weights(d, 0.0)


def test_kmeans_is_seeded_and_finds_separated_groups():
    rng = np.random.default_rng(0)
    groups = [unit(rng.normal(c, 0.05, (20, 3))) for c in ([1, 0, 0], [0, 1, 0], [0, 0, 1])]
    x = np.concatenate(groups)
    c1, l1 = fit_kmeans(x, 3, seed=1)
    c2, l2 = fit_kmeans(x, 3, seed=1)
    assert np.array_equal(l1, l2) and np.allclose(c1, c2)
    # each true group is one cluster
    assert all(len(set(l1[i * 20:(i + 1) * 20].tolist())) == 1 for i in range(3)) and len(set(l1.tolist())) == 3
    c, labels = fit_kmeans(x, 1, seed=0)
    assert c.shape == (1, 3) and not labels.any()
    with pytest.raises(LoralabError, match="K=99"):
        fit_kmeans(x, 99, seed=0)


def test_question_text_drops_the_closing_request():
    from loralab.data.formats import fenced_request_text

    assert question_text(fenced_request_text("Reverse s.")) == "Reverse s."
    assert row_question({"instruction": "Sort it.", "input": "[3, 1]"}) == "Sort it.\n\n[3, 1]"


def test_router_file_roundtrips_and_routes(tmp_path):
    r = Router(unit([[1, 0], [0, 1]]), "all-MiniLM-L6-v2", "", ["k2-c0", "k2-c1"], [5, 7], {"k2-c0": "/a"}, seed=3)
    save_router(r, tmp_path)
    back = load_router(tmp_path)
    assert back.names == r.names and back.sizes == [5, 7] and back.adapters == {"k2-c0": "/a"} and back.seed == 3
    assert np.allclose(back.centroids, r.centroids) and back.name == r.name and back.name.startswith("kmeans-k2-")
    one = Router(np.zeros((1, 2), np.float32), "no-such-embedder", "", ["k1-c0"])
    assert one.route(["anything", "else"]) == ["k1-c0", "k1-c0"]  # K=1 needs no embedder
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "router.json").write_text(json.dumps({"names": ["a"]}))
    with pytest.raises(LoralabError, match="not a router file"):
        load_router(tmp_path / "bad")
    with pytest.raises(LoralabError, match="no router.json"):
        load_router(tmp_path / "nowhere")


TOPICS = {
    "strings": ["Reverse the string s.", "Count the vowels in a string.", "Make a string upper case.",
                "Check whether a string is a palindrome.", "Remove spaces from a string.", "Capitalise every word."],
    "numbers": ["Return the factorial of n.", "Check whether n is prime.", "Sum the digits of an integer.",
                "Return the n-th Fibonacci number.", "Compute the greatest common divisor of a and b.",
                "Return the square root of x rounded down."],
}


def test_fit_routers_writes_routers_and_cluster_splits(tmp_path):
    """The real packaged embedder: two topics of questions become two clusters."""
    rows = [{"id": f"{t}{i}", "instruction": q, "input": "", "prompt": q, "response": "pass", "text": q}
            for t, qs in TOPICS.items() for i, q in enumerate(qs)]
    write_jsonl(tmp_path / "data" / "train.jsonl", rows[0:5] + rows[6:11])
    write_jsonl(tmp_path / "data" / "validation.jsonl", [rows[5]])
    write_jsonl(tmp_path / "data" / "test.jsonl", [rows[11]])
    fits = fit_routers(tmp_path / "data", tmp_path / "routers", [1, 2], seed=0)
    assert [f.k for f in fits] == [1, 2]
    k2 = fits[1]
    assert sum(k2.router.sizes) == 10 and sorted(k2.router.sizes) == [5, 5]
    clusters = [read_jsonl(k2.cluster_dir(i) / "train.jsonl") for i in range(2)]
    assert {frozenset(r["id"][0] for r in c) for c in clusters} == {frozenset("s"), frozenset("n")}
    # held-out rows go to the cluster of their topic
    for i, c in enumerate(clusters):
        topic = c[0]["id"][0]
        held = read_jsonl(k2.cluster_dir(i) / "validation.jsonl") + read_jsonl(k2.cluster_dir(i) / "test.jsonl")
        assert all(r["id"][0] == topic for r in held) and len(held) == 1
    router = load_router(tmp_path / "routers" / "k-2")
    picks = router.route(["Reverse the words of a sentence string.", "Is 97 a prime number?"])
    names = {c[0]["id"][0]: router.names[i] for i, c in enumerate(clusters)}
    assert picks == [names["s"], names["n"]]
    assert read_jsonl(fits[0].cluster_dir(0) / "train.jsonl") == rows[0:5] + rows[6:11]


def test_route_fit_command_and_a_missing_directory(tmp_path):
    from typer.testing import CliRunner

    from loralab.cli import app

    rows = [{"id": f"{t}{i}", "instruction": q, "input": "", "prompt": q, "response": "pass", "text": q}
            for t, qs in TOPICS.items() for i, q in enumerate(qs)]
    write_jsonl(tmp_path / "data" / "train.jsonl", rows)
    res = CliRunner().invoke(app, ["route", "fit", str(tmp_path / "data"), "--k", "1,2", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "K=2" in res.output and (tmp_path / "r" / "k-2" / "router.json").exists()
    assert sum(load_router(tmp_path / "r" / "k-2").sizes) == 12
    res = CliRunner().invoke(app, ["route", "fit", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r2")])
    assert res.exit_code != 0 and "nowhere: no such directory" in str(res.exception or res.output)
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(app, ["route", "fit", str(tmp_path / "empty"), "--out", str(tmp_path / "r2")])
    assert res.exit_code != 0 and "no train.jsonl" in str(res.exception or res.output)
