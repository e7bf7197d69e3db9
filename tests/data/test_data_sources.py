"""Reading sources: every file type, dataset directories through `datasets`, bundled data, bad input."""

import json

import pytest

from loralab.data import sources
from loralab.data.sources import load_source
from loralab.errors import LoralabError
from loralab.io import sha256_file

ROWS = [{"instruction": "Add two numbers.", "input": "", "output": "def add(a, b):\n    return a + b"},
        {"instruction": "Reverse a string.", "input": "s = 'abc'", "output": "s[::-1]"}]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def dataset_dir(tmp_path):
    """A local copy of a hub-style dataset: one data file per split, as `load_dataset(dir)` reads it."""
    root = tmp_path / "hub_copy"
    root.mkdir()
    for split, rows in (("train", ROWS * 3), ("validation", ROWS[:1]), ("test", ROWS[1:])):
        write_jsonl(root / f"{split}.jsonl", rows)
    return root


def test_json_list_jsonl_and_jsonl_named_json_read_the_same(tmp_path):
    as_list = tmp_path / "a.json"
    as_list.write_text(json.dumps(ROWS, indent=2))
    for path in (as_list, write_jsonl(tmp_path / "b.jsonl", ROWS), write_jsonl(tmp_path / "c.json", ROWS)):
        src = load_source(str(path))
        assert [r.fields for r in src.rows()] == ROWS
        assert [r.id for r in src.rows()] == [f"{path.name}:0", f"{path.name}:1"]
        assert src.input_hash == sha256_file(path) and not src.has_predefined_splits
    assert load_source(str(tmp_path / "b.jsonl")).rows()[1].where.endswith("b.jsonl:2")


def test_csv_cells_stay_text(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('instruction,input,output\nAdd.,"1, 2","3"\n"Multi\nline",,x\n', encoding="utf-8")
    rows = load_source(str(path)).rows()
    assert [r.fields for r in rows] == [{"instruction": "Add.", "input": "1, 2", "output": "3"},
                                      {"instruction": "Multi\nline", "input": "", "output": "x"}]
    assert rows[1].where.endswith("rows.csv:4")  # the line the quoted record ends on


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    src = load_source(str(path))
    assert [r.fields for r in src.rows()] == ROWS and src.rows()[0].id == "rows.parquet:0"


def test_dataset_directory_goes_through_load_dataset(dataset_dir):
    src = load_source(str(dataset_dir))
    assert list(src.splits) == ["train", "validation", "test"] and src.has_predefined_splits
    assert [len(v) for v in src.splits.values()] == [6, 1, 1]
    assert src.splits["train"][4].id == "train:4" and src.splits["test"][0].fields == ROWS[1]
    assert load_source(str(dataset_dir)).input_hash == src.input_hash  # a hash of the rows, stable


def test_hub_split_selects_one(dataset_dir):
    src = load_source(str(dataset_dir), hub_split="test")
    assert list(src.splits) == ["test"] and [r.fields for r in src.rows()] == ROWS[1:]
    with pytest.raises(LoralabError, match="no split 'dev'"):
        load_source(str(dataset_dir), hub_split="dev")


def test_saved_dataset_directory(tmp_path):
    import datasets

    saved = tmp_path / "saved"
    datasets.DatasetDict(train=datasets.Dataset.from_list(ROWS), test=datasets.Dataset.from_list(ROWS[:1])
                         ).save_to_disk(str(saved))
    src = load_source(str(saved))
    assert list(src.splits) == ["train", "test"] and src.splits["train"][1].fields == ROWS[1]
    with pytest.raises(LoralabError, match=r"no split 'dev' \(it has train, test\)"):
        load_source(str(saved), hub_split="dev")


def test_hub_id_that_cannot_be_loaded_is_one_error():
    with pytest.raises(LoralabError, match="could not load dataset 'nobody-xyz/no-such-dataset'"):
        load_source("nobody-xyz/no-such-dataset")


def test_bundled(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "ASSETS", tmp_path)
    write_jsonl(tmp_path / "mini.jsonl", ROWS)
    assert load_source("bundled:mini").rows()[1].id == "mini.jsonl:1"
    with pytest.raises(LoralabError, match=r"no bundled dataset 'nope' \(bundled: mini\)"):
        load_source("bundled:nope")


@pytest.mark.parametrize("source, message", [
    ("{tmp}/missing.json", "missing.json: no such file"),
    ("{tmp}/missing_dir/", "neither an existing file or directory nor a hub id"),
    ("{tmp}/notes.txt", "unsupported file type '.txt'"),
])
def test_paths_that_are_not_sources(tmp_path, source, message):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(LoralabError, match=message):
        load_source(source.format(tmp=tmp_path))


def test_malformed_jsonl_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + '{"instruction": "x", "output": \n')
    with pytest.raises(LoralabError, match=r"bad.jsonl:3: malformed JSON"):
        load_source(str(path))


def test_malformed_json_list_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    lines = json.dumps(ROWS, indent=2).splitlines()
    lines[3] = '    "input": oops,'
    path.write_text("\n".join(lines))
    with pytest.raises(LoralabError, match=r"bad.json:4: malformed JSON"):
        load_source(str(path))


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(ROWS[0]).encode() + b"\n" + '{"instruction": "café"}\n'.encode("latin-1"))
    with pytest.raises(LoralabError, match=r"latin1.jsonl:2: not valid UTF-8"):
        load_source(str(path))


@pytest.mark.parametrize("name, text, message", [
    ("list.jsonl", '{"a": 1}\n[1, 2]\n', r"list.jsonl:2: expected a JSON object, got list"),
    ("scalars.json", '["a", "b"]', r"scalars.json row 0: expected a JSON object, got str"),
    ("top.json", '"just text"', r"top.json: expected a JSON list of objects"),
    ("wide.csv", "instruction,output\na,b,c\n", r"wide.csv:2: more cells than the 2 header columns"),
])
def test_rows_that_are_not_objects(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(LoralabError, match=message):
        load_source(str(tmp_path / name))


def test_hub_split_on_a_file_is_an_error(tmp_path):
    with pytest.raises(LoralabError, match="data.hub_split"):
        load_source(str(write_jsonl(tmp_path / "a.jsonl", ROWS)), hub_split="train")
