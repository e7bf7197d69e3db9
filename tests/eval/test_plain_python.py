"""stdio programs behave as under plain CPython (`python main.py < input`), also where
LiveCodeBench's runner (lcb_runner/evaluation/testing_util.py) differs. One test per row
of the table in docs/sandbox.md: each program is run by a plain `python3` here (the
reference) and by the sandbox, and both must give the expected answer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loralab.eval.sandbox import Limits, Program, check_many, run
from loralab.eval.tasks.livecodebench import PRELUDE

# row of the docs table -> (program, stdin, expected stdout)
ROWS = {
    "stdin.buffer.readline": ("import sys\na = int(sys.stdin.buffer.readline())\nb = int(sys.stdin.buffer.readline())\n"
                              "print(a + b)\n", "1\n2\n", "3"),
    "for line in sys.stdin": ("import sys\nprint(sum(int(line) for line in sys.stdin))\n", "1\n2\n3\n", "6"),
    "read() after input()": ("import sys\nn = int(input())\nrest = sys.stdin.read().split()\nprint(n, len(rest))\n",
                             "2\n5 6\n", "2 2"),
    "readline() keeps its newline": ("import sys\ns = sys.stdin.readline()[:-1]\nprint(s[::-1])\n", "abc\n", "cba"),
    "readlines() has no phantom line": ("import sys\nprint(len(sys.stdin.readlines()))\n", "a\nb\n", "2"),
    "global at top level": ("total = 0\ndef add(x):\n    global total\n    total += x\nadd(2)\nadd(3)\nprint(total)\n", "", "5"),
    "quit()": ("print(7)\nquit()\nprint(8)\n", "", "7"),
    "sys.stdout.buffer": ("import sys\nsys.stdout.buffer.write(b'42\\n')\n", "", "42"),
    "os.write(1, ...)": ("import os\nos.write(1, b'9\\n')\n", "", "9"),
    "os.getcwd and files": ("import os\nos.getcwd()\nopen('t.txt', 'w').write('11')\nprint(open('t.txt').read())\n", "", "11"),
    "thread without join": ("import sys, threading\nthreading.stack_size(64 * 1024 * 1024)\nsys.setrecursionlimit(10 ** 6)\n"
                            "def main():\n    def depth(n):\n        return 0 if n == 0 else 1 + depth(n - 1)\n"
                            "    print(depth(int(input())))\nthreading.Thread(target=main).start()\n", "20000\n", "20000"),
    "trailing whitespace flood": ("import sys\nprint(5)\nsys.stdout.write('\\n' * 3_000_000 + ' ' * 3_000_000)\n", "", "5"),
    "atexit": ("import atexit\natexit.register(lambda: print('bye'))\nprint('hi')\n", "", "hi\nbye"),
    "exit with status": ("import sys\nprint(1)\nsys.exit(3)\n", "", "1"),
}


def plain_python(code: str, stdin: str, cwd) -> str:
    """The reference: the program run by plain CPython, after LCB's prelude."""
    proc = subprocess.run([sys.executable, "-c", PRELUDE + code], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=cwd)
    return proc.stdout


@pytest.mark.parametrize("name", list(ROWS))
def test_plain_cpython_gives_the_expected_answer(name, tmp_path):
    code, stdin, expected = ROWS[name]
    assert plain_python(code, stdin, tmp_path).strip() == expected


def test_the_sandbox_agrees_with_plain_cpython_on_every_row():
    programs = [Program(code=c, mode="stdio", prelude=PRELUDE, cases=((i, o),)) for c, i, o in ROWS.values()]
    verdicts = check_many(programs, workers=2, limits=Limits(timeout=10.0))
    failed = {name: v.detail for name, v in zip(ROWS, verdicts, strict=True) if not v.passed}
    assert failed == {}


def test_output_beyond_what_the_comparison_keeps_is_an_output_limit():
    flood = run(Program(code="while True:\n    print('x' * 1000)\n", mode="stdio", cases=(("", "1"),)), Limits(timeout=5.0))
    assert flood.status == "output_limit" and flood.result.startswith("failed:"), flood


def test_a_thread_that_never_ends_is_a_timeout():
    v = run(Program(code="import threading, time\nthreading.Thread(target=lambda: time.sleep(60)).start()\nprint(1)\n",
                    mode="stdio", cases=(("", "1"),), timeout=1.0))
    assert v.status == "timeout", v


def test_functional_problems_get_a_timeout_per_call_as_livecodebench():
    code = "import time\ndef f(x):\n    time.sleep(1.2)\n    return x + 1\n"
    tests = "for i in range(3):\n    assert f(i) == i + 1\n"
    per_call = run(Program(code=code, names={"f": "f"}, tests=tests, timeout=2.0, calls=3))
    assert per_call.passed, per_call  # 3.6 s in all, 1.2 s per call
    shared = run(Program(code=code, names={"f": "f"}, tests=tests, timeout=2.0))
    assert shared.status == "timeout"  # one budget for the whole program
    slow = run(Program(code="import time\ndef f(x):\n    time.sleep(3)\n", names={"f": "f"}, tests="f(1)\n",
                       timeout=1.0, calls=3))
    assert slow.status == "timeout" and "1s limit" in slow.detail, slow


def test_a_huge_return_value_is_a_memory_verdict():
    v = run(Program(code="def f(x):\n    return 'x' * (400 * 2 ** 20)\n", names={"f": "f"}, tests="f(1)\n"),
            Limits(timeout=10.0, memory_mb=768))
    assert v.status == "memory", v
