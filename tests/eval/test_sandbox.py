"""The sandbox judges honest programs right: the three modes, plain-data calls, LiveCodeBench's
stdout rule, verdict statuses, parallel runs. Hostile programs are in test_hostile.py."""

from __future__ import annotations

import pytest

from loralab.eval.sandbox import Limits, Program, Verdict, check_many, probe, run

FAST = Limits(timeout=2.0)


def call(code: str, tests: str, names=None, setup: str = "") -> Program:
    return Program(code=code, names=names or {"f": "f"}, tests=tests, setup=setup)


def test_call_mode_pass_and_fail_with_the_failing_test_line():
    ok = run(call("def f(x):\n    return x + 1\n", "assert f(1) == 2\nassert f(-1) == 0\n"), FAST)
    bad = run(call("def f(x):\n    return x + 2\n", "assert f(1) == 2\n"), FAST)
    assert ok.status == "passed" and ok.passed and ok.result == "passed"
    assert bad.status == "failed" and "tests line 1: assert f(1) == 2" in bad.detail
    assert bad.result.startswith("failed: AssertionError")


def test_plain_data_round_trips_with_types_kept():
    code = ("def f(kind):\n"
            "    return {'t': (1, 2.5, None), 'l': [True, 'x'], 's': {1, 2}, 'fs': frozenset({3}),\n"
            "            'b': b'\\x00\\xff', 'c': 1+2j, 'big': 10**40, 'd': {(1, 2): [3]}, 'neg0': -0.0}[kind]\n")
    tests = ("assert f('t') == (1, 2.5, None) and type(f('t')) is tuple\n"
             "assert f('l') == [True, 'x'] and f('l')[0] is True\n"
             "assert f('s') == {1, 2} and type(f('fs')) is frozenset\n"
             "assert f('b') == b'\\x00\\xff' and f('c') == 1+2j and f('big') == 10**40\n"
             "assert f('d') == {(1, 2): [3]}\n"
             "import math\nassert math.copysign(1, f('neg0')) == -1\n")
    assert run(call(code, tests), FAST).passed


def test_common_library_types_become_their_plain_equivalents():
    code = ("from collections import Counter, namedtuple, OrderedDict\nfrom fractions import Fraction\n"
            "P = namedtuple('P', 'a b')\n"
            "def f(k):\n    return {'c': Counter('aab'), 'p': P(1, 2), 'o': OrderedDict(a=1), 'q': Fraction(1, 3)}[k]\n")
    tests = ("assert f('c') == {'a': 2, 'b': 1}\nassert f('p') == (1, 2)\nassert f('o') == {'a': 1}\n"
             "from fractions import Fraction\nassert f('q') == Fraction(1, 3)\n")
    assert run(call(code, tests), FAST).passed


def test_exceptions_cross_as_the_same_builtin_type():
    code = "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x\n"
    tests = "try:\n    f(-1)\n    raise AssertionError('no error')\nexcept ValueError as e:\n    assert 'negative' in str(e)\n"
    assert run(call(code, tests), FAST).passed
    v = run(call(code, "f(-1)\n"), FAST)
    assert v.status == "failed" and v.detail.startswith("ValueError: negative")


def test_setup_runs_in_the_judge_and_missing_names_fail_like_a_name_error():
    setup = "def helper(x):\n    return x * 10\n"
    v = run(call("def f(x):\n    return x * 10\n", "assert f(2) == helper(2)\n", setup=setup), FAST)
    assert v.passed
    missing = run(call("def g(x):\n    return x\n", "assert f(1) == 1\n"), FAST)
    assert missing.status == "failed" and "NameError" in missing.detail


def test_method_of_a_class_instance_as_livecodebench_calls_it():
    code = "class Solution:\n    def twice(self, xs):\n        return [2 * x for x in xs]\n"
    p = Program(code=code, names={"candidate": "Solution().twice"}, tests="assert candidate([1, 2]) == [2, 4]\n")
    assert run(p, FAST).passed


def test_syntax_error_and_runtime_error_at_import_are_failures_with_the_line():
    v = run(call("def f(x)\n    return x\n", "assert f(1) == 1\n"), FAST)
    assert v.status == "failed" and v.detail.startswith("SyntaxError")
    v = run(call("x = 1 / 0\ndef f(x):\n    return x\n", "assert f(1) == 1\n"), FAST)
    assert v.status == "failed" and "ZeroDivisionError" in v.detail and "line 1" in v.detail


