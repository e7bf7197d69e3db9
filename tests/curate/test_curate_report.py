"""The comparison table (CSV, Markdown, names) and the real curate commands on small files (slow)."""

import csv
import io
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loralab.cli import app
from loralab.curate.report import COLUMNS, csv_text, dataset_names, markdown, table

runner = CliRunner()
M = {"input": "a.json", "rows": 3, "mtld": 12.345, "question_spread": 4.0, "code_spread": math.inf,
     "halstead_vocabulary": 3.0, "halstead_length": 3.0, "halstead_difficulty": 0.5, "cyclomatic": 1.0,
     "parse_rate": 2 / 3}


def test_table_formats_every_column_and_marks_missing_values():
    header, rows = table(["a"], [dict(M, code_spread=None)])
    assert header == ["dataset"] + [title for _, title, _, _ in COLUMNS]
    assert rows == [["a", "3", "12.3", "4.00", "n/a", "3.0", "3.0", "0.50", "1.00", "66.7%"]]
    md = markdown(header, rows).splitlines()
    assert md[0].startswith("| dataset | n rows | MTLD |") and md[1].startswith("|---|---:|") and len(md) == 3


def test_csv_keeps_full_precision():
    got = list(csv.DictReader(io.StringIO(csv_text(["a"], [dict(M, code_spread=None)]))))
    assert got[0]["mtld"] == "12.345" and got[0]["code_spread"] == "" and got[0]["path"] == "a.json"


def test_dataset_names_disambiguate_equal_stems():
    assert dataset_names([Path("x/a.json"), Path("y/b.jsonl")]) == ["a", "b"]
    assert dataset_names([Path("run1/train.jsonl"), Path("run2/train.jsonl")]) == ["run1/train", "run2/train"]
    assert dataset_names([Path("r/t.json"), Path("r/t.jsonl")]) == ["r/t#1", "r/t#2"]


def small_set(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text(json.dumps([{"instruction": q, "input": "", "output": a} for q, a in rows]))
    return path


DEEP = [("Write a function that returns the n-th Fibonacci number.",
         "```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n```"),
        ("Write a function that checks whether a number is prime.",
         "def is_prime(n):\n    if n < 2:\n        return False\n    for d in range(2, int(n ** 0.5) + 1):\n"
         "        if n % d == 0:\n            return False\n    return True"),
        ("Write a function that computes the factorial of n.", "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)")]
WIDE = [("Explain what a database index is.", "An index speeds up lookups."),
        ("Write a haiku about the sea.", "Waves fold into foam"),
        ("Sum two numbers in Python.", "print(1 + 2)"),
        ("Name three sorting algorithms.", "Quicksort, mergesort, heapsort.")]


@pytest.mark.slow
def test_compare_command_writes_csv_and_markdown(tmp_path):
    a, b = small_set(tmp_path / "deep.json", DEEP), small_set(tmp_path / "wide.json", WIDE)
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["curate", "--compare", str(a), str(b), "--out", str(out), "--set", "embedder.cache=false"])
    assert res.exit_code == 0, res.output
    assert "deep" in res.output and "wide" in res.output
    rows = {r["dataset"]: r for r in csv.DictReader(open(out / "compare.csv"))}
    assert float(rows["deep"]["parse_rate"]) == 1.0 and float(rows["wide"]["parse_rate"]) == 0.25
    assert float(rows["deep"]["cyclomatic"]) > float(rows["wide"]["cyclomatic"]) == 1.0
    assert all(float(rows[n]["question_spread"]) > 1 for n in rows)
    assert (out / "compare.md").read_text().count("\n") == 4
    assert (out / "datasets" / "deep" / "metrics.json").exists() and (out / "meta.json").exists()


@pytest.mark.slow
def test_dedup_metrics_contamination_commands_on_real_data(tmp_path):
    from realdata import shared_file

    rows = json.loads(shared_file("instruct/code_alpaca_2k.json").read_text())[:300]
    src = tmp_path / "alpaca300.json"
    src.write_text(json.dumps(rows + rows[:5]))  # five exact repeats
    res = runner.invoke(app, ["curate", "dedup", str(src), "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["by_reason"]["exact"] == 5 and summary["kept"] == len(rows) - summary["by_reason"]["semantic"]
    res = runner.invoke(app, ["curate", "metrics", str(src), "--out", str(tmp_path / "m"), "--sample", "100"])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert m["rows"] == 305 and m["spread_sample"] == 100 and 0 < m["parse_rate"] < 1 and m["mtld"] > 20
    res = runner.invoke(app, ["curate", "contamination", str(src), "--out", str(tmp_path / "c"), "--drop"])
    assert res.exit_code == 0, res.output
    c = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert c["eval_items"] == {"humaneval": 164} and c["kept"] == 305 - c["suspicious"]
