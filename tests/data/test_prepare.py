"""The prepare stage as a library: real CodeAlpaca data, splits, reuse, every format end to end, bad input."""

import json
from pathlib import Path

import pytest
from realdata import shared_file

from loralab.config import DataConfig, ModelConfig
from loralab.data import sources
from loralab.data.formats import tidy_answer
from loralab.data.prepare import SPLITS, prepare, split_counts
from loralab.errors import LoralabError

FILES = ("train.jsonl", "validation.jsonl", "test.jsonl", "dropped.jsonl", "meta.json", "config.yaml")


def read_rows(out_dir, split):
    return [json.loads(line) for line in (out_dir / f"{split}.jsonl").read_text().splitlines()]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("n, fractions, counts", [
    (2015, (0.8, 0.1, 0.1), (1612, 202, 201)),  # 201.5 twice: the tie goes to validation
    (10, (0.8, 0.1, 0.1), (8, 1, 1)),
    (3, (0.5, 0.25, 0.25), (1, 1, 1)),  # exact 1.5/0.75/0.75: floors 1/0/0, leftovers to the .75s
    (7, (1.0, 0.0, 0.0), (7, 0, 0)),
    (0, (0.8, 0.1, 0.1), (0, 0, 0)),
])
def test_split_counts_largest_remainder(n, fractions, counts):
    assert split_counts(n, fractions) == counts


