"""LiveCodeBench code generation (Jain et al. 2024), `code_generation_lite` format.

Rows carry question_content, platform, difficulty, contest_date, starter_code,
public_test_cases and private_test_cases (plain JSON, or base64 of zlib of a pickled JSON
string, as LiveCodeBench ships them), and metadata (JSON, with func_name for LeetCode-style
problems). Sources: a local JSONL file (`path`), or the hub dataset
livecodebench/code_generation_lite for real users, whose files per release we download
(`release`, also accepted as LiveCodeBench's `version_tag`).

Judging follows lcb_runner/evaluation/testing_util.py, public and private tests together:
* stdin problems: the program runs once per test case (one sandbox run per problem, one
  fresh process per case); outputs match when, after stripping the whole output and each
  line, every line is equal or equal as a list of Decimals (0.50 == 0.5; no tolerance).
* functional problems: `Solution().<func_name>(*args)` with args JSON-decoded one per input
  line (a plain function `<func_name>` when there is no `class Solution`, as LCB does); a
  returned tuple counts as a list; compared with ==. As LCB's alarm does, the program's
  top-level code and every call get `timeout` seconds each.
Both run after LCB's prelude of standard-library imports and sys.setrecursionlimit(50000).
Chat prompts are LCB's generic format (system message + question template); base models get
LCB's base layout (### Question / ### Starter Code / ### Answer) without its one-shot example.

Releases, as LiveCodeBench's README defines them (problems released from May 2023 until):
    release_v1 Mar 2024 (400)   release_v2 May 2024 (511)   release_v3 Jul 2024 (612)
    release_v4 Sep 2024 (713)   release_v5 Jan 2025 (880)   release_v6 Apr 2025 (1055)
`vN` is only what release_vN added; `vA_vB` the releases A to B added. On the hub a release
picks LCB's files (release_vN = test.jsonl .. testN.jsonl); on local rows it filters
contest_date by those month windows (rows without a date cannot be placed and are left out).
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import re
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from loralab.errors import LoralabError
from loralab.eval.extract import extract_code
from loralab.eval.tasks import Problem

HUB_ID = "livecodebench/code_generation_lite"
RELEASE_START = date(2023, 5, 1)
RELEASE_END = {1: date(2024, 3, 31), 2: date(2024, 5, 31), 3: date(2024, 7, 31), 4: date(2024, 9, 30),
               5: date(2025, 1, 31), 6: date(2025, 4, 30)}
MAX_TESTS_BYTES = 1 << 30  # a decompressed test field larger than this is refused (zlib bomb)

# lcb_runner/prompts/code_generation.py, generic chat format (their words, kept verbatim so
# scores stay comparable with LiveCodeBench's leaderboard).
SYSTEM = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
          "generate a correct Python program that matches the specification and passes all tests. You will NOT "
          "return anything except for the program.")
WITH_STARTER = ("You will use the following starter code to write the solution to the problem and enclose your code "
                "within delimiters.")
WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test "
                   "on the sample inputs). Enclose your code within delimiters as follows.")

# LCB runs every program after `from M import *` and `import M` for these modules.
_PRELUDE_MODULES = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random",
                    "statistics", "itertools", "functools", "operator", "io", "sys", "json", "builtins", "typing")
PRELUDE = ("".join(f"from {m} import *\n" for m in _PRELUDE_MODULES)
           + "".join(f"import {m}\n" for m in _PRELUDE_MODULES if m not in ("builtins", "typing"))
           + "sys.setrecursionlimit(50000)\n")


# ----------------------------------------------------------------------------- releases


def release_window(release: str) -> tuple[date, date]:
    """(first, last) contest date of a release name: release_vN, vN or vA_vB."""
    m = re.fullmatch(r"release_v(\d)|v(\d)|v(\d)_v(\d)|release_latest", release)
    if m is None or any(g and int(g) not in RELEASE_END for g in m.groups()):
        raise LoralabError(f"livecodebench release: unknown release {release!r} "
                           "(release_v1..release_v6, release_latest, v1..v6, or vA_vB)")
    if release == "release_latest":
        return RELEASE_START, max(RELEASE_END.values())
    if m.group(1):
        return RELEASE_START, RELEASE_END[int(m.group(1))]
    a, b = (int(m.group(2)), int(m.group(2))) if m.group(2) else (int(m.group(3)), int(m.group(4)))
    first = RELEASE_START if a == 1 else date.fromordinal(RELEASE_END[a - 1].toordinal() + 1)
    return first, RELEASE_END[b]


def release_files(release: str) -> list[str]:
    """The hub files of a release: test.jsonl, test2.jsonl, ... as LiveCodeBench names them."""
    release_window(release)  # validates the name
    name = lambda i: "test.jsonl" if i == 1 else f"test{i}.jsonl"  # noqa: E731
    if release == "release_latest":
        return [name(i) for i in sorted(RELEASE_END)]
    if release.startswith("release_v"):
        return [name(i) for i in range(1, int(release[-1]) + 1)]
    parts = [int(p[1:]) for p in release.split("_")]
    return [name(i) for i in range(parts[0], parts[-1] + 1)]


# ----------------------------------------------------------------------------- reading


class _NoGlobals(pickle.Unpickler):
    """LCB pickles a plain JSON string, which needs no global; a pickle asking for one
    (a class, a function to call) is hostile, and is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def decode_tests(field, where: str) -> list[dict]:
    """A test-case field: a list, a JSON string, or base64(zlib(pickle(JSON string)))."""
    if isinstance(field, list):
        return field
    if not field:
        return []
    try:
        return json.loads(field)
    except (json.JSONDecodeError, TypeError):
        pass
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(field, validate=True), MAX_TESTS_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError(f"decompresses to more than {MAX_TESTS_BYTES >> 20} MiB")
        text = _NoGlobals(io.BytesIO(raw)).load()
    except Exception as e:  # noqa: BLE001 - any decoding failure is the row's fault
        raise LoralabError(f"{where}: neither JSON nor base64(zlib(pickle)) ({type(e).__name__}: {e})") from None
    if not isinstance(text, str):
        raise LoralabError(f"{where}: the pickle holds a {type(text).__name__}, expected a JSON string")
    return json.loads(text)


