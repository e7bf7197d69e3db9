"""K specialists: cluster the training questions, train one LoRA adapter per cluster, route.

`loralab study run KSPEC.yaml` (a YAML with a `kspecialist:` section) runs, for every K:

    prepare    the data once (RunConfig.data), into STUDY/data
    route      k-means on the train questions' embeddings -> STUDY/routers/k-K (router.py)
    train      one adapter per cluster, reusing the training stage unchanged; with max_steps,
               cluster I trains round(max_steps * n_I / N) steps, so every K sees the same
               number of training examples in total (K=1 is the plain single-adapter run)
    evaluate   one base model in memory with every adapter of every K loaded by name; each
               prompt goes to its cluster's adapter (PEFT adapter_names: mixed-adapter
               batches); the base is evaluated once on the same problems
    compare    each K's routed system against the base, and every pair of K values (McNemar
               exact on the problems, paired bootstrap CI), as comparisons.json

The layout is a study directory, so `loralab report` reads it like any other study:

    STUDY/runs/kK/config.yaml     the run config (+ the kspecialist section with this K)
    STUDY/runs/kK/clusters/cluster-I/   a normal training run directory per cluster
    STUDY/runs/kK/summary.json    training totals over the K adapters
    STUDY/runs/kK/routing.json    cluster sizes per split and routing accuracy on held-out rows
    STUDY/runs/kK/eval/           samples.jsonl and summary.json (systems: base, routed)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from loralab import results
from loralab.config import RunConfig, deep_merge, parse_overrides, read_yaml, save_config, validate
from loralab.errors import LoralabError
from loralab.io import read_json, write_json, write_meta, write_text
from loralab.studies.matrix import check_runs
from loralab.studies.runner import Timer, compare, evaluation_finished, fill_placeholders, finish, write_study_file

ROUTED = "routed"  # the system name of a routed K-specialist model in eval summaries


class KSpecialistSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("kspecialist", description="Name shown in the report.")
    out_dir: str = Field("runs/kspecialist", description="Study directory.")
    k: list[PositiveInt] = Field(default_factory=lambda: [1, 5, 10], min_length=1, description="Cluster counts to compare.")
    embedder: str = Field("all-MiniLM-L6-v2", description="Sentence embedder of the questions (as in curation).")
    prefix: str | None = Field(None, description="Query prefix; None: the family default ('query: ' for E5).")
    seed: int = Field(0, ge=0, description="Seed of k-means++ (10 seeded restarts).")
    adapter: Literal["last", "best_val"] = Field(
        "last", description="Which checkpoint of each cluster's run serves: the last, or the lowest val loss.")
    compare: Literal["base", "all"] = Field("all", description="base: each K vs base; all: every pair of K too.")


class KSpecialistConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kspecialist: KSpecialistSection = Field(default_factory=KSpecialistSection)
    base: dict[str, Any] = Field(default_factory=dict, description="The RunConfig every cluster's training uses.")


def load_kspecialist(path: str | Path, overrides: list[str] | None = None) -> tuple[KSpecialistSection, RunConfig]:
    """Validate a K-specialist YAML; `overrides` (--set) apply to the run config `base`."""
    path = Path(path)
    spec = validate(KSpecialistConfig, read_yaml(path), str(path))
    base = deep_merge(spec.base, parse_overrides(overrides or []))
    cfg = validate(RunConfig, base, f"{path} (base)")
    if len(set(spec.kspecialist.k)) != len(spec.kspecialist.k) or min(spec.kspecialist.k) < 1:
        raise LoralabError(f"{path}: kspecialist.k must be distinct positive integers, got {spec.kspecialist.k}")
    from loralab.eval.mc_tasks import multiple_choice_specs

    mc = multiple_choice_specs(cfg.eval.tasks)
    if mc:
        raise LoralabError(f"{path}: base.eval.tasks: the K-specialist evaluation routes code tasks; "
                           f"{', '.join(mc)} are multiple choice (score them with `loralab forgetting`)")
    if cfg.adapter.method == "full":
        raise LoralabError(f"{path}: base.adapter.method 'full' cannot serve K specialists from one base; use lora")
    return spec.kspecialist, cfg


def run_kspecialist(path: str | Path, overrides: list[str] | None = None, executor=None) -> Path:
    """Prepare -> route -> train K adapters per K -> evaluate routed systems -> compare.

    `executor` (studies/executors.py): with Ray every cluster's training is a task, all K at
    once, and the routed evaluation another; preparing and routing stay in this process."""
    from loralab.studies.executors import LocalExecutor

    executor = executor or LocalExecutor()
    section, cfg = load_kspecialist(path, overrides)
    started = time.time()
    root = Path(section.out_dir)
    names = [f"k{k}" for k in section.k]
    check_runs({"base": cfg}, root, path)  # before study.json: a missing model must leave nothing behind
    executor.start()  # so must a Ray cluster that cannot be reached
    write_study_file(root, kind="kspecialist", section={"name": section.name, "out_dir": str(root), "compare": section.compare},
                     runs={n: cfg.model_dump(mode="json") for n in names}, kspecialist=section.model_dump(mode="json"))
    timer = Timer()
    prepared = timer("prepare", _prepare, cfg, root)
    cfg.eval.task_options = fill_placeholders(cfg.eval.task_options, {"prepared": str(prepared)})
    from loralab.route.router import fit_routers

    fits = timer("route fit", fit_routers, prepared, root / "routers", section.k, embedder=section.embedder,
                 prefix=section.prefix, seed=section.seed)
    timer("train", train_all, executor, fits, cfg, root, section)
    timer("eval", evaluate_on, executor, fits, cfg, root)
    compare(root, names, section.compare)
    finish(root, stage="kspecialist", seed=section.seed, started=started, timings=timer.seconds)
    return root


def _prepare(cfg: RunConfig, root: Path) -> Path:
    if cfg.data.prepared:
        return Path(cfg.data.prepared)
    from loralab.data.prepare import prepare

    out = root / "data"
    prepare(cfg.data, out, model_cfg=cfg.model)  # a no-op when already prepared
    return out


# ----------------------------------------------------------------------------- training


def cluster_steps(max_steps: int | None, sizes: list[int]) -> list[int | None]:
    """max_steps per cluster in proportion to its rows, so the examples seen sum to the same
    total for every K (None: epochs decide, which already keeps the total)."""
    if max_steps is None:
        return [None] * len(sizes)
    total = sum(sizes)
    return [max(1, round(max_steps * n / total)) for n in sizes]


def cluster_configs(fit, cfg: RunConfig, run_dir: Path) -> list[RunConfig]:
    """One training config per cluster of `fit`: its split, its run directory, its share of steps."""
    steps = cluster_steps(cfg.train.max_steps, fit.router.sizes)
    out = []
    for i in range(fit.k):
        if fit.router.sizes[i] == 0:
            raise LoralabError(f"k-means with K={fit.k} left cluster {i} empty; use a smaller K")
        ccfg = cfg.model_copy(deep=True)
        ccfg.data.prepared = str(fit.cluster_dir(i))
        ccfg.train.out_dir = str(run_dir / "clusters" / f"cluster-{i}")
        ccfg.train.max_steps = steps[i]
        ccfg.train.save_steps = min(ccfg.train.save_steps, steps[i]) if steps[i] else ccfg.train.save_steps
        out.append(ccfg)
    return out


def train_cluster(ccfg: RunConfig) -> Path:
    """One cluster's adapter (resuming; a finished run is a no-op): what a Ray task executes."""
    from loralab.train.sft import train

    return Path(train(ccfg, resume=True))


