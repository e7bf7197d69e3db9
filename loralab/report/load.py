"""Reading a study's result files (layout and schemas in loralab/results.py) into RunResult and StudyResults.

A file that is missing (a run still training, a study without comparisons yet) is None or
empty; a file that is present but malformed is a LoralabError naming the file and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl
from loralab.results import Comparison, EvalSummary, JudgeSummary, SystemScore, TrainSummary, parse


def _optional_json(path: Path) -> Any | None:
    return read_json(path) if path.exists() else None


def _read_yaml(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise LoralabError(f"{path}{f':{mark.line + 1}' if mark else ''}: invalid YAML") from None
    if not isinstance(data, dict):
        raise LoralabError(f"{path}: expected a mapping of config sections, got {type(data).__name__}")
    return data


@dataclass
class RunResult:
    """Everything one run wrote; None (or empty) where a file is not there yet."""

    name: str
    config: dict | None
    train: TrainSummary | None
    metrics: list[dict]
    checkpoints: list[dict]
    eval: EvalSummary | None
    samples: list[dict]
    routing: dict | None = None  # K-specialist runs: routing.json
    judge: JudgeSummary | None = None  # studies with a judge stage: judge/summary.json

    def system(self, name: str | None) -> SystemScore | None:
        return next((s for s in self.eval.systems if s.name == name), None) if self.eval and name else None

    @property
    def report_task(self) -> str | None:
        if not self.eval:
            return None
        tasks = [t for s in self.eval.systems for t in s.tasks]
        return self.eval.report_on or self.eval.select_on or (tasks[0] if tasks else None)


@dataclass
class StudyResults:
    dir: Path
    name: str
    meta: dict | None
    runs: list[RunResult]
    comparisons: list[Comparison] | None
    notes: list[str] = field(default_factory=list)
    iterations: bool = False  # study.iterations: the runs are successive iterations (report/iterations.py)


def natural(s: str) -> list:
    """Sort key that puts r8 before r16 and HumanEval/2 before HumanEval/10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def load_run(run_dir: Path) -> RunResult:
    ev = _optional_json(run_dir / "eval" / "summary.json")
    tr = _optional_json(run_dir / "summary.json")
    ck = _optional_json(run_dir / "checkpoints.json")
    if ck is not None and not isinstance(ck, list):
        raise LoralabError(f"{run_dir / 'checkpoints.json'}: expected a JSON list of checkpoints")
    metrics, samples = run_dir / "metrics.jsonl", run_dir / "eval" / "samples.jsonl"
    judge = _optional_json(run_dir / "judge" / "summary.json")
    return RunResult(
        name=run_dir.name,
        config=_read_yaml(run_dir / "config.yaml"),
        train=parse(TrainSummary, tr, run_dir / "summary.json") if tr is not None else None,
        metrics=read_jsonl(metrics) if metrics.exists() else [],
        checkpoints=ck or [],
        eval=parse(EvalSummary, ev, run_dir / "eval" / "summary.json") if ev is not None else None,
        samples=read_jsonl(samples) if samples.exists() else [],
        routing=_optional_json(run_dir / "routing.json"),
        judge=parse(JudgeSummary, judge, run_dir / "judge" / "summary.json") if judge is not None else None,
    )


def _study_file(root: Path) -> dict:
    """study.yaml (or the runner's study.json); {} when neither exists."""
    data = _read_yaml(root / "study.yaml")
    if data is None and (root / "study.json").exists():
        data = read_json(root / "study.json")
    return data if isinstance(data, dict) else {}


def _run_order(root: Path, study: dict) -> list[str]:
    on_disk = [p.name for p in (root / "runs").iterdir() if p.is_dir() and not p.name.startswith(".")]
    listed = study.get("runs")
    listed = list(listed) if isinstance(listed, (dict, list)) else []
    first = [r for r in listed if isinstance(r, str) and r in on_disk]
    return first + sorted((r for r in on_disk if r not in first), key=natural)


def load_study(study_dir: str | Path) -> StudyResults:
    root = Path(study_dir)
    if not (root / "runs").is_dir():
        raise LoralabError(f"{root}: not a study directory (no runs/ inside); run `loralab study run STUDY.yaml` first")
    study = _study_file(root)
    section = study.get("study") if isinstance(study.get("study"), dict) else {}
    runs = [load_run(root / "runs" / name) for name in _run_order(root, study)]
    if not runs:
        raise LoralabError(f"{root / 'runs'}: holds no runs yet; run `loralab study run STUDY.yaml` first")
    raw = _optional_json(root / "comparisons.json")
    if raw is not None and not isinstance(raw, list):
        raise LoralabError(f"{root / 'comparisons.json'}: expected a JSON list of comparisons")
    comps = _fill_holm([parse(Comparison, c, root / f"comparisons.json (entry {i})") for i, c in enumerate(raw or [])])
    meta = _optional_json(root / "meta.json")
    return StudyResults(dir=root, name=str(section.get("name") or root.name), meta=meta if isinstance(meta, dict) else None,
                        runs=runs, comparisons=comps if raw is not None else None,
                        iterations=section.get("iterations") is True)


def _fill_holm(comps: list[Comparison]) -> list[Comparison]:
    """comparisons.json from before loralab recorded Holm's correction: adjust it here, the same
    way (one family per task), so its verdicts are not read off the raw p-values."""
    if all(c.mcnemar_p_holm is not None for c in comps if c.mcnemar_p is not None):
        return comps
    from loralab.analysis.compare import add_holm

    rows = add_holm([{"task": c.task, "mcnemar_p": c.mcnemar_p} for c in comps])
    for c, row in zip(comps, rows, strict=True):
        c.mcnemar_p_holm, c.holm_m = row.get("mcnemar_p_holm"), row.get("holm_m")
    return comps


def task_names(study: StudyResults) -> list[str]:
    seen: dict[str, None] = {}
    for run in study.runs:
        for s in run.eval.systems if run.eval else []:
            seen.update(dict.fromkeys(s.tasks))
    return list(seen)