def iter_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a JSONL file, streamed (LCB's files run to gigabytes)."""
    if not path.exists():
        raise LoralabError(f"{path}: no such LiveCodeBench file")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as e:
                    raise LoralabError(f"{path}:{lineno}: malformed JSON ({e.msg})") from None


def hub_files(release: str) -> list[Path]:
    """Download (or reuse the cached) hub files of `release`."""
    from huggingface_hub import hf_hub_download

    return [Path(hf_hub_download(HUB_ID, f, repo_type="dataset")) for f in release_files(release)]


def contest_day(row: dict) -> date | None:
    text = str(row.get("contest_date") or "")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# ----------------------------------------------------------------------------- the task


class LiveCodeBench:
    name = "livecodebench"
    stop = ("\n### ",)

    def __init__(self, path: str | None = None, release: str | None = None, version_tag: str | None = None,
                 platform: str | list[str] | None = None, difficulty: str | list[str] | None = None,
                 start_date: str | None = None, end_date: str | None = None, public_only: bool = False,
                 timeout: float | None = None):
        if release and version_tag and release != version_tag:
            raise LoralabError(f"livecodebench: release={release!r} and version_tag={version_tag!r} disagree")
        self.path = path                                  # local JSONL; None = the hub dataset
        self.release = release or version_tag             # see module docstring
        self.platforms = _as_set(platform)                # atcoder, leetcode, codeforces
        self.difficulties = _as_set(difficulty)           # easy, medium, hard
        self.start = _date(start_date, "start_date")      # contest_date >= start
        self.end = _date(end_date, "end_date")            # contest_date <= end
        self.public_only = public_only                    # skip private tests (quick checks)
        self.timeout = timeout                            # seconds per test case (None: the sandbox's)
        if self.release:
            release_window(self.release)
        self._problems: list[Problem] | None = None

    def problems(self) -> list[Problem]:
        if self._problems is None:
            self._problems = self.load()
        return self._problems

    def load(self) -> list[Problem]:
        if self.path:
            sources = [Path(self.path).expanduser()]
        else:
            sources = hub_files(self.release or "release_latest")
        window = release_window(self.release) if self.release and self.path else None
        by_date = bool(window or self.start or self.end)
        out, undated = [], 0
        for src in sources:
            for lineno, row in iter_rows(src):
                if not self.keep(row, window):
                    undated += by_date and contest_day(row) is None
                    continue
                out.append(self.problem(row, f"{src}:{lineno}"))
        if not out and undated:
            raise LoralabError(f"livecodebench: no problems left: {undated} rows have no contest_date, so "
                               "release/start_date/end_date cannot place them; drop those filters for this file")
        return out

    def keep(self, row: dict, window: tuple[date, date] | None) -> bool:
        if self.platforms and str(row.get("platform", "")).lower() not in self.platforms:
            return False
        if self.difficulties and str(row.get("difficulty", "")).lower() not in self.difficulties:
            return False
        if window or self.start or self.end:
            day = contest_day(row)
            lo = max(d for d in (window[0] if window else None, self.start, date.min) if d)
            hi = min(d for d in (window[1] if window else None, self.end, date.max) if d)
            return day is not None and lo <= day <= hi
        return True

    def problem(self, row: dict, where: str) -> Problem:
        for key in ("question_id", "question_content"):
            if not row.get(key):
                raise LoralabError(f"{where}: LiveCodeBench row lacks '{key}'")
        tests = decode_tests(row.get("public_test_cases"), f"{where} public_test_cases")
        if not self.public_only:
            tests += decode_tests(row.get("private_test_cases"), f"{where} private_test_cases")
        meta = row.get("metadata") or {}
        meta = json.loads(meta) if isinstance(meta, str) else meta
        kinds = {t.get("testtype", "stdin") for t in tests}
        if not tests or len(kinds) != 1 or not kinds <= {"stdin", "functional"}:
            raise LoralabError(f"{where}: expected test cases of one type, stdin or functional, got {sorted(kinds)}")
        info = {k: row.get(k, "") for k in ("question_title", "platform", "difficulty", "contest_id", "contest_date")}
        common = dict(task_id=str(row["question_id"]), prompt=row["question_content"],
                      starter=row.get("starter_code") or "")
        if kinds == {"stdin"}:
            return Problem(**common, cases=tuple((str(t["input"]), str(t["output"])) for t in tests), meta=info)
        fn = meta.get("func_name")
        if not fn:
            raise LoralabError(f"{where}: functional tests but metadata has no func_name")
        return Problem(**common, entry_point=fn, tests=functional_tests(tests, where),
                       meta={**info, "n_cases": len(tests)})

    # --------------------------------------------------------------------- prompts, programs

    def request(self, problem: Problem, chat: bool):
        from loralab.inference.generate import GenRequest

        if not chat:
            starter = f"### Starter Code\n{problem.starter}\n\n" if problem.starter else ""
            return GenRequest(prompt=f"### Question\n{problem.prompt}\n\n{starter}### Answer\n\n", key=problem.task_id)
        text = f"### Question:\n{problem.prompt}\n\n"
        if problem.starter:
            text += f"### Format: {WITH_STARTER}\n```python\n{problem.starter}\n```\n\n"
        else:
            text += f"### Format: {WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
        text += "### Answer: (use the provided format with backticks)\n\n"
        return GenRequest(messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": text}),
                          key=problem.task_id)

    def program(self, problem: Problem, completion: str, *, extract: bool = True):
        from loralab.eval.sandbox import Program

        code = extract_code(completion) if extract else completion
        if problem.cases:
            return Program(code=code, mode="stdio", prelude=PRELUDE, cases=problem.cases, timeout=self.timeout)
        target = f"Solution().{problem.entry_point}" if "class Solution" in code else problem.entry_point
        # LCB's alarm: `timeout` for the program's top-level code, and again for every call
        return Program(code=code, names={"candidate": target}, prelude=PRELUDE, tests=problem.tests,
                       timeout=self.timeout, calls=problem.meta.get("n_cases", 1))


def functional_tests(tests: list[dict], where: str) -> str:
    """Trusted test code: one call per case, LiveCodeBench's comparison."""
    cases = []
    for i, t in enumerate(tests):
        try:
            args = [json.loads(line) for line in str(t["input"]).split("\n")]
            cases.append([args, json.loads(t["output"])])
        except (json.JSONDecodeError, KeyError) as e:
            raise LoralabError(f"{where}: functional test {i} is not JSON ({e})") from None
    return ("import json\n"
            f"CASES = json.loads({json.dumps(cases)!r})\n"
            "for i, (args, expected) in enumerate(CASES):\n"
            "    got = candidate(*args)\n"
            "    if isinstance(got, tuple):  # LCB: a tuple answer counts as a list\n"
            "        got = list(got)\n"
            "    assert got == expected, f'case {i + 1}/{len(CASES)}: wrong answer'\n")


def _as_set(value) -> set[str]:
    if value is None:
        return set()
    values = [value] if isinstance(value, str) else list(value)
    return {str(v).strip().lower() for v in values if str(v).strip()}


def _date(text: str | None, key: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise LoralabError(f"livecodebench {key}: {text!r} is not a YYYY-MM-DD date") from None
