"""The bundled acme tasks (loralab/assets/acme.jsonl) and their eval task `acme`.

Every reference solution passes its tests in the real sandbox with the in-house library
importable, and fails without it; the instruction never names the helper it needs (a model
must have learnt the library to pass); a stub returning None fails every task.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from realdata import load_script  # noqa: E402

from loralab.data.formats import fenced_python
from loralab.eval.tasks import check, get_task
from loralab.eval.tasks.pytasks import PyTasks
from loralab.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"task_id", "topic", "instruction", "entry_point", "solution", "tests"}


@pytest.fixture(scope="module")
def task():
    return get_task("acme")


@pytest.fixture(scope="module")
def rows(task) -> list[dict]:
    return read_jsonl(task.source)


def test_schema_and_ids(rows):
    assert len(rows) == 160
    for i, row in enumerate(rows):
        assert set(row) == KEYS and row["task_id"] == f"acme/{i}", row
        assert 3 <= len(row["tests"]) <= 6 and all(row["entry_point"] in t for t in row["tests"]), row["task_id"]
    entries = [row["entry_point"] for row in rows]
    assert len(set(entries)) == len(entries)


def test_the_instruction_never_names_the_helper(rows):
    for row in rows:
        helper = row["topic"]
        assert f"from acme import {helper}\n" in row["solution"], row["task_id"]
        assert helper not in row["instruction"], row["task_id"]


def test_every_reference_passes_in_the_sandbox_with_the_library(task):
    problems = task.problems()
    verdicts = check(task, problems, [fenced_python(p.meta["solution"]) for p in problems], workers=2)
    failed = {p.task_id: v.detail for p, v in zip(problems, verdicts, strict=True) if not v.passed}
    assert not failed, failed


def test_without_the_library_the_references_fail(task):
    # the same rows judged as plain pytasks: `from acme import ...` has nothing to import
    plain = PyTasks(path=str(task.source))
    problems = plain.problems()[:5]
    verdicts = check(plain, problems, [fenced_python(p.meta["solution"]) for p in problems], workers=2)
    assert all(not v.passed and "acme" in v.detail for v in verdicts), [v.detail for v in verdicts]


def test_a_stub_returning_none_or_a_guessed_helper_fails(task):
    problems = task.problems()
    stubs = [f"def {p.entry_point}(*args, **kwargs):\n    return None\n" for p in problems]
    guess = "import acme\n\ndef price_of(cents: int) -> str:\n    return acme.price_label(cents)\n"
    verdicts = check(task, problems + problems[:1], stubs + [guess], workers=2)
    assert not any(v.passed for v in verdicts)
    assert "no attribute 'price_label'" in verdicts[-1].detail


def test_committed_file_matches_its_source(rows):
    builder = load_script(ROOT / "scripts" / "build_acme_tasks.py")
    assert builder.build_rows() == rows, "rerun: .venv/bin/python scripts/build_acme_tasks.py"
    text = (ROOT / "loralab" / "assets" / "acme.jsonl").read_text(encoding="utf-8")
    assert text == "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
