"""acme: tasks that need a fictional company's in-house library (loralab/assets/acme.jsonl).

The same rows and prompts as `pytasks`, judged with one difference: the program runs with the
module `acme` (loralab/assets/acme.py) importable, the way code written at that company runs
with its internal packages installed. No public model has seen the module, so a base model
has to guess the helpers' names and formats; what fine-tuning teaches is measurable here.
This is the family behind `make demo` and the known-answer test (tests/test_known_answer.py).
`split_file` evaluates a prepared split (e.g. {prepared}/test.jsonl) as for pytasks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from loralab.eval.tasks.pytasks import PyTasks

ASSETS = Path(__file__).resolve().parents[2] / "assets"
ASSET = ASSETS / "acme.jsonl"
LIBRARY = ASSETS / "acme.py"


def library_prelude(path: Path = LIBRARY, module: str = "acme") -> str:
    """Trusted lines, run before the program, that make `path` importable as `module`.

    The sandbox's child runs with `-I -S` and a read-only view of the host, so the module is
    built in memory from its source rather than found on a path."""
    return (f"import sys as _sys, types as _types\n"
            f"_lib = _types.ModuleType({module!r})\n"
            f"exec(compile({path.read_text(encoding='utf-8')!r}, {path.name!r}, 'exec'), _lib.__dict__)\n"
            f"_sys.modules[{module!r}] = _lib\n"
            f"del _sys, _types, _lib\n")


class Acme(PyTasks):
    name = "acme"

    def __init__(self, split_file: str | None = None, path: str | None = None):
        super().__init__(split_file, path or str(ASSET))
        self.prelude = library_prelude()

    def program(self, problem, completion: str, *, extract: bool = True):
        return dataclasses.replace(super().program(problem, completion, extract=extract), prelude=self.prelude)
