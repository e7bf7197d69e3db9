"""MBPP (Austin et al. 2021): a one-sentence task and three `assert` lines per problem.

Rows as the original release ships them: {task_id, text, code, test_setup_code, test_list,
challenge_test_list}. The source is the `path` option (a local JSONL, e.g. a copy in
../shared/data/eval/mbpp.jsonl), else the hub dataset "mbpp" (config "full"). The test split is task ids 11-510, as
in the paper; `split` picks another range. Prompts show the task and the first test (so the
model learns the function name), as the paper does.

The judge runs the setup and assert lines with the program's functions as stand-ins. Three
problems build objects of the program's own classes in their tests or setup (e.g.
`Pair(5, 24)`, a linked `Node` tree): the class is a stand-in too, so the objects are built
(and their attributes set) in the program's process and the judge holds handles to them;
only plain-data answers are compared, as for every other problem.
"""

from __future__ import annotations

import ast
import builtins
import warnings
from pathlib import Path

from loralab.errors import LoralabError
from loralab.eval.extract import extract_code
from loralab.eval.tasks import Problem, fenced_request_text

SPLITS = {"test": (11, 510), "train": (601, 974), "validation": (511, 600), "prompt": (1, 10), "all": (1, 10 ** 9)}
HUB_ID = "mbpp"


def load_rows(path: str | None) -> list[dict]:
    """A local JSONL file, or a hub dataset id (default "mbpp") through `datasets`.

    No default file: a path guessed from where the package is installed would differ
    between a checkout, a wheel and CI, so a local copy is always named by the caller."""
    from loralab.io import read_jsonl

    source = path or HUB_ID
    if Path(source).expanduser().exists():
        return read_jsonl(Path(source).expanduser())
    if "/" in source and source.endswith((".json", ".jsonl")):
        raise LoralabError(f"mbpp path: {source}: no such file")
    import datasets

    try:
        ds = datasets.load_dataset(source, "full")
    except Exception as e:  # offline, unknown id, hub down: all mean "name a local file"
        raise LoralabError(f"mbpp: cannot load the hub dataset {source!r} ({type(e).__name__}: {e}); "
                           "name a local JSONL with the task option path (eval.task_options.mbpp.path, "
                           "or --path for `loralab score mbpp`), e.g. ../shared/data/eval/mbpp.jsonl") from None
    return [dict(r) for split in ds.values() for r in split]


def parse(source: str) -> ast.Module:
    """ast.parse without the dataset's "invalid escape sequence" warnings ('\\d' in regexes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def free_names(source: str) -> set[str]:
    """Names `source` reads but does not bind itself (nor imports, nor builtins): the sandbox's
    rule, quiet about the dataset's "invalid escape sequence" warnings."""
    from loralab.eval.sandbox import free_names as names_read_unbound

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return set(names_read_unbound(source))


def reference_classes(code: str) -> set[str]:
    try:
        return {n.name for n in parse(code).body if isinstance(n, ast.ClassDef)}
    except SyntaxError:
        return set()


class MBPP:
    name = "mbpp"
    stop = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n```")

    def __init__(self, path: str | None = None, split: str = "test", challenge: bool = False):
        if split not in SPLITS:
            raise LoralabError(f"mbpp split: unknown split {split!r} (choose from {', '.join(SPLITS)})")
        self.path, self.split, self.challenge = path, split, challenge
        self._problems: list[Problem] | None = None

    def problems(self) -> list[Problem]:
        if self._problems is None:
            lo, hi = SPLITS[self.split]
            rows = [r for r in load_rows(self.path) if lo <= int(r["task_id"]) <= hi]
            self._problems = [self.problem(r) for r in sorted(rows, key=lambda r: int(r["task_id"]))]
        return self._problems

    def problem(self, row: dict) -> Problem:
        missing = {"task_id", "text", "test_list"} - set(row)
        if missing:
            raise LoralabError(f"mbpp row {row.get('task_id', '?')}: missing {', '.join(sorted(missing))}")
        tests = list(row["test_list"]) + (list(row.get("challenge_test_list") or []) if self.challenge else [])
        setup = (row.get("test_setup_code") or "").replace("\r\n", "\n")
        names, imports = program_names(tests, setup, (row.get("code") or "").replace("\r\n", "\n"))
        setup = "".join(f"{line}\n" for line in imports) + setup
        # classes of the program that the setup or the tests build objects of (Node, Pair)
        classes = reference_classes(row.get("code", "")) & (set(names) | free_names(setup))
        functions = [n for n in names if n not in classes] or names
        entry = functions[0] if len(functions) == 1 else next((n for n in functions if n in tests[0]), "")
        names = sorted(set(names) | classes)
        return Problem(task_id=f"mbpp/{row['task_id']}", prompt=row["text"], entry_point=entry,
                       tests="\n".join(tests) + "\n", setup=setup,
                       meta={"names": names, "objects": sorted(classes), "first_test": tests[0],
                             "code": row.get("code", "")})

    def request(self, problem: Problem, chat: bool):
        from loralab.inference.generate import GenRequest

        if not chat:
            return GenRequest(prompt=f'"""\n{problem.prompt}\n{problem.meta["first_test"]}\n"""\n', key=problem.task_id)
        text = f"{problem.prompt}\nYour code should pass this test:\n\n{problem.meta['first_test']}"
        return GenRequest(messages=({"role": "user", "content": fenced_request_text(text)},), key=problem.task_id)

    def program(self, problem: Problem, completion: str, *, extract: bool = True):
        from loralab.eval.sandbox import Program

        code = extract_code(completion, problem.entry_point) if extract else completion
        return Program(code=code, names={n: n for n in problem.meta["names"]}, setup=problem.setup, tests=problem.tests)


def program_names(tests: list[str], setup: str, reference: str) -> tuple[list[str], list[str]]:
    """The program's names the tests call, and the reference solution's imports the tests
    use (e.g. `sys.getsizeof`), which the judge then imports itself."""
    used = set()
    for t in tests:
        used |= {n.id for n in ast.walk(parse(t)) if isinstance(n, ast.Name)}
    used -= free_names_bound(setup)
    try:
        top = parse(reference).body
    except SyntaxError:
        top = []
    defined = {n.name for n in top if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))}
    imports = []
    for node in top:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if bound & used:
                imports.append(ast.unparse(node))
                used -= bound
    names = {n for n in used if n in defined or n not in dir(builtins)}
    return sorted(names), imports


def free_names_bound(setup: str) -> set[str]:
    """Names the setup code defines (so the tests' use of them is not the program's)."""
    if not setup.strip():
        return set()
    tree = parse(setup)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
    return out
