"""The K-specialist study end to end on the tiny model: routers, K adapters, routed evaluation,
comparisons between K values and the report, all from one YAML."""

import pytest
import yaml

from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl
from loralab.studies.kspecialist import ROUTED, cluster_steps, load_kspecialist, run_kspecialist


def test_cluster_steps_keep_the_total():
    assert cluster_steps(20, [10]) == [20]
    assert cluster_steps(20, [5, 15]) == [5, 15]
    assert cluster_steps(12, [1, 2, 3]) == [2, 4, 6]
    assert cluster_steps(None, [3, 4]) == [None, None]
    assert cluster_steps(4, [1, 99]) == [1, 4]  # every cluster trains at least one step


def write_spec(tmp_path, tiny_model_dir, **kspec):
    spec = {"kspecialist": {"name": "kspec-test", "out_dir": str(tmp_path / "study"), "k": [1, 2], "seed": 0, **kspec},
            "base": {"model": {"name": str(tiny_model_dir)},
                     "data": {"source": "bundled:pytasks", "template": "chat", "max_rows": 40},
                     "adapter": {"r": 4, "alpha": 8},
                     "train": {"max_steps": 4, "batch_size": 2, "save_steps": 2, "logging_steps": 1,
                               "learning_rate": 1e-3, "max_seq_len": 256},
                     "eval": {"tasks": ["test=pytasks"], "task_options": {"test": {"split_file": "{prepared}/test.jsonl"}},
                              "limit": 3, "max_new_tokens": 8, "batch_size": 8}}}
    path = tmp_path / "kspec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_bad_specs_name_the_problem(tmp_path, tiny_model_dir):
    path = write_spec(tmp_path, tiny_model_dir, clusters=3)
    with pytest.raises(LoralabError, match="kspecialist.clusters: unknown key"):
        load_kspecialist(path)
    path = write_spec(tmp_path, tiny_model_dir, k=[2, 2])
    with pytest.raises(LoralabError, match="distinct"):
        load_kspecialist(path)
    path = write_spec(tmp_path, tiny_model_dir)
    with pytest.raises(LoralabError, match="full"):
        load_kspecialist(path, ["adapter.method=full"])


def test_kspecialist_study_end_to_end(tmp_path, tiny_model_dir):
    from loralab.report import write_report

    root = run_kspecialist(write_spec(tmp_path, tiny_model_dir))
    for k in (1, 2):
        run = root / "runs" / f"k{k}"
        router = read_json(run / "router" / "router.json")
        assert router["k"] == k and len(router["adapters"]) == k
        sizes = router["sizes"]
        assert sum(sizes) == 32  # 40 rows, 80/10/10: every K trains on all 32 train rows
        steps = yaml.safe_load((run / "config.yaml").read_text())["kspecialist"]["cluster_steps"]
        assert steps == cluster_steps(4, sizes)
        for i in range(k):
            assert (run / "clusters" / f"cluster-{i}" / "summary.json").exists()
        summary = read_json(run / "eval" / "summary.json")
        assert [s["name"] for s in summary["systems"]] == ["base", ROUTED]
        assert summary["best"]["name"] == ROUTED
        records = read_jsonl(run / "eval" / "samples.jsonl")
        assert {r["system"] for r in records} == {"base", ROUTED} and len(records) == 6
        routing = read_json(run / "routing.json")
        assert routing["heldout_rows"] == 4 and routing["routing_accuracy"] == 1.0
    # one base for everyone: the base's answers are the same records in both K runs
    base = [[r["completion"] for r in read_jsonl(root / "runs" / f"k{k}" / "eval" / "samples.jsonl")
             if r["system"] == "base"] for k in (1, 2)]
    assert base[0] == base[1]
    comps = read_json(root / "comparisons.json")
    assert {(c["a"], c["b"]) for c in comps} == {("base", "k1"), ("base", "k2"), ("k1", "k2")}
    assert all(c["n"] == 3 and 0.0 <= c["mcnemar_p"] <= 1.0 for c in comps)
    md, html = write_report(root)
    text = md.read_text()
    assert "K-specialist routing" in text and "k1 vs k2" in text.replace("`", "") or "k1" in text
    assert 'id="routing-table"' in html.read_text()
    # a second run is a no-op that changes nothing
    before = (root / "runs" / "k2" / "eval" / "samples.jsonl").read_bytes()
    run_kspecialist(write_spec(tmp_path, tiny_model_dir))
    assert (root / "runs" / "k2" / "eval" / "samples.jsonl").read_bytes() == before
    # other eval settings re-evaluate, by the rule `loralab eval` follows (#12 item 4)
    run_kspecialist(write_spec(tmp_path, tiny_model_dir), ["eval.limit=2"])
    for k in (1, 2):
        summary = read_json(root / "runs" / f"k{k}" / "eval" / "summary.json")
        assert [t["n_problems"] for s in summary["systems"] for t in s["tasks"].values()] == [2, 2]
        assert len(read_jsonl(root / "runs" / f"k{k}" / "eval" / "samples.jsonl")) == 4
