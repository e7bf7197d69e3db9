"""The bundled Python tasks (loralab/assets/pytasks.jsonl): schema, and every reference passes its tests.

Solutions and tests run in a child interpreter (`python -I`), each test in a fresh namespace
holding only the solution, so no test leans on state another left behind. A stub that returns
None must fail at least one test of every task, or the tests prove nothing.
"""

from __future__ import annotations

import ast
import importlib.resources
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from loralab.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
ASSET = Path(str(importlib.resources.files("loralab") / "assets" / "pytasks.jsonl"))
KEYS = {"task_id", "topic", "instruction", "entry_point", "solution", "tests"}
FORBIDDEN_CALLS = {"print", "open", "input", "exec", "eval", "__import__", "breakpoint"}

# Runs in the child: reads tasks as JSON on stdin, writes {task_id: [failed test, ...]} on stdout.
RUNNER = r"""
import json, signal, sys

def _too_slow(signum, frame):
    raise TimeoutError("ran over 5 s")

signal.signal(signal.SIGALRM, _too_slow)
out, sys.stdout = sys.stdout, sys.stderr  # a stray print must not corrupt the JSON report
results = {}
for task in json.load(sys.stdin):
    failed = []
    for test in task["tests"]:
        namespace = {"__name__": "__pytask__"}
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        try:
            exec(compile(task["solution"], task["task_id"], "exec"), namespace)
            exec(compile(test, task["task_id"] + " test", "exec"), namespace)
        except Exception as e:
            failed.append(f"{test}  ->  {type(e).__name__}: {e}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    results[task["task_id"]] = failed
json.dump(results, out)
"""


def run_tasks(tasks: list[dict]) -> dict[str, list[str]]:
    """Failed tests per task id, from one child interpreter that runs every task."""
    proc = subprocess.run([sys.executable, "-I", "-c", RUNNER], input=json.dumps(tasks),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return read_jsonl(ASSET)


def test_schema_ids_and_topics(rows):
    assert len(rows) >= 100
    for i, row in enumerate(rows):
        assert set(row) == KEYS, row.get("task_id", i)
        assert row["task_id"] == f"pytasks/{i}"
        assert all(isinstance(row[k], str) and row[k].strip() for k in KEYS - {"tests"}), row["task_id"]
        assert isinstance(row["tests"], list) and all(isinstance(t, str) for t in row["tests"]), row["task_id"]
    topics = Counter(row["topic"] for row in rows)
    assert len(topics) >= 8 and min(topics.values()) >= 5, topics
    for key in ("entry_point", "instruction", "solution"):
        values = [row[key] for row in rows]
        assert len(set(values)) == len(values), f"duplicate {key}"


def test_lines_are_canonical_json():
    # sorted keys, one object a line: the file is byte-stable under a rebuild
    for line in ASSET.read_text(encoding="utf-8").splitlines():
        assert line == json.dumps(json.loads(line), ensure_ascii=False, sort_keys=True)


def test_instruction_names_the_entry_point_the_solution_defines(rows):
    for row in rows:
        ep = row["entry_point"]
        defined = [n.name for n in ast.parse(row["solution"]).body if isinstance(n, ast.FunctionDef)]
        assert ep in defined, f"{row['task_id']}: solution does not define {ep}"
        assert f"`{ep}(" in row["instruction"], f"{row['task_id']}: instruction does not name {ep}"


def test_solutions_use_only_the_standard_library_and_no_io(rows):
    for row in rows:
        for node in ast.walk(ast.parse(row["solution"])):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                modules = []
            for module in modules:
                assert module.split(".")[0] in sys.stdlib_module_names, f"{row['task_id']} imports {module}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{row['task_id']} calls {node.func.id}"


def test_tests_are_three_to_six_single_line_asserts_on_the_entry_point(rows):
    for row in rows:
        assert 3 <= len(row["tests"]) <= 6, row["task_id"]
        for test in row["tests"]:
            body = ast.parse(test).body
            assert "\n" not in test and len(body) == 1 and isinstance(body[0], ast.Assert), (row["task_id"], test)
            assert row["entry_point"] in test, (row["task_id"], test)


def test_every_reference_solution_passes_all_its_tests(rows):
    results = run_tasks(rows)
    assert set(results) == {row["task_id"] for row in rows}
    failed = {task_id: tests for task_id, tests in results.items() if tests}
    assert not failed, json.dumps(failed, indent=1)[:4000]


def test_a_stub_returning_none_fails_every_task(rows):
    stubs = [{**row, "solution": f"def {row['entry_point']}(*args, **kwargs):\n    return None\n"} for row in rows]
    results = run_tasks(stubs)
    vacuous = [task_id for task_id, failed in results.items() if not failed]
    assert len(results) == len(rows) and not vacuous, vacuous


def test_committed_file_matches_its_source(rows):
    # scripts/build_pytasks.py is where the tasks are written; the JSONL must be its output
    spec = importlib.util.spec_from_file_location("build_pytasks", ROOT / "scripts" / "build_pytasks.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert builder.build_rows() == rows, "rerun: .venv/bin/python scripts/build_pytasks.py"