def train_all(executor, fits, cfg: RunConfig, root: Path, section: KSpecialistSection) -> None:
    """Every cluster of every K, as the executor runs them (in order here, at once on Ray)."""
    from loralab.studies.executors import StudyJob, run_resources

    gpus = executor.gpus_available()
    jobs = []
    for fit in fits:
        for i, ccfg in enumerate(cluster_configs(fit, cfg, results.run_dir(root, f"k{fit.k}"))):
            need = run_resources(cfg.model.device, gpus, executor.cpus)
            jobs.append(StudyJob(f"k{fit.k}/cluster-{i}", train_cluster, (ccfg,), **need))
    outs = executor.run(jobs)
    for fit in fits:
        record_specialists(fit, cfg, results.run_dir(root, f"k{fit.k}"), section,
                           [outs[f"k{fit.k}/cluster-{i}"] for i in range(fit.k)])


def record_specialists(fit, cfg: RunConfig, run_dir: Path, section: KSpecialistSection,
                       outs: list[Path]) -> dict[str, str]:
    """The served checkpoint of each cluster's run into the router; the K's config and totals."""
    from loralab.route.router import save_router

    steps = cluster_steps(cfg.train.max_steps, fit.router.sizes)
    adapters = {name: str(_served_checkpoint(out, section.adapter)) for name, out in zip(fit.router.names, outs, strict=True)}
    summaries = [read_json(out / results.SUMMARY) for out in outs]
    fit.router.adapters = adapters
    save_router(fit.router, fit.dir)
    save_router(fit.router, run_dir / "router")
    config = cfg.model_dump(mode="json") | {"kspecialist": {"k": fit.k, "embedder": section.embedder,
                                                           "cluster_steps": steps}}
    write_text(run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    write_json(run_dir / results.SUMMARY, results.check(results.TrainSummary, _total(summaries), run_dir / results.SUMMARY))
    return adapters


def _served_checkpoint(run_dir: Path, which: str) -> Path:
    index = [c for c in read_json(run_dir / results.CHECKPOINTS) if (run_dir / Path(c["path"]).name).exists()]
    if not index:
        raise LoralabError(f"{run_dir}: no checkpoint to serve")
    if which == "best_val" and any(c.get("val_loss") is not None for c in index):
        pick = min((c for c in index if c.get("val_loss") is not None), key=lambda c: (c["val_loss"], c["step"]))
    else:
        pick = max(index, key=lambda c: c["step"])
    return run_dir / Path(pick["path"]).name


def _total(summaries: list[dict]) -> dict:
    """Training totals over the K adapters of one K (the report's training table)."""
    runtime = sum(s.get("train_runtime") or 0 for s in summaries)
    samples = sum((s.get("train_samples_per_second") or 0) * (s.get("train_runtime") or 0) for s in summaries)
    tokens = sum((s.get("tokens_per_second") or 0) * (s.get("train_runtime") or 0) for s in summaries)
    steps = sum(s.get("steps") or 0 for s in summaries)
    finals = [(s.get("final_loss"), s.get("steps") or 0) for s in summaries if s.get("final_loss") is not None]
    return {"train_runtime": runtime, "train_samples_per_second": samples / runtime if runtime else None,
            "train_steps_per_second": steps / runtime if runtime else None,
            "tokens_per_second": tokens / runtime if runtime else None,
            "final_loss": sum(v * w for v, w in finals) / max(1, sum(w for _, w in finals)) if finals else None,
            "best_val_loss": None, "trainable_params": sum(s.get("trainable_params") or 0 for s in summaries),
            "total_params": max((s.get("total_params") or 0 for s in summaries), default=None), "steps": steps,
            "adapters": len(summaries)}


# ----------------------------------------------------------------------------- evaluation


def evaluate_on(executor, fits, cfg: RunConfig, root: Path) -> None:
    """The routed evaluation here, or as one Ray task with the GPU the base model needs."""
    if executor.name == "local":
        evaluate_routed(fits, cfg, root)
        return
    from loralab.studies.executors import StudyJob, run_resources

    need = run_resources(cfg.model.device, executor.gpus_available(), executor.cpus)
    executor.run([StudyJob("eval", evaluate_routed, (fits, cfg, root), kwargs={"checker": executor.checker()}, **need)])


def evaluate_routed(fits, cfg: RunConfig, root: Path, checker=None) -> None:
    """Base + every K's routed system on cfg.eval.tasks, from one base model with all adapters;
    `checker`: how completions are judged (None: this machine's sandbox pool)."""
    from loralab.eval.sweep import (
        System,
        best_system,
        check_all,
        load_task,
        prompt_style,
        resolve_style,
        sampling_of,
        summarise,
        task_name,
        task_problems,
        task_request,
    )
    from loralab.inference.generate import BASE, GenRequest, chat_params, make_generator
    from loralab.io import write_jsonl

    # the single-run sweep's rule: a K is skipped only when it finished with these model and
    # eval settings; another task list, limit or sampling re-evaluates (generations are cached)
    todo = [f for f in fits if not evaluation_finished(results.eval_dir(results.run_dir(root, f"k{f.k}")), cfg)]
    if not todo:
        return  # every K evaluated with these settings: re-running is a no-op
    adapters = {n: p for f in todo for n, p in f.router.adapters.items()}
    gen = make_generator(cfg.model.model_copy(update={"adapter": None}), backend=cfg.eval.backend, adapters=adapters,
                         endpoint=cfg.eval.endpoint, batch_size=cfg.eval.batch_size,
                         cache=results.study_cache(root))
    records: dict[int, list[dict]] = {f.k: [] for f in todo}
    # prompts as the adapters were trained (their loralab.json), as in the single-run sweep
    style = prompt_style(gen, resolve_style(cfg, [System(n, 0, p) for n, p in adapters.items()], None))
    for spec in cfg.eval.tasks:
        task = load_task(spec, cfg.eval.task_options)
        problems = task_problems(task, cfg.eval.limit)
        base = [task_request(task, p, style) for p in problems]
        reqs = [GenRequest(prompt=r.prompt, messages=r.messages, adapter=BASE, key=f"base:{r.key}") for r in base]
        for f in todo:
            names = f.router.route([r.route_text() for r in base])
            reqs += [GenRequest(prompt=r.prompt, messages=r.messages, adapter=n, key=f"k{f.k}:{r.key}")
                     for r, n in zip(base, names, strict=True)]
        params = sampling_of(cfg, task)
        comps = gen.generate(reqs, params if style == "completion" else chat_params(params))
        n = len(problems)
        systems = {"base": comps[:n]} | {f"k{f.k}": comps[(j + 1) * n:(j + 2) * n] for j, f in enumerate(todo)}
        checked = check_all(task, problems, systems, cfg, checker=checker)
        for f in todo:
            records[f.k] += [r for r in checked if r["system"] == "base"]
            records[f.k] += [r | {"system": ROUTED} for r in checked if r["system"] == f"k{f.k}"]
    for f in todo:
        run = results.run_dir(root, f"k{f.k}")
        out = results.eval_dir(run)
        steps = read_json(run / results.SUMMARY).get("steps") or 0
        systems = [System("base", 0, None), System(ROUTED, steps, str(run / "router"))]
        names = [task_name(t) for t in cfg.eval.tasks]
        summary = summarise(records[f.k], systems, names, cfg.eval.k, cfg.train.seed)
        select_on = cfg.eval.select_on or names[0]
        write_routing(f, run)
        write_jsonl(out / results.SAMPLES, records[f.k])
        save_config(cfg, out)
        written = {"systems": summary, "select_on": select_on, "report_on": cfg.eval.report_on or names[-1],
                   "best": best_system(summary, select_on)}
        write_json(out / results.SUMMARY, results.check(results.EvalSummary, written, out / results.SUMMARY))
        write_meta(out, stage="eval", seed=cfg.train.seed)  # last: marks the evaluation finished


def write_routing(fit, run_dir: Path) -> Path:
    """routing.json: cluster sizes per split, and routing accuracy on the held-out (test) rows."""
    from loralab.data.formats import fenced_request_text
    from loralab.io import read_jsonl
    from loralab.route.router import SPLITS, routing_accuracy, row_question

    held = [r for i in range(fit.k) for r in read_jsonl(fit.cluster_dir(i) / "test.jsonl")]
    questions = [row_question(r) for r in held]
    # the prompt as a served request carries it: the instruction (and input) plus the request line
    prompts = [fenced_request_text(q) for q in questions]
    acc = routing_accuracy(fit.router, questions, prompts)
    routing = {"k": fit.k, "embedder": fit.router.embedder, "sizes": {s: fit.split_sizes[s] for s in SPLITS},
               "heldout_rows": len(held), "routing_accuracy": None if acc != acc else acc}
    return write_json(run_dir / results.ROUTING, results.check(results.RoutingSummary, routing, run_dir / results.ROUTING))
