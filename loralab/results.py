"""Where every result file lives and what it holds: the contract between the stages that
write results and the report, comparisons and CLI that read them (issue #14).

    STUDY/                      a study (`loralab study run`)
      study.json                StudyFile: what ran (runs, and the K-specialist section)
      comparisons.json          list[Comparison]
      cache/generations.jsonl   the study's generation cache (one for every run)
      data/  routers/           prepared data; fitted routers (K-specialist studies)
      runs/NAME/                a training run (`loralab train`)
        config.yaml  meta.json  the resolved config; versions, seed, timings
        metrics.jsonl           the training log, one line per logged step
        checkpoints.json        the checkpoint index
        checkpoint-N/           an adapter (or full model) saved at step N
          loralab.json          base model, prompt template, objective, step
        summary.json            TrainSummary
        routing.json            RoutingSummary (K-specialist runs)
        eval/                   code tasks (`loralab eval`)
          summary.json          EvalSummary
          samples.jsonl         one record per (system, task, problem, sample)
          config.yaml meta.json the eval settings it ran with (re-running with others re-evaluates)
        eval_mc/                multiple-choice (forgetting) tasks
        judge/                  the study's judge stage (a `judge:` section)
          summary.json          JudgeSummary: the judged checkpoint, every set's rates and settings
          SET/                  one `loralab judge` directory per instruction file

Readers are lenient (fields added later are ignored, so an older loralab reads newer
results); writers validate what they write with `check`, so a shape change fails at the
writer's tests, not in a report weeks later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loralab.errors import LoralabError

# ----------------------------------------------------------------------------- the path layout

CONFIG = "config.yaml"
META = "meta.json"
SUMMARY = "summary.json"
METRICS = "metrics.jsonl"  # a run's training log, one line per logged step
CHECKPOINTS = "checkpoints.json"
SAMPLES = "samples.jsonl"
ROUTING = "routing.json"
STUDY = "study.json"
COMPARISONS = "comparisons.json"
GENERATIONS = "generations.jsonl"
EVAL = "eval"
EVAL_MC = "eval_mc"
JUDGE = "judge"
RUNS = "runs"
CHECKPOINT_INFO = "loralab.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def run_dir(study_root: str | Path, name: str) -> Path:
    return Path(study_root) / RUNS / name


def eval_dir(run: str | Path) -> Path:
    """Code-task evaluation of a run."""
    return Path(run) / EVAL


def eval_mc_dir(run: str | Path) -> Path:
    """Multiple-choice (forgetting) evaluation of a run."""
    return Path(run) / EVAL_MC


def judge_dir(run: str | Path) -> Path:
    """The judge stage of a run: summary.json and one directory per instruction set."""
    return Path(run) / JUDGE


def checkpoint_dir(run: str | Path, step: int) -> Path:
    """RUN/checkpoint-N: the checkpoint saved at optimizer step `step`."""
    return Path(run) / f"checkpoint-{step}"


def checkpoint_step(path: str | Path) -> int | None:
    """N of a checkpoint-N directory (by name only); None for any other name."""
    m = _CHECKPOINT.match(Path(path).name)
    return int(m.group(1)) if m else None


def checkpoint_dirs(run: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint-N entry of a run, complete or not, by step."""
    found = ((checkpoint_step(p), p) for p in Path(run).glob("checkpoint-*"))
    return sorted((step, p) for step, p in found if step is not None)


def study_cache(study_root: str | Path) -> Path:
    """The generation cache every run of a study shares (resumed studies hit it)."""
    return Path(study_root) / "cache" / GENERATIONS


# ----------------------------------------------------------------------------- schemas


class _Result(BaseModel):
    # Result formats may grow fields; readers take what they know and ignore the rest.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TaskScore(_Result):
    n_problems: int
    n_samples: int = 1
    solved: int
    pass1: float = Field(alias="pass@1")
    pass_at_k: dict[str, float] = Field(default_factory=dict, alias="pass@k")
    ci95: tuple[float, float] | None = None


