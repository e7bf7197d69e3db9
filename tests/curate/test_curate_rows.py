"""Reading datasets for curation: formats, field detection, prepared splits, errors naming the row."""

import json

import pytest
from realdata import shared_file

from loralab.curate.config import FieldsConfig, build_config
from loralab.curate.rows import load_examples
from loralab.errors import LoralabError


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_alpaca_json_list_joins_instruction_and_input(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps([{"instruction": "Add two numbers.", "input": "a=1, b=2", "output": "print(1 + 2)"},
                             {"instruction": "Say hi.", "input": "", "output": "print('hi')"}]))
    ex = load_examples(p)
    assert [(e.row, e.line) for e in ex] == [(1, None), (2, None)]
    assert ex[0].question == "Add two numbers.\na=1, b=2" and ex[1].question == "Say hi."
    assert ex[0].response == "print(1 + 2)" and ex[0].data["input"] == "a=1, b=2"


def test_prepared_split_strips_the_alpaca_template(tmp_path):
    prompt = ("Below is an instruction that describes a task.\n\n### Instruction:\nReverse a string.\n\n"
              "### Input:\ns = 'abc'\n\n### Response:\n")
    p = write_jsonl(tmp_path / "train.jsonl", [{"id": "r1", "prompt": prompt, "response": "s[::-1]"}])
    (e,) = load_examples(p)
    assert e.question == "Reverse a string.\ns = 'abc'" and e.response == "s[::-1]" and e.line == 1


def test_field_names_from_config(tmp_path):
    p = write_jsonl(tmp_path / "x.jsonl", [{"q": "Sort a list.", "a": "sorted(xs)"}])
    cfg = build_config(None, [], ["question=q", "response=a"])
    (e,) = load_examples(p, cfg.fields)
    assert (e.question, e.response) == ("Sort a list.", "sorted(xs)")


def test_errors_name_file_line_and_field(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"instruction": "a", "output": "b"}\n\n{"instruction": "c", "output": 3}\n')
    with pytest.raises(LoralabError, match=r"bad.jsonl:3: field 'output' \(fields.response\) is a int"):
        load_examples(p)
    p.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c"\n')
    with pytest.raises(LoralabError, match=r"bad.jsonl:2: malformed JSON"):
        load_examples(p)
    p.write_text('{"title": "a"}\n')
    with pytest.raises(LoralabError, match="no question field in the first row"):
        load_examples(p)
    with pytest.raises(LoralabError, match="no such file"):
        load_examples(tmp_path / "missing.json")
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(LoralabError, match="holds no rows"):
        load_examples(tmp_path / "empty.json")
    with pytest.raises(LoralabError, match="missing"):
        load_examples(write_jsonl(tmp_path / "m.jsonl", [{"instruction": "a", "output": "b"}, {"instruction": "c"}]),
                      FieldsConfig())


def test_config_errors_suggest_the_key():
    with pytest.raises(LoralabError, match="did you mean 'threshold'"):
        build_config(None, ["dedup.treshold=0.9"])
    with pytest.raises(LoralabError, match="--field 'question'"):
        build_config(None, [], ["question"])


def test_reads_both_codealpaca_files():
    a = load_examples(shared_file("instruct/code_alpaca_2k.json"))
    b = load_examples(shared_file("instruct/new_codealpaca.json"))
    assert len(a) == 2017 and len(b) == 4535
    assert all(e.question and isinstance(e.response, str) for e in a + b)
