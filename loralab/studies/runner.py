"""What every study shares, whatever its runs: the study file, one evaluation rule, the
comparisons and the closing meta.json. The matrix study (matrix.py) and the K-specialist
study (kspecialist.py) differ only in how they make their runs' adapters and systems.

Both write the same files (loralab/results.py):

    STUDY/study.json        kind, the study section, every run's resolved config by name
    STUDY/comparisons.json  every run's best system vs base (and every pair with compare=all)
    STUDY/meta.json         versions, seed, hardware, timings
    STUDY/runs/NAME/eval/   skipped only when it finished with the same model and eval settings
    STUDY/runs/NAME/judge/  with a `judge:` section (judging.py): the checkpoint against the base
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from loralab import results
from loralab.io import write_json, write_meta


def fill_placeholders(value, mapping: dict[str, str]):
    """Substitute {prepared} (the run's prepared-data dir) in task options."""
    if isinstance(value, str):
        for k, v in mapping.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, dict):
        return {k: fill_placeholders(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(v, mapping) for v in value]
    return value


def hardware() -> dict:
    import os

    import torch

    from loralab.machine import cpu_model

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": gpu}


def write_study_file(root: Path, *, kind: str, section: dict, runs: dict[str, dict], **extra: Any) -> Path:
    """study.json, one shape for every kind of study (results.StudyFile)."""
    data = {"kind": kind, "study": section, "runs": runs, **extra}
    return write_json(root / results.STUDY, results.check(results.StudyFile, data, root / results.STUDY))


def evaluation_finished(eval_dir: Path, cfg) -> bool:
    """The one rule for skipping an evaluation (the same as `loralab eval`'s)."""
    from loralab.eval.sweep import finished_same

    return finished_same(eval_dir, cfg)


def compare(root: Path, runs: list[str], mode: str) -> Path:
    """comparisons.json: each run's best system vs base (and every pair with mode=all)."""
    from loralab.analysis.compare import compare_runs

    comps = compare_runs({n: results.eval_dir(results.run_dir(root, n)) for n in runs}, mode)
    return write_json(root / results.COMPARISONS, comps)


def finish(root: Path, *, stage: str, started: float, seed: int | None = None,
           timings: dict[str, float] | None = None) -> Path:
    """The study's meta.json, written last: its presence means the study finished."""
    extra: dict[str, Any] = {"hardware": hardware()}
    if timings is not None:
        extra["timings"] = {k: round(v, 1) for k, v in timings.items()}
    return write_meta(root, stage=stage, seed=seed, started=started, extra=extra)


class Timer:
    """Seconds per named step of a study, for its meta.json."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn, *args, **kwargs):
        t = time.time()
        out = fn(*args, **kwargs)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.time() - t
        return out


def study_summary(root: Path) -> dict:
    """What `loralab study run --json` prints: each run's selected checkpoint (from its
    eval/summary.json) and comparisons.json (raw and Holm-adjusted McNemar p per pair)."""
    from loralab.io import read_json

    study = results.parse(results.StudyFile, read_json(root / results.STUDY), root / results.STUDY)
    runs = {}
    for name in study.run_names():
        path = results.eval_dir(results.run_dir(root, name)) / results.SUMMARY
        summary = read_json(path) if path.is_file() else {}
        runs[name] = {"eval_dir": str(path.parent) if summary else None, "select_on": summary.get("select_on"),
                      "report_on": summary.get("report_on"), "best": summary.get("best")}
        judged = results.judge_dir(results.run_dir(root, name)) / results.SUMMARY
        if judged.is_file():  # studies with a judge stage: the judged checkpoint and each set's rates
            runs[name]["judge"] = read_json(judged)
    comparisons = read_json(root / results.COMPARISONS) if (root / results.COMPARISONS).is_file() else []
    return {"study_dir": str(root), "kind": study.kind, "runs": runs, "comparisons": comparisons}
