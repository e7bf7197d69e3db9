"""`loralab study run STUDY.yaml`: prepare, train, evaluate and compare a matrix of runs.

A study is one base run config plus variations (datasets, ranks, methods, seeds). Every
run gets the same everything-else, so differences in the table come from the variation.
Each stage is resumable: preparation and evaluation are skipped when their outputs are
complete, training resumes from its last checkpoint, and generations are cached at the
study level, so a killed study re-run finishes without redoing finished work.

    study:
      name: quickstart
      out_dir: runs/quickstart
      compare: base          # base: every run vs base; all: every pair of runs too
      iterations: false      # true: the runs are iterations, in order (the report's Iterations section)
    base: { model: ..., data: ..., adapter: ..., train: ..., eval: ... }   # a RunConfig
    matrix:                  # named variants (list) ...
      - {name: r8,  set: {adapter.r: 8}}
      - {name: r16, set: {adapter.r: 16, adapter.alpha: 32}}
    # ... or a product: matrix: {adapter.r: [8, 16], train.seed: [1, 2]}
    judge:                   # optional: each run's checkpoint vs base by a pairwise judge
      endpoint: local        # (loralab/studies/judging.py)
      instructions: [../shared/data/judge/alpaca_eval.jsonl]
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loralab import results
from loralab.config import RunConfig, deep_merge, dotted_to_tree, parse_overrides, read_yaml, validate
from loralab.errors import LoralabError
from loralab.studies.judging import JudgeSection, check_judge
from loralab.studies.runner import compare, fill_placeholders, finish, write_study_file


class StudySection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("study", description="Name shown in the report.")
    out_dir: str = Field("runs/study", description="Study directory (runs/, comparisons.json, report.*).")
    compare: Literal["base", "all"] = Field("base", description="base: each run vs base; all: every pair too.")
    iterations: bool = Field(False, description="The matrix is a sequence of iterations: the report adds a section "
                             "comparing each run with the one before it (what changed, parameters, runtime, loss).")


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$", description="Run name (a directory name).")
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted keys overriding the base config.")


class StudyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    study: StudySection = Field(default_factory=StudySection)
    base: dict[str, Any] = Field(default_factory=dict, description="The RunConfig every variant starts from.")
    base_config: str | None = Field(None, description="Or: a run YAML (relative to the study file) to start from.")
    matrix: list[Variant] | dict[str, list[Any]] = Field(..., description="Named variants, or key -> values (product).")
    judge: JudgeSection | None = Field(None, description="After evaluation, each run's checkpoint against its base "
                                                         "by a pairwise judge (AlpacaEval and MT-Bench rates).")


def expand_matrix(matrix: list[Variant] | dict[str, list[Any]]) -> list[Variant]:
    """A product matrix {k: [v1, v2]} -> named variants ('r=8,seed=1' style names)."""
    if isinstance(matrix, list):
        return matrix
    keys = list(matrix)
    out = []
    for values in itertools.product(*(matrix[k] for k in keys)):
        name = "_".join(f"{k.split('.')[-1]}-{v}" for k, v in zip(keys, values, strict=False))
        out.append(Variant(name=name.replace("/", "-"), set=dict(zip(keys, values, strict=False))))
    return out


def load_study(path: str | Path, overrides: list[str] | None = None) -> tuple[StudyConfig, dict[str, RunConfig]]:
    """Validate a study file and resolve every variant into a full RunConfig."""
    path = Path(path)
    study = validate(StudyConfig, read_yaml(path), str(path))
    base = read_yaml(path.parent / study.base_config) if study.base_config else {}
    base = deep_merge(base, study.base)
    base = deep_merge(base, parse_overrides(overrides or []))
    variants = expand_matrix(study.matrix)
    if not variants:
        raise LoralabError(f"{path}: matrix is empty; name at least one variant")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise LoralabError(f"{path}: matrix variant names repeat: {names}")
    runs = {}
    for v in variants:
        merged = deep_merge(base, dotted_to_tree(v.set))
        runs[v.name] = validate(RunConfig, merged, f"{path} (variant '{v.name}')")
    return study, runs


def check_runs(runs: dict[str, RunConfig], root: Path, source: str | Path) -> None:
    """What every run needs and the study directory, checked before study.json is written.

    A missing model or dataset would otherwise fail minutes later, after the study
    directory and its study.json already claimed a study that never ran.
    """
    from loralab.inputs import data_source, input_dir, model_name, output_dir

    output_dir(root, f"{source}: study.out_dir")
    seen: set[tuple] = set()
    for name, cfg in runs.items():
        where = f"{source} (run '{name}')"
        if (cfg.model.name, cfg.model.revision) not in seen:
            seen.add((cfg.model.name, cfg.model.revision))
            model_name(cfg.model.name, f"{where}: model.name", cfg.model.revision)
        if cfg.data.prepared:
            input_dir(cfg.data.prepared, f"{where}: data.prepared")
        else:
            data_source(cfg.data.source, f"{where}: data.source")


def study_dir(study: StudyConfig) -> Path:
    return Path(study.study.out_dir)


def run_study(path: str | Path, overrides: list[str] | None = None, executor=None) -> Path:
    """Prepare -> train -> evaluate every run -> compare; each stage skipped when done.

    `executor` (studies/executors.py) runs the runs: in this process by default, or each run
    as a Ray task; either way this process writes study.json first and compares last."""
    study, runs = load_study(path, overrides)
    started = time.time()
    root = study_dir(study)
    check_runs(runs, root, path)
    if study.judge is not None:
        check_judge(study.judge, runs, path)
    if executor is not None:
        executor.start()  # a cluster that cannot be reached must leave no study behind either
    root.mkdir(parents=True, exist_ok=True)
    judge = {"judge": study.judge.model_dump(mode="json")} if study.judge is not None else {}
    write_study_file(root, kind="matrix", section=study.study.model_dump(mode="json"),
                     runs={k: v.model_dump(mode="json") for k, v in runs.items()},
                     matrix=[v.model_dump(mode="json") for v in expand_matrix(study.matrix)], **judge)
    # No run config is written here: training writes runs/NAME/config.yaml itself, with the
    # prepared-data directory filled in, and a resumed study must find exactly that file.
    StudyRunner(study, runs, root, executor).run()
    finish(root, stage="study", started=started)
    return root


# ----------------------------------------------------------------------------- one run's stages


def prepare_run(root: Path, cfg: RunConfig) -> None:
    """Runs with identical data settings share one prepared directory (prepare locks it)."""
    import hashlib
    import json

    if cfg.data.prepared:
        return
    from loralab.data.prepare import prepare

    key = json.dumps({"data": cfg.data.identity(), "model": cfg.model.name,
                      "template": cfg.model.chat_template}, sort_keys=True)
    out = root / "data" / hashlib.sha256(key.encode()).hexdigest()[:12]
    prepare(cfg.data, out, model_cfg=cfg.model)  # a no-op when already prepared
    cfg.data.prepared = str(out)
    cfg.eval.task_options = fill_placeholders(cfg.eval.task_options, {"prepared": str(out)})


def train_run(root: Path, name: str, cfg: RunConfig) -> None:
    from loralab.train.sft import train

    cfg.train.out_dir = str(results.run_dir(root, name))
    train(cfg, resume=True)  # resumes from the last checkpoint; a finished run is a no-op


def evaluate_run(root: Path, name: str, cfg: RunConfig, checker=None) -> None:
    """Code tasks into runs/NAME/eval; multiple-choice (forgetting) tasks into runs/NAME/eval_mc.
    `checker`: how completions are judged (None: this machine's sandbox pool)."""
    from loralab.eval.mc_tasks import multiple_choice_specs
    from loralab.eval.sweep import evaluate

    run = results.run_dir(root, name)
    mc = multiple_choice_specs(cfg.eval.tasks)
    code = cfg.model_copy(deep=True)
    code.eval.tasks = [t for t in cfg.eval.tasks if t not in mc]
    if mc:
        from loralab.eval.multiple_choice import evaluate_mc_run

        out = results.eval_mc_dir(run)
        if not (out / "meta.json").exists():  # finished task/system pairs inside are not redone either
            evaluate_mc_run(run, cfg, mc, out)
    if code.eval.tasks:
        evaluate(run, results.eval_dir(run), cfg=code, cache=results.study_cache(root), checker=checker)
        if cfg.train.report_to:  # pass@k per checkpoint beside the run's training curves
            from loralab.train.tracking import log_eval_summary

            log_eval_summary(results.eval_dir(run), run, cfg.train.report_to, code.model_dump(mode="json"))


def run_variant(root: Path, name: str, cfg: RunConfig, checker=None) -> str:
    """Every stage of one run: what a Ray task executes (a finished run returns at once)."""
    prepare_run(root, cfg)
    train_run(root, name, cfg)
    evaluate_run(root, name, cfg, checker)
    return name


# ----------------------------------------------------------------------------- the runner


class StudyRunner:
    """Runs the stages in order for every run; each stage is skipped or resumed when done.

    With the local executor the stages run here, one run after another; with Ray every run is
    one task (run_variant) asking for the resources its config needs, all at once."""

    def __init__(self, study: StudyConfig, runs: dict[str, RunConfig], root: Path, executor=None):
        from rich.console import Console

        from loralab.studies.executors import LocalExecutor

        self.study, self.runs, self.root = study, runs, root
        self.executor = executor or LocalExecutor()
        self.console = Console(stderr=True)

    def run(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        stages = [("prepare", self.prepare), ("train", self.train), ("eval", self.evaluate)]
        judging = self.study.judge is not None
        if judging and self.executor.name == "local":
            stages.append(("judge", self.judge))
        per_run = len(stages) if self.executor.name == "local" else 1 + judging
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=False) as bar:
            job = bar.add_task("study", total=len(self.runs) * per_run + 1)
            if self.executor.name == "local":
                for name, cfg in self.runs.items():
                    for stage, fn in stages:
                        bar.update(job, description=f"{self.study.study.name}: {name} / {stage}")
                        fn(name, cfg)
                        bar.advance(job)
            else:
                bar.update(job, description=f"{self.study.study.name}: {len(self.runs)} runs on {self.executor.name}")
                self.executor.run(self.jobs(), on_done=lambda name: bar.advance(job))
                for name, cfg in self.runs.items() if judging else ():  # judged here, after the cluster's runs
                    bar.update(job, description=f"{self.study.study.name}: {name} / judge")
                    self.prepare(name, cfg)  # fills this process's cfg with the prepared data (no-op on disk)
                    self.judge(name, cfg)
                    bar.advance(job)
            bar.update(job, description=f"{self.study.study.name}: compare")
            self.compare()
            bar.advance(job)

    def jobs(self) -> list:
        """One job per run, with the resources its config needs."""
        from loralab.studies.executors import StudyJob, run_resources

        gpus, checker = self.executor.gpus_available(), self.executor.checker()
        jobs = []
        for name, cfg in self.runs.items():
            need = run_resources(cfg.model.device, gpus, self.executor.cpus)
            jobs.append(StudyJob(name, run_variant, (self.root, name, cfg.model_copy(deep=True), checker), **need))
        return jobs

    def run_dir(self, name: str) -> Path:
        return results.run_dir(self.root, name)

    def prepare(self, name: str, cfg: RunConfig) -> None:
        prepare_run(self.root, cfg)

    def train(self, name: str, cfg: RunConfig) -> None:
        train_run(self.root, name, cfg)

    def evaluate(self, name: str, cfg: RunConfig) -> None:
        evaluate_run(self.root, name, cfg)

    def judge(self, name: str, cfg: RunConfig) -> None:
        """The selected checkpoint against the base on every instruction set; finished sets are kept."""
        from loralab.studies.judging import judge_run

        judge_run(self.root, name, cfg, self.study.judge)

    def compare(self) -> None:
        """comparisons.json: each run's best checkpoint vs base (and every pair with compare=all)."""
        compare(self.root, list(self.runs), self.study.study.compare)
