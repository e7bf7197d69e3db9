"""Build loralab/assets/pytasks.jsonl, the Python task set bundled for the demo, from data/pytasks/*.yaml.

Every task was written for loralab (none is taken from HumanEval, MBPP or another benchmark):
an instruction that names the exact function and signature, what to return and how edge cases
behave; a short reference solution using only the standard library; and 3-6 tests, each a
single-line `assert` that runs on its own after the solution.

    .venv/bin/python scripts/build_pytasks.py           # validate, then rewrite the JSONL (byte-stable)
    .venv/bin/python scripts/build_pytasks.py --check   # exit 1 if the committed JSONL is not the build's output

Source: one YAML file per topic, `NN_topic.yaml` (NN orders the topics), holding `tasks:`, a
list of {instruction, solution, tests}. A test is an assert line, or `raises: fn, arg, ...`
for "fn(arg, ...) raises ValueError" (expanded into a one-line assert). Tasks are emitted
round-robin over topics, so any prefix of the file (a quick demo on the first 20) spans many
topics, and numbered pytasks/0..N-1.

`problems(rows)` is the one validator: the build refuses to write when it finds anything,
and tests/test_pytasks_assets.py runs it on the committed file.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "pytasks"
OUT = ROOT / "loralab" / "assets" / "pytasks.jsonl"
KEYS = {"task_id", "topic", "instruction", "entry_point", "solution", "tests"}
FORBIDDEN_CALLS = {"print", "open", "input", "exec", "eval", "__import__", "breakpoint"}

# Tests that expect a ValueError stay one-line asserts: assertRaises(exc, fn, *args) returns
# None when fn raises exc and raises AssertionError when it does not.
RAISES = "assert __import__('unittest').TestCase().assertRaises(ValueError, {call}) is None"


# ----------------------------------------------------------------------------- source -> rows


def read_source(source: Path = SOURCE) -> dict[str, list[dict]]:
    """{topic: [task, ...]} in file order; a malformed file stops with its name and the task's index."""
    topics: dict[str, list[dict]] = {}
    for path in sorted(source.glob("*.yaml")):
        topic = path.stem.partition("_")[2]
        tasks = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("tasks")
        if not topic or not isinstance(tasks, list):
            sys.exit(f"{path}: expected a file NN_topic.yaml holding 'tasks:', a list")
        for i, task in enumerate(tasks):
            if not isinstance(task, dict) or set(task) != {"instruction", "solution", "tests"}:
                sys.exit(f"{path}: task {i}: expected exactly the keys instruction, solution, tests")
        topics[topic] = [{"topic": topic, **task} for task in tasks]
    if not topics:
        sys.exit(f"{source}: no NN_topic.yaml files")
    return topics


def expand_test(test) -> str:
    if isinstance(test, dict) and set(test) == {"raises"}:
        return RAISES.format(call=test["raises"])
    return test  # anything else is checked by problems()


def entry_point(solution: str) -> str:
    """The entry point is the last top-level function the solution defines (helpers come first)."""
    try:
        defs = [node.name for node in ast.parse(solution).body if isinstance(node, ast.FunctionDef)]
    except SyntaxError:
        return ""
    return defs[-1] if defs else ""


def build_rows(source: Path = SOURCE) -> list[dict]:
    """All tasks, round-robin over topics in file order, numbered pytasks/0..N-1."""
    queues = list(read_source(source).values())
    ordered = [queue[i] for i in range(max(map(len, queues))) for queue in queues if i < len(queue)]
    return [{"task_id": f"pytasks/{i}", "topic": task["topic"],
             "instruction": str(task["instruction"]).strip(), "entry_point": entry_point(task["solution"]),
             "solution": task["solution"], "tests": [expand_test(t) for t in task["tests"]]}
            for i, task in enumerate(ordered)]


def render(rows: list[dict]) -> str:
    """The JSONL text: sorted keys, one object a line, as loralab.io.write_jsonl writes it."""
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)


# ----------------------------------------------------------------------------- the validator