class SystemScore(_Result):
    """One evaluated system: the base (step 0) or a checkpoint."""

    name: str
    step: int
    adapter: str | None = None
    full: bool = False
    tasks: dict[str, TaskScore] = Field(default_factory=dict)


class Best(_Result):
    name: str
    step: int
    pass1: float | None = Field(None, alias="pass@1")


class EvalSummary(_Result):
    """eval/summary.json."""

    systems: list[SystemScore]
    select_on: str | None = None
    report_on: str | None = None
    best: Best | None = None
    prompt_template: str | None = None  # the prompt style every system was asked in (eval.template / trained)


class Comparison(_Result):
    """One entry of comparisons.json: two runs' best systems on one task, paired."""

    a: str
    b: str
    task: str
    a_system: str | None = None
    b_system: str | None = None
    n: int
    a_solved: int
    b_solved: int
    both: int | None = None
    only_a: int | None = None
    only_b: int | None = None
    mcnemar_p: float | None = None       # raw, as if this were the only test
    mcnemar_p_holm: float | None = None  # Holm-adjusted over the study's comparisons on this task
    holm_m: int | None = None            # how many tests that family holds
    delta_pass1: float | None = None
    bootstrap_ci95: tuple[float, float] | None = None


class TrainSummary(_Result):
    """runs/NAME/summary.json (a K-specialist run: totals over its K adapters)."""

    train_runtime: float | None = None
    train_samples_per_second: float | None = None
    train_steps_per_second: float | None = None
    tokens_per_second: float | None = None
    final_loss: float | None = None
    best_val_loss: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    steps: int | None = None
    adapters: int | None = None  # K-specialist runs only


class RoutingSummary(_Result):
    """routing.json of a K-specialist run."""

    k: int
    embedder: str
    sizes: dict[str, list[int]]
    heldout_rows: int
    routing_accuracy: float | None = None


class JudgeSet(_Result):
    """One instruction set of runs/NAME/judge/summary.json: what was judged and the rates
    (`results`: the set's results.json, see loralab/eval/judge.py)."""

    instructions: str
    settings: dict[str, Any] = Field(default_factory=dict)  # what decides the verdicts; another value re-judges
    results: dict[str, Any]


class JudgeSummary(_Result):
    """runs/NAME/judge/summary.json: the checkpoint judged against the base, and each set."""

    checkpoint: str
    step: int | None = None
    selected_by: str = "selected"
    judge_endpoint: str
    judge_model: str
    sets: dict[str, JudgeSet] = Field(default_factory=dict)


class StudySection(_Result):
    name: str = "study"
    out_dir: str | None = None
    compare: str = "base"
    iterations: bool = False  # matrix studies: the runs are iterations, in order


class StudyFile(_Result):
    """study.json: the study section, every run's resolved config by name, and for a
    K-specialist study its section. Older K-specialist studies wrote `runs` as a list of
    names; readers accept both (`run_names`)."""

    kind: str = "matrix"  # matrix | kspecialist
    study: StudySection = Field(default_factory=StudySection)
    runs: dict[str, dict[str, Any]] | list[str] = Field(default_factory=dict)
    kspecialist: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_matrix_shape(cls, data: Any) -> Any:
        """Matrix studies used to write the whole study YAML under `study`."""
        if isinstance(data, dict) and isinstance(data.get("study"), dict) and isinstance(data["study"].get("study"), dict):
            data = {**data, "study": data["study"]["study"]}
        return data

    def run_names(self) -> list[str]:
        return list(self.runs)


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any, path: str | Path) -> M:
    """Validate one result file's content; the error names the file and the first broken key."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise LoralabError(f"{path}: {key}: {first['msg']} (is this file from another loralab version?)") from None


def check(model: type[BaseModel], data: Any, path: str | Path) -> Any:
    """What a writer calls before writing `data` to `path`: `data` itself, once it fits `model`."""
    parse(model, data, path)
    return data
