"""pytasks: loralab's bundled function-writing tasks (loralab/assets/pytasks.jsonl).

Rows: {task_id, topic, instruction, entry_point, solution, tests: [assert lines]}. The
instruction names the function and its signature, so the chat prompt is the instruction
plus a request for one fenced block. `split_file` evaluates a prepared split instead of the
whole asset (e.g. the test.jsonl `loralab prepare bundled:pytasks` wrote), so a model is
scored on tasks it did not train on; its rows need task_id, instruction, entry_point, tests.
"""

from __future__ import annotations

from pathlib import Path

from loralab.data.formats import FENCED_REQUEST
from loralab.errors import LoralabError
from loralab.eval.extract import extract_code
from loralab.eval.tasks import Problem, fenced_request_text
from loralab.io import read_jsonl

ASSET = Path(__file__).resolve().parents[2] / "assets" / "pytasks.jsonl"
REQUIRED = ("task_id", "instruction", "entry_point", "tests")


class PyTasks:
    name = "pytasks"
    stop = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n```")

    def __init__(self, split_file: str | None = None, path: str | None = None):
        self.source = Path(split_file or path or ASSET).expanduser()
        self._problems: list[Problem] | None = None

    def problems(self) -> list[Problem]:
        if self._problems is None:
            self._problems = [self.problem(i, row) for i, row in enumerate(read_jsonl(self.source), start=1)]
            if not self._problems:
                raise LoralabError(f"{self.source}: no tasks in this file")
        return self._problems

    def problem(self, lineno: int, row: dict) -> Problem:
        missing = [k for k in REQUIRED if not row.get(k)]
        if missing:
            raise LoralabError(f"{self.source}:{lineno}: pytasks row lacks {', '.join(missing)}")
        tests = row["tests"]
        if isinstance(tests, str):
            tests = [ln for ln in tests.splitlines() if ln.strip()]
        # a prepared split's instruction already ends with the fenced-block request; the
        # problem keeps the bare statement (the base-model prompt quotes it in a docstring)
        statement = row["instruction"].rstrip().removesuffix(FENCED_REQUEST).rstrip()
        return Problem(task_id=str(row["task_id"]), prompt=statement, entry_point=row["entry_point"],
                       tests="\n".join(tests) + "\n",
                       meta={"topic": row.get("topic", ""), "solution": row.get("solution", ""), "first_test": tests[0]})

    def request(self, problem: Problem, chat: bool):
        from loralab.inference.generate import GenRequest

        if not chat:
            return GenRequest(prompt=f'"""\n{problem.prompt}\n{problem.meta["first_test"]}\n"""\n', key=problem.task_id)
        return GenRequest(messages=({"role": "user", "content": fenced_request_text(problem.prompt)},),
                          key=problem.task_id)

    def program(self, problem: Problem, completion: str, *, extract: bool = True):
        from loralab.eval.sandbox import Program

        code = extract_code(completion, problem.entry_point) if extract else completion
        return Program(code=code, names={problem.entry_point: problem.entry_point}, tests=problem.tests)