def test_code_alpaca(tmp_path):
    src = shared_file("instruct/code_alpaca_2k.json")
    result = prepare(DataConfig(source=str(src)), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES)
    assert result.rows_read == 2017 and result.dropped == {"empty response": 2}
    assert result.counts == {"train": 1612, "validation": 202, "test": 201} and result.kept == 2015
    rows = {split: read_rows(tmp_path / "out", split) for split in SPLITS}
    ids = [r["id"] for split in SPLITS for r in rows[split]]
    dropped = [json.loads(line) for line in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    assert len(set(ids)) == 2015 and not set(ids) & {d["id"] for d in dropped}
    assert all(d["reason"] == "empty response" for d in dropped)
    original = json.loads(src.read_text())
    for r in rows["test"]:
        assert r["text"] == r["prompt"] + r["response"] and r["prompt"].endswith("### Response:\n")
        assert r["response"] == tidy_answer(original[int(r["id"].split(":")[1])]["output"])  # no EOS appended
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["inputs"] == {str(src): sources.sha256_file(src)} and meta["counts"] == result.counts


def test_rerun_is_a_noop_and_a_fresh_run_is_byte_identical(tmp_path):
    cfg = DataConfig(source=str(shared_file("instruct/code_alpaca_2k.json")))
    prepare(cfg, tmp_path / "a")
    before = {name: (tmp_path / "a" / name).read_bytes() for name in FILES}
    assert prepare(cfg, tmp_path / "a").reused
    assert prepare(cfg, tmp_path / "b").reused is False
    assert {name: (tmp_path / "a" / name).read_bytes() for name in FILES} == before
    assert {name: (tmp_path / "b" / name).read_bytes() for name in FILES} == before


def test_changed_config_replaces_the_preparation(tmp_path):
    rows = [{"instruction": f"task {i}", "output": f"answer {i}"} for i in range(20)]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    first = read_rows(prepare(DataConfig(source=str(src)), tmp_path / "out").out_dir, "train")
    second = prepare(DataConfig(source=str(src), seed=7), tmp_path / "out")
    assert not second.reused and second.counts == {"train": 16, "validation": 2, "test": 2}
    assert read_rows(tmp_path / "out", "train") != first
    assert prepare(DataConfig(source=str(src), max_rows=5), tmp_path / "out").counts == {
        "train": 4, "validation": 1, "test": 0}  # 4/0.5/0.5: the tie goes to validation


def test_predefined_splits_of_a_dataset_directory(tmp_path):
    root = tmp_path / "hub_copy"
    root.mkdir()
    write_jsonl(root / "train.jsonl", [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(5)])
    write_jsonl(root / "test.jsonl", [{"prompt": "t", "completion": "u"}, {"prompt": "t2", "completion": ""}])
    result = prepare(DataConfig(source=str(root), use_predefined_splits=True), tmp_path / "out")
    assert result.counts == {"train": 5, "validation": 0, "test": 1} and result.dropped == {"empty response": 1}
    assert [r["id"] for r in read_rows(tmp_path / "out", "train")] == [f"train:{i}" for i in range(5)]
    assert read_rows(tmp_path / "out", "test")[0] == {
        "id": "test:0", "prompt": "t\n", "response": "u", "text": "t\nu", "instruction": "t", "input": ""}
    merged = prepare(DataConfig(source=str(root)), tmp_path / "merged")  # all splits pooled and re-split
    assert merged.kept == 6 and merged.template == "plain"


def test_predefined_splits_need_a_source_that_has_them(tmp_path):
    src = write_jsonl(tmp_path / "d.jsonl", [{"text": "x"}])
    with pytest.raises(LoralabError, match="single file with no splits of its own"):
        prepare(DataConfig(source=str(src), use_predefined_splits=True), tmp_path / "out")


def test_csv_with_field_map_and_dolly_output(tmp_path):
    src = tmp_path / "qa.csv"
    src.write_text("question,background,answer\nWhy?,Because.,So.\nHow?,,Thus.\n")
    cfg = DataConfig(source=str(src), format="dolly",
                     field_map={"question": "instruction", "background": "context", "answer": "response"})
    result = prepare(cfg, tmp_path / "out", )
    rows = sorted((r for s in SPLITS for r in read_rows(tmp_path / "out", s)), key=lambda r: r["id"])
    assert result.template == "dolly" and rows[0]["context"] == "Because." and "input" not in rows[0]
    assert "### Context:\nBecause.\n\n### Response:\nSo." in rows[0]["text"]


def test_text_format_has_no_prompt(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "corpus.parquet"
    pq.write_table(pa.Table.from_pylist([{"text": f"def f{i}(): pass"} for i in range(10)] + [{"text": " "}]), src)
    result = prepare(DataConfig(source=str(src)), tmp_path / "out")
    row = read_rows(tmp_path / "out", "train")[0]
    assert (result.format, result.template, result.dropped) == ("text", "none", {"empty text": 1})
    assert row["prompt"] == "" and row["text"] == row["response"]


def test_pytasks_rows_keep_their_tests(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "ASSETS", tmp_path)
    tasks = [{"task_id": f"pytasks/{i}", "topic": "math", "instruction": f"Return {i}.", "entry_point": "f",
              "solution": f"def f():\n    return {i}\n", "tests": [f"assert f() == {i}"]} for i in range(10)]
    write_jsonl(tmp_path / "mini.jsonl", tasks)
    prepare(DataConfig(source="bundled:mini"), tmp_path / "out")
    row = read_rows(tmp_path / "out", "test")[0]
    i = int(row["task_id"].split("/")[1])
    assert row["id"] == f"mini.jsonl:{i}" and row["tests"] == [f"assert f() == {i}"] and row["entry_point"] == "f"
    namespace = {}
    assert row["response"] == f"```python\n{row['solution'].strip()}\n```"  # fenced, as evaluation extracts it
    exec(row["solution"], namespace)  # the reference solution runs
    exec(row["tests"][0], namespace)


def test_bundled_pytasks_asset_prepares(tmp_path):
    if not (sources.ASSETS / "pytasks.jsonl").exists():
        pytest.skip("loralab/assets/pytasks.jsonl is not written yet")
    result = prepare(DataConfig(source="bundled:pytasks"), tmp_path / "out")
    assert result.format == "pytasks" and result.kept >= 100 and not result.dropped


def test_messages_with_the_chat_template(tmp_path, tiny_model_dir):
    convs = [{"messages": [{"role": "user", "content": f"Double {i}."}, {"role": "assistant", "content": str(2 * i)}]}
             for i in range(10)]
    src = write_jsonl(tmp_path / "chat.jsonl", convs)
    result = prepare(DataConfig(source=str(src)), tmp_path / "out", model_cfg=ModelConfig(name=str(tiny_model_dir)))
    row = read_rows(tmp_path / "out", "train")[0]
    assert result.template == "chat" and row["prompt"].endswith("<|im_start|>assistant\n")
    assert row["messages"][-1] == {"role": "assistant", "content": row["response"]}
    assert f"<|im_start|>user\n{row['instruction']}<|im_end|>" in row["prompt"]


def test_auto_template_is_the_chat_template_of_an_instruct_model(tmp_path, tiny_model_dir):
    """Issue #12: alpaca rows for a model with a chat template are trained on the prompts it is evaluated with."""
    src = write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"Return {i}.", "output": f"    return {i}\n"}
                                             for i in range(5)])
    result = prepare(DataConfig(source=str(src)), tmp_path / "out", model_cfg=ModelConfig(name=str(tiny_model_dir)))
    row = read_rows(tmp_path / "out", "train")[0]
    assert result.template == "chat" and row["prompt"].endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert row["response"].startswith("    return ")  # the answer keeps its indentation
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["template"] == "chat" and meta["template_source"]["chat_template_sha256"]
    plain = prepare(DataConfig(source=str(src)), tmp_path / "no-chat",
                    model_cfg=ModelConfig(name=str(tiny_model_dir), chat_template="none"))
    assert plain.template == "alpaca"