def test_program_output_is_captured():
    v = run(call("print('hello from the program')\ndef f(x):\n    return x\n", "assert f(1) == 1\n"), FAST)
    assert v.passed and "hello from the program" in v.stdout


def test_timeout_and_memory_statuses():
    slow = run(call("def f(x):\n    while True:\n        pass\n", "f(1)\n"), Limits(timeout=0.5))
    assert slow.status == "timeout" and slow.result == "timed out"
    hog = run(call("def f(x):\n    return bytearray(10 ** 10)\n", "f(1)\n"), Limits(timeout=2.0, memory_mb=256))
    assert hog.status == "memory"


def test_stdio_mode_compares_lines_and_decimals_as_livecodebench_does():
    code = "a, b = map(int, input().split())\nprint(a + b)\nprint(f'{a / b:.2f}')\n"
    cases = (("1 2\n", "3\n0.50\n"), ("3 4", "7\n0.75"))
    assert run(Program(code=code, mode="stdio", cases=cases), FAST).passed
    # 0.5 vs 0.50 is the same Decimal; trailing spaces and blank tail lines do not matter
    assert run(Program(code="print(' 3 ')\nprint(0.5)\n\n", mode="stdio", cases=(("", "3\n0.50\n"),)), FAST).passed
    wrong = run(Program(code=code, mode="stdio", cases=(("1 2\n", "4\n0.50\n"),)), FAST)
    assert wrong.status == "failed" and "line 1: got '3', expected '4'" in wrong.detail
    short = run(Program(code="print(1)\n", mode="stdio", cases=(("", "1\n2\n"),)), FAST)
    assert short.status == "failed" and "1 output lines, expected 2" in short.detail


def test_stdio_mode_runtime_error_timeout_and_exit_per_case():
    crash = run(Program(code="x = int(input())\nprint(10 // x)\n", mode="stdio", cases=(("2", "5"), ("0", "0"))), FAST)
    assert crash.status == "failed" and crash.detail.startswith("case 2/2: runtime error: ZeroDivisionError")
    slow = run(Program(code="while True:\n    pass\n", mode="stdio", cases=(("", ""),), timeout=0.5), FAST)
    assert slow.status == "timeout" and "case 1/1" in slow.detail
    exits = run(Program(code="import sys\nprint(42)\nsys.exit(0)\nprint(1)\n", mode="stdio", cases=(("", "42"),)), FAST)
    assert exits.passed


def test_stdio_cases_do_not_share_state():
    code = "import os\nprint(os.path.exists('mark'))\nopen('mark', 'w').close()\n"
    # every case is a fresh process but the work dir is shared, as on a real judge
    v = run(Program(code=code, mode="stdio", cases=(("", "False"), ("", "True"))), FAST)
    assert v.passed
    code = "seen = globals().setdefault('seen', [])\nseen.append(1)\nprint(len(seen))\n"
    assert run(Program(code=code, mode="stdio", cases=(("", "1"), ("", "1"))), FAST).passed


def test_inline_mode_and_plain_strings_pass_only_when_run_to_the_end():
    assert run("x = 1\nassert x == 1\n", FAST).passed
    assert run("assert 1 == 2\n", FAST).status == "failed"
    assert run("import sys\nsys.exit(0)\nassert False\n", FAST).status == "failed"


def test_check_many_keeps_order_in_parallel():
    programs = [call(f"def f(x):\n    return x + {i % 2}\n", "assert f(1) == 1\n") for i in range(6)]
    seen = []
    verdicts = check_many(programs, workers=2, limits=FAST, progress=seen.append)
    assert [v.passed for v in verdicts] == [i % 2 == 0 for i in range(6)]
    assert seen == [1, 2, 3, 4, 5, 6]


def test_verdict_record_and_isolation_report():
    v = run(call("def f(x):\n    return x\n", "assert f(1) == 1\n"), FAST)
    rec = v.record()
    assert rec["status"] == "passed" and isinstance(rec["isolation"], list)
    assert "rlimits" in v.isolation and set(probe()) == set(v.isolation)
    assert isinstance(Verdict("crashed", "boom").result, str)


def test_program_text_is_the_single_file_a_reference_harness_would_run():
    p = Program(code="def g(x):\n    return x\n", names={"candidate": "g"}, setup="import math\n",
                tests="assert candidate(1) == 1\n")
    text = p.text()
    assert text.index("def g") < text.index("candidate = g") < text.index("import math") < text.index("assert")
    ns = {}
    exec(text, ns)  # our own trusted snippet


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        run(Program(code="", mode="eval"), FAST)
