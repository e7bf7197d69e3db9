"""The bundled Python tasks: loralab/assets/pytasks.jsonl is the build of data/pytasks/*.yaml, and valid.

Validity is one function, `problems` in scripts/build_pytasks.py (the build refuses to write
when it finds anything): fields, unique ids, entry points named by the instruction, standard
library only, 3-6 one-line asserts, every reference passes its tests and a stub returning None
fails one. Here it runs on the committed file, and on broken copies to show it catches each kind.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path

import pytest
from realdata import load_script  # noqa: E402

from loralab.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
ASSET = Path(str(importlib.resources.files("loralab") / "assets" / "pytasks.jsonl"))
REBUILD = "rerun: .venv/bin/python scripts/build_pytasks.py"


builder = load_script(ROOT / "scripts" / "build_pytasks.py")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return read_jsonl(ASSET)


def test_committed_asset_is_the_build_of_the_source_byte_for_byte():
    assert ASSET.read_text(encoding="utf-8") == builder.render(builder.build_rows()), REBUILD


def test_committed_asset_is_valid(rows):
    assert len(rows) == 162
    assert builder.problems(rows) == []


def test_raises_lines_expand_into_one_line_asserts_that_run(rows):
    row = next(r for r in rows if r["entry_point"] == "parse_rgb")
    assert "assertRaises(ValueError, parse_rgb, 'ff8000') is None" in row["tests"][3]
    assert builder.run_tests([{**row, "solution": "def parse_rgb(s):\n    return (0, 0, 0)\n"}])[row["task_id"]]


def _broken(rows: list[dict], index: int, **changes) -> list[dict]:
    return [{**row, **changes} if i == index else row for i, row in enumerate(rows)]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"entry_point": "count_vowels"}, "duplicate entry_point"),
    ({"topic": None}, "every field but tests"),
    ({"instruction": "Write a function."}, "instruction does not name"),
    ({"solution": "import numpy\n\ndef f():\n    return 1\n"}, "imports numpy"),
    ({"tests": ["assert True", "assert True", "assert True"]}, "not a one-line assert calling"),
])
def test_validator_names_each_static_problem(rows, changes, expected):
    found = builder.problems(_broken(rows, 5, **changes))
    assert any(expected in p for p in found), found


def test_validator_catches_a_missing_field_and_a_wrong_id(rows):
    missing = [{k: v for k, v in row.items() if k != "tests"} if i == 3 else row for i, row in enumerate(rows)]
    assert any(p.startswith("pytasks/3: fields") for p in builder.problems(missing))
    assert any("expected 'pytasks/1'" in p for p in builder.problems(_broken(rows, 1, task_id="pytasks/99")))


def test_validator_runs_the_code_a_wrong_reference_and_a_vacuous_test_fail(rows):
    ep = rows[7]["entry_point"]
    wrong = _broken(rows, 7, solution=f"def {ep}(*args, **kwargs):\n    return 12345\n")
    assert any(p.startswith("pytasks/7: reference fails") for p in builder.problems(wrong))
    vacuous = _broken(rows, 7, tests=[f"assert callable({ep})"] * 3)
    assert builder.problems(vacuous) == ["pytasks/7: a stub returning None passes every test"]


def test_a_malformed_source_file_is_named(tmp_path):
    (tmp_path / "00_strings.yaml").write_text("tasks:\n  - instruction: x\n    solution: y\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="00_strings.yaml: task 0: expected exactly the keys"):
        builder.build_rows(tmp_path)