# ----------------------------------------------------------------------------- bad input: one error, nothing written


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temp dir left behind


@pytest.mark.parametrize("name, text, message", [
    ("bad.jsonl", '{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n', r"bad.jsonl:2: malformed JSON"),
    ("field.jsonl", '{"instruction": "a", "output": "b"}\n{"instruction": "c"}\n', r"field.jsonl:2: missing field 'output'"),
    ("type.jsonl", '{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": 5}\n',
     r"type.jsonl:2: field 'output' must be a string, got int"),
    ("empty.jsonl", "\n", r"the dataset is empty"),
    ("blank.jsonl", '{"instruction": "a", "output": " "}\n{"instruction": "", "output": "b"}\n',
     r"no rows left after cleaning \(empty instruction: 1, empty response: 1\)"),
])
def test_bad_input_is_one_error_and_nothing_is_written(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(LoralabError, match=message):
        prepare(DataConfig(source=str(tmp_path / name)), tmp_path / "out")
    assert_nothing_written(tmp_path)


def test_non_utf8_and_missing_file(tmp_path):
    (tmp_path / "latin1.jsonl").write_bytes('{"instruction": "café", "output": "x"}\n'.encode("latin-1"))
    with pytest.raises(LoralabError, match=r"latin1.jsonl:1: not valid UTF-8"):
        prepare(DataConfig(source=str(tmp_path / "latin1.jsonl")), tmp_path / "out")
    with pytest.raises(LoralabError, match=r"nowhere.json: no such file"):
        prepare(DataConfig(source=str(tmp_path / "nowhere.json")), tmp_path / "out")
    assert_nothing_written(tmp_path)


def test_error_keeps_the_previous_preparation(tmp_path):
    src = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "a", "output": "b"}] * 3)
    prepare(DataConfig(source=str(src)), tmp_path / "out")
    before = (tmp_path / "out" / "train.jsonl").read_bytes()
    src.write_text(src.read_text() + "{oops\n")
    with pytest.raises(LoralabError, match=r"d.jsonl:4: malformed JSON"):
        prepare(DataConfig(source=str(src)), tmp_path / "out")
    assert (tmp_path / "out" / "train.jsonl").read_bytes() == before


def test_refuses_to_replace_a_directory_it_did_not_write(tmp_path):
    src = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "a", "output": "b"}])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(LoralabError, match="was not written by `loralab prepare`"):
        prepare(DataConfig(source=str(src)), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_split_names_route_a_source_split(tmp_path):
    """A train/test hub dataset whose test split should serve as validation (early stopping)."""
    root = tmp_path / "hub_copy"
    root.mkdir()
    write_jsonl(root / "train.jsonl", [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(4)])
    write_jsonl(root / "test.jsonl", [{"prompt": "t", "completion": "u"}])
    plain = prepare(DataConfig(source=str(root), use_predefined_splits=True), tmp_path / "plain")
    assert plain.counts == {"train": 4, "validation": 0, "test": 1}  # no validation loss to stop on
    cfg = DataConfig(source=str(root), use_predefined_splits=True, split_names={"test": "validation"})
    assert prepare(cfg, tmp_path / "out").counts == {"train": 4, "validation": 1, "test": 0}
    assert read_rows(tmp_path / "out", "validation")[0]["id"] == "test:0"
    with pytest.raises(ValueError, match="needs use_predefined_splits"):
        DataConfig(source=str(root), split_names={"test": "validation"})


def test_fingerprint_ignores_an_empty_split_names(tmp_path, monkeypatch):
    """Preparations made before data.split_names existed keep their fingerprint (this value is what
    loralab wrote before the key was added), so studies do not prepare their data again."""
    monkeypatch.chdir(tmp_path)  # the source path is part of the fingerprint: keep it relative
    Path("d.jsonl").write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": "d"}\n')
    prepare(DataConfig(source="d.jsonl", template="alpaca"), tmp_path / "out")
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["fingerprint"] == (
        "048a815613a1dd354ff540c61347b42b110be9ffb1a50672ddf7e2ffd42a23d2")