def problems(rows: list[dict]) -> list[str]:
    """Everything wrong with a task set, as 'task_id: what' lines; [] means valid."""
    found = set_problems(rows)
    for row in rows:
        found += [f"{row.get('task_id')}: {p}" for p in row_problems(row)]
    if not found:  # running code only makes sense on well-formed rows
        found += run_problems(rows)
    return found


def set_problems(rows: list[dict]) -> list[str]:
    found = [f"row {i}: task_id is {row.get('task_id')!r}, expected 'pytasks/{i}'"
             for i, row in enumerate(rows) if row.get("task_id") != f"pytasks/{i}"]
    for key in ("task_id", "entry_point", "instruction", "solution"):
        counts = Counter(row.get(key) for row in rows)
        found += [f"duplicate {key}: {value!r}" for value, n in counts.items() if n > 1]
    topics = Counter(row.get("topic") for row in rows)
    if len(rows) < 100 or len(topics) < 8 or min(topics.values(), default=0) < 5:
        found.append(f"expected >= 100 tasks over >= 8 topics of >= 5 each, got {len(rows)} over {dict(topics)}")
    return found


def row_problems(row: dict) -> list[str]:
    if set(row) != KEYS:
        return [f"fields {sorted(row)}, expected {sorted(KEYS)}"]
    if not all(isinstance(row[k], str) and row[k].strip() for k in KEYS - {"tests"}):
        return ["every field but tests must be a non-empty string (is entry_point a top-level def?)"]
    tests = row["tests"]
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        return ["tests must be a list of strings"]
    ep, found = row["entry_point"], []
    if f"`{ep}(" not in row["instruction"]:
        found.append(f"instruction does not name `{ep}(...)`")
    found += code_problems(row["solution"])
    if not 3 <= len(tests) <= 6:
        found.append(f"has {len(tests)} tests, expected 3 to 6")
    for test in tests:
        if not is_one_assert(test) or ep not in test:
            found.append(f"test is not a one-line assert calling {ep}: {test!r}")
    return found


def code_problems(solution: str) -> list[str]:
    """Imports outside the standard library and I/O calls: a task's solution must be self-contained."""
    found = []
    for node in ast.walk(ast.parse(solution)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            modules = []
        found += [f"imports {m}, not in the standard library" for m in modules
                  if m.split(".")[0] not in sys.stdlib_module_names]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"calls {node.func.id}")
    return found


def is_one_assert(test: str) -> bool:
    try:
        body = ast.parse(test).body
    except SyntaxError:
        return False
    return "\n" not in test and len(body) == 1 and isinstance(body[0], ast.Assert)


# Runs in a child `python -I`: reads tasks as JSON on stdin, writes {task_id: [failed test, ...]}.
# Each test runs in a fresh namespace holding only the solution, so no test leans on another's state.
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


def run_tests(rows: list[dict]) -> dict[str, list[str]]:
    """Failed tests per task id, from one child interpreter that runs every task."""
    proc = subprocess.run([sys.executable, "-I", "-c", RUNNER], input=json.dumps(rows),
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"the task runner crashed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def run_problems(rows: list[dict]) -> list[str]:
    """Each reference passes all its tests, and a stub returning None fails at least one (else the tests prove nothing)."""
    stubs = [{**row, "solution": f"def {row['entry_point']}(*args, **kwargs):\n    return None\n"} for row in rows]
    found = [f"{task_id}: reference fails {test}" for task_id, failed in run_tests(rows).items() for test in failed]
    found += [f"{task_id}: a stub returning None passes every test" for task_id, failed in run_tests(stubs).items()
              if not failed]
    return found


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed JSONL instead of writing it")
    args = parser.parse_args(argv)
    rows = build_rows()
    found = problems(rows)
    if found:
        print(f"{len(found)} problem(s) in {SOURCE.relative_to(ROOT)}:\n  " + "\n  ".join(found), file=sys.stderr)
        return 1
    text = render(rows)
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT.relative_to(ROOT)} {'matches' if same else 'differs from'} the build of {SOURCE.relative_to(ROOT)}")
        return 0 if same else 1
    tmp = OUT.with_suffix(".jsonl.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(OUT)  # atomic: a reader never sees half a file
    print(f"wrote {len(rows)} tasks over {len({r['topic'] for r in rows})} topics to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
