"""`loralab report STUDY_DIR`: report.md and a self-contained report.html from result files.

The report reads only what a study wrote (layout and schemas in loralab/results.py): each run's
config.yaml, training summary, metrics, checkpoints and evaluation summary, plus the
study's comparisons.json and meta.json. It never loads a model. A piece that is missing
(a run still training, a study without comparisons yet) renders as "—" with a note;
a piece that is present but malformed is a LoralabError naming the file and key.

The page is built once as a list of blocks (sections, tables, paragraphs, figures) and
rendered twice, to Markdown and to HTML, so the two files cannot drift apart. Charts are
PNGs in STUDY_DIR/figures/, linked from report.md and embedded in report.html as base64
data URIs so the HTML is one file that can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl, write_text
from loralab.results import Comparison, EvalSummary, SystemScore, TaskScore, TrainSummary, parse

DASH = "—"
ALPHA = 0.05  # significance level of the verdicts

# ----------------------------------------------------------------------------- result files


# The schemas live with the path layout in loralab/results.py, shared with the writers.
System = SystemScore
_parse = parse


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

    def system(self, name: str | None) -> System | None:
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


def _natural(s: str) -> list:
    """Sort key that puts r8 before r16 and HumanEval/2 before HumanEval/10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def load_run(run_dir: Path) -> RunResult:
    ev = _optional_json(run_dir / "eval" / "summary.json")
    tr = _optional_json(run_dir / "summary.json")
    ck = _optional_json(run_dir / "checkpoints.json")
    if ck is not None and not isinstance(ck, list):
        raise LoralabError(f"{run_dir / 'checkpoints.json'}: expected a JSON list of checkpoints")
    metrics, samples = run_dir / "metrics.jsonl", run_dir / "eval" / "samples.jsonl"
    return RunResult(
        name=run_dir.name,
        config=_read_yaml(run_dir / "config.yaml"),
        train=_parse(TrainSummary, tr, run_dir / "summary.json") if tr is not None else None,
        metrics=read_jsonl(metrics) if metrics.exists() else [],
        checkpoints=ck or [],
        eval=_parse(EvalSummary, ev, run_dir / "eval" / "summary.json") if ev is not None else None,
        samples=read_jsonl(samples) if samples.exists() else [],
        routing=_optional_json(run_dir / "routing.json"),
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
    return first + sorted((r for r in on_disk if r not in first), key=_natural)


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
    comps = _fill_holm([_parse(Comparison, c, root / f"comparisons.json (entry {i})") for i, c in enumerate(raw or [])])
    meta = _optional_json(root / "meta.json")
    return StudyResults(dir=root, name=str(section.get("name") or root.name), meta=meta if isinstance(meta, dict) else None,
                        runs=runs, comparisons=comps if raw is not None else None)


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


# ----------------------------------------------------------------------------- numbers


def pct(p: float | None) -> str:
    return DASH if p is None else f"{100 * p:.1f}%"


def ci_text(ci: tuple[float, float] | list | None) -> str:
    return DASH if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def pp(d: float | None) -> str:
    return DASH if d is None else f"{100 * d:+.1f} pp"


def p_text(p: float | None) -> str:
    return DASH if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")


def duration(s: float | None) -> str:
    if s is None:
        return DASH
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(round(s), 60)
    return f"{m // 60}h {m % 60:02d}m" if m >= 60 else f"{m}m {sec:02d}s"


def num(x: float | None, fmt: str = ",.1f") -> str:
    return DASH if x is None else format(x, fmt)


def count(n: int | None) -> str:
    if n is None:
        return DASH
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def verdict(c: Comparison, alpha: float = ALPHA) -> tuple[str, bool]:
    """A plain-language reading of a paired test, and whether it is significant.

    It reads the Holm-adjusted p (the raw one when the comparison is alone in its family):
    with several comparisons, some raw p < alpha is likely even when nothing differs.
    """
    if c.mcnemar_p is None:
        return "no test recorded", False
    p = c.mcnemar_p_holm if c.mcnemar_p_holm is not None else c.mcnemar_p
    if p < alpha:
        better = c.b if (c.delta_pass1 or (c.b_solved - c.a_solved)) > 0 else c.a
        return f"{better} solves more; unlikely to be noise at {alpha}", True
    flips = (c.only_a or 0) + (c.only_b or 0) if c.only_a is not None else None
    why = [f"only {flips} of {c.n} problems differ"] if flips is not None else []
    if c.mcnemar_p < alpha:
        why.append(f"raw p {p_text(c.mcnemar_p)}, Holm-adjusted over {c.holm_m} tests {p_text(p)}")
    tail = f" ({'; '.join(why)})" if why else ""
    return f"not distinguishable from noise at {alpha}{tail}", False


# ----------------------------------------------------------------------------- summary


def _base_system(study: StudyResults) -> System | None:
    return next((s for r in study.runs if r.eval for s in r.eval.systems if s.name == "base"), None)


def _comparison(study: StudyResults, a: str, b: str, task: str | None) -> Comparison | None:
    return next((c for c in study.comparisons or [] if c.a == a and c.b == b and c.task == task), None)


def _summary_row(study: StudyResults, run: RunResult) -> dict:
    task = run.report_task
    base = run.system("base") or _base_system(study)
    best = run.system(run.eval.best.name) if run.eval and run.eval.best else None
    bs, ts = (best.tasks.get(task) if best else None), (base.tasks.get(task) if base else None)
    comp = _comparison(study, "base", run.name, task)
    note = ("no eval/summary.json yet" if not run.eval else
            "no checkpoint selected yet" if not best else
            "" if comp else "no paired test vs base in comparisons.json")
    return {"run": run.name, "best": best.name if best else None, "step": best.step if best else None,
            "task": task, "base_pass1": ts.pass1 if ts else None, "best_pass1": bs.pass1 if bs else None,
            "delta": bs.pass1 - ts.pass1 if bs and ts else None, "solved": bs.solved if bs else None,
            "n_problems": bs.n_problems if bs else None, "ci95": list(bs.ci95) if bs and bs.ci95 else None,
            "p_value": comp.mcnemar_p if comp else None, "p_holm": comp.mcnemar_p_holm if comp else None,
            "note": note}


def summary_table(study_dir: str | Path) -> list[dict]:
    """Per run: best checkpoint, pass@1 of base and best on the report task, solved N/M, CI, p vs base (raw, Holm)."""
    study = load_study(study_dir)
    return [_summary_row(study, run) for run in study.runs]


# Two-line headers keep the table inside an 80-column terminal.
SUMMARY_HEADERS = ["run", "best\ncheckpoint", "task", "base\npass@1", "best\npass@1", "Δ\n(pp)", "solved",
                   "95% CI\n(%)", "p vs\nbase", "Holm\np"]
TASK_COLUMN = SUMMARY_HEADERS.index("task")


def summary_cells(row: dict) -> list[str]:
    """One summary row as text: pass@1 in %, Δ in percentage points, p from McNemar's exact test, raw and Holm."""
    solved = f"{row['solved']}/{row['n_problems']}" if row["solved"] is not None else DASH
    delta = DASH if row["delta"] is None else f"{100 * row['delta']:+.1f}"
    return [row["run"], row["best"] or DASH, row["task"] or DASH, pct(row["base_pass1"]), pct(row["best_pass1"]),
            delta, solved, ci_text(row["ci95"]), p_text(row["p_value"]), p_text(row.get("p_holm"))]


def summary_rich_table(rows: list[dict]):
    """The summary as a rich Table (coloured in a terminal); a task all runs share goes in the title."""
    from rich import box
    from rich.table import Table

    tasks = {row["task"] for row in rows}
    shared = tasks.pop() if len(tasks) == 1 and None not in tasks else None
    on = f" on {shared}" if shared else ""
    table = Table(title=f"best checkpoint per run{on} (McNemar p vs base, raw and Holm)",
                  title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), pad_edge=False, collapse_padding=True)
    keep = [i for i in range(len(SUMMARY_HEADERS)) if not (shared and i == TASK_COLUMN)]
    for i in keep:
        table.add_column(SUMMARY_HEADERS[i], justify="left" if i <= TASK_COLUMN else "right", no_wrap=True)
    for row in rows:
        cells = summary_cells(row)
        table.add_row(*(cells[i] for i in keep))
    return table


def render_summary(study_dir: str | Path) -> str:
    """The summary table as plain text (what `make demo` prints at the end)."""
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=140, color_system=None, force_terminal=False).print(
        summary_rich_table(summary_table(study_dir)))
    return buf.getvalue()


# ----------------------------------------------------------------------------- blocks


@dataclass
class Cell:
    text: str
    num: bool = False
    strong: bool = False
    title: str | None = None  # full text when `text` is shortened
    cls: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    id: str = ""
    row_cls: list[str] = field(default_factory=list)  # "differs" / "best": bold in md, a CSS class in html


@dataclass
class Para:
    text: str
    note: bool = False


@dataclass
class Sub:
    title: str


@dataclass
class Image:
    path: Path
    alt: str


@dataclass
class Details:
    summary: str
    blocks: list
    open: bool = False


@dataclass
class Section:
    title: str
    id: str
    blocks: list


def _cell(value: str, limit: int = 80, **kw) -> Cell:
    if len(value) > limit:
        return Cell(value[: limit - 1] + "…", title=value, **kw)
    return Cell(value, **kw)


# ----------------------------------------------------------------------------- sections


def _summary_section(study: StudyResults) -> Section:
    rows = [_summary_row(study, r) for r in study.runs]
    base = _base_system(study)
    tasks = [r["task"] for r in rows if r["task"]]
    task = tasks[0] if tasks else None
    ks = sorted({k for r in study.runs for s in (r.eval.systems if r.eval else []) for t in s.tasks.values()
                 for k in t.pass_at_k if k != "1"}, key=int)
    headers = ["system", "checkpoint", "step", "task", "pass@1", "solved", "95% CI", *[f"pass@{k}" for k in ks],
               "Δ vs base", "McNemar p vs base", "Holm p"]
    body, classes = [], []
    if base:
        bt = base.tasks.get(task)
        body.append(_score_cells("base", DASH, "0", task, bt, ks) + [Cell(DASH, num=True)] * 3)
        classes.append("base")
    for run, row in zip(study.runs, rows, strict=True):
        best = run.system(row["best"])
        sc = best.tasks.get(row["task"]) if best else None
        step = str(row["step"]) if row["step"] is not None else DASH
        body.append(_score_cells(run.name, row["best"] or DASH, step, row["task"], sc, ks)
                    + [Cell(pp(row["delta"]), num=True), Cell(p_text(row["p_value"]), num=True),
                       Cell(p_text(row["p_holm"]), num=True)])
        classes.append("")
    blocks: list = [Table(headers, body, id="summary-table", row_cls=classes)]
    blocks += [Para(f"{r['run']}: {DASH} because {r['note']}.", note=True) for r in rows if r["note"]]
    blocks += _selection_notes(study)
    return Section("Best checkpoint per run", "summary", blocks)


def _score_cells(system: str, ckpt: str, step: str, task: str | None, sc: TaskScore | None, ks: list[str]) -> list[Cell]:
    solved = f"{sc.solved}/{sc.n_problems}" if sc else DASH
    extra = [Cell(pct(sc.pass_at_k.get(k)) if sc else DASH, num=True) for k in ks]
    return [Cell(system, strong=True), Cell(ckpt, cls="id"), Cell(step, num=True), Cell(task or DASH),
            Cell(pct(sc.pass1) if sc else DASH, num=True), Cell(solved, num=True),
            Cell(ci_text(sc.ci95) if sc else DASH, num=True), *extra]


def _selection_notes(study: StudyResults) -> list[Para]:
    notes = []
    for run in study.runs:
        ev = run.eval
        if ev and ev.best and ev.select_on and ev.select_on == run.report_task:
            notes.append(Para(f"{run.name}: the best checkpoint was selected on {ev.select_on}, the same task it is "
                              "reported on, so its pass@1 is optimistically biased (selection on the test set).",
                              note=True))
        elif ev and ev.best and ev.select_on:
            notes.append(Para(f"{run.name}: best checkpoint selected on {ev.select_on}, reported on "
                              f"{run.report_task}.", note=True))
    bases = {(t, s.pass1) for r in study.runs if r.system("base") for t, s in r.system("base").tasks.items()}
    if len({t for t, _ in bases}) < len(bases):
        notes.append(Para("The base model's scores differ between runs (different evaluation settings?); "
                          "the first run's are shown.", note=True))
    return notes


def _who(run: str, system: str | None) -> str:
    """'r8 (checkpoint-20)': the run and which of its checkpoints was tested."""
    return run if not system or system == run else f"{run} ({system})"


def _significance_section(study: StudyResults) -> Section:
    if study.comparisons is None:
        return Section("Paired significance tests", "significance",
                       [Para(f"{DASH} no comparisons.json yet: the study has not compared runs.", note=True)])
    headers = ["A", "B", "task", "A solved", "B solved", "only A", "only B", "Δ pass@1 (B − A)",
               "bootstrap 95% CI", "McNemar p (raw)", "Holm p", "verdict"]
    rows = []
    for c in study.comparisons:
        text, sig = verdict(c)
        rows.append([Cell(_who(c.a, c.a_system), strong=True), Cell(_who(c.b, c.b_system), strong=True), Cell(c.task),
                     Cell(f"{c.a_solved}/{c.n}", num=True), Cell(f"{c.b_solved}/{c.n}", num=True),
                     Cell(DASH if c.only_a is None else str(c.only_a), num=True),
                     Cell(DASH if c.only_b is None else str(c.only_b), num=True),
                     Cell(pp(c.delta_pass1), num=True), Cell(ci_text(c.bootstrap_ci95), num=True),
                     Cell(p_text(c.mcnemar_p), num=True), Cell(p_text(c.mcnemar_p_holm), num=True),
                     Cell(text, cls="sig" if sig else "noise")])
    why = ("Each pair is scored on the same problems, so the tests are paired: McNemar's exact test uses only "
           "the problems one system solves and the other does not (only A, only B; McNemar 1947), and the "
           "interval is a paired bootstrap over problems (95% for each pair, not adjusted). The comparisons "
           "on one task are one family of tests: Holm's step-down correction (Holm 1979) adjusts their "
           "p-values so that the chance of calling any of them different by luck stays at α; verdicts read "
           f"the Holm p at α = {ALPHA}. With a few dozen problems only large differences can be told from noise.")
    blocks = [Table(headers, rows, id="significance-table"), Para(why, note=True)]
    if not rows:
        blocks = [Para(f"{DASH} comparisons.json is empty.", note=True)]
    return Section("Paired significance tests", "significance", blocks)


def _tasks(study: StudyResults) -> list[str]:
    seen: dict[str, None] = {}
    for run in study.runs:
        for s in run.eval.systems if run.eval else []:
            seen.update(dict.fromkeys(s.tasks))
    return list(seen)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "task"


def _pass_series(study: StudyResults, task: str):
    from loralab.analysis.plots import PassSeries, colour

    series = {}
    for i, run in enumerate(study.runs):
        pts = sorted((s for s in (run.eval.systems if run.eval else []) if s.name != "base" and task in s.tasks),
                     key=lambda s: s.step)
        if pts:
            best = run.eval.best.step if run.eval.best else None
            series[run.name] = PassSeries([s.step for s in pts], [s.tasks[task].pass1 for s in pts],
                                          [s.tasks[task].ci95 for s in pts], best_step=best, colour=colour(i))
    return series


def _loss_curves(study: StudyResults):
    from loralab.analysis.plots import LossCurves, colour

    curves = {}
    for i, run in enumerate(study.runs):
        c = LossCurves(colour=colour(i))
        for row in run.metrics:
            if row.get("loss") is not None and row.get("step") is not None:
                c.train_steps.append(row["step"])
                c.train_loss.append(row["loss"])
            if row.get("val_loss") is not None and row.get("step") is not None:
                c.val_steps.append(row["step"])
                c.val_loss.append(row["val_loss"])
        if c.train_steps or c.val_steps:
            curves[run.name] = c
    return curves


def _charts_section(study: StudyResults, fig_dir: Path) -> Section:
    from loralab.analysis.plots import plot_losses, plot_pass1_vs_step

    blocks: list = []
    base = _base_system(study)
    for task in _tasks(study):
        bt = base.tasks.get(task) if base else None
        path = plot_pass1_vs_step(task, _pass_series(study, task), (bt.pass1, bt.ci95) if bt else None,
                                  fig_dir / f"pass1_{_slug(task)}.png")
        blocks.append(Image(path, f"pass@1 versus training step on {task}, one line per run, base dashed"))
    if not blocks:
        blocks.append(Para(f"{DASH} no evaluation results yet, so no pass@1 chart.", note=True))
    curves = _loss_curves(study)
    if curves:
        blocks.append(Image(plot_losses(curves, fig_dir / "loss.png"), "training and validation loss per run"))
    missing = [r.name for r in study.runs if r.name not in curves]
    if missing:
        blocks.append(Para(f"No metrics.jsonl yet for: {', '.join(missing)} (loss curve {DASH}).", note=True))
    blocks.insert(0, Para("Error bars are 95% confidence intervals (runs are shifted sideways a little so they "
                          "do not hide each other); a star marks the checkpoint selected as best; the dashed line "
                          "and grey band are the base model before fine-tuning and its interval."))
    return Section("pass@1 versus step, and loss curves", "charts", blocks)


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    """{'adapter': {'r': 8}} -> {'adapter.r': '8'}: nested config to dotted keys, values as text."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else yaml.safe_dump(
                value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
    return out


def config_diff(configs: dict[str, dict | None]) -> tuple[list[str], list[str]]:
    """(keys whose values differ between runs, keys shared by all), in config order."""
    flats = [flatten(c) for c in configs.values() if c is not None]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    differs = [k for k in keys if len({f.get(k) for f in flats}) > 1]
    return differs, [k for k in keys if k not in differs]


def _config_section(study: StudyResults) -> Section:
    configs = {r.name: r.config for r in study.runs}
    flats = {name: flatten(c) if c is not None else {} for name, c in configs.items()}
    differs, shared = config_diff(configs)
    headers = ["key", *configs]

    def rows(keys: list[str]) -> list[list[Cell]]:
        return [[Cell(k, strong=True)] + [_cell(flats[n].get(k, DASH)) for n in configs] for k in keys]

    blocks: list = []
    if len(configs) > 1:
        blocks.append(Para(f"{len(differs)} setting(s) differ between the runs (highlighted); "
                           f"{len(shared)} are shared." if differs else "No setting differs between the runs."))
        blocks.append(Table(headers, rows(differs), id="config-diff", row_cls=["differs"] * len(differs)))
    blocks.append(Details(f"{len(shared)} settings shared by all runs", [Table(headers, rows(shared), id="config-shared")],
                          open=len(configs) == 1))
    blocks += [Para(f"{n}: no config.yaml ({DASH}).", note=True) for n, c in configs.items() if c is None]
    return Section("Run configurations side by side", "configs", blocks)


def _training_section(study: StudyResults) -> Section:
    headers = ["run", "steps", "runtime", "samples/s", "steps/s", "tokens/s", "final train loss",
               "best val loss", "trainable params", "of total"]
    rows, notes = [], []
    for run in study.runs:
        t = run.train or TrainSummary()
        share = (f"{100 * t.trainable_params / t.total_params:.2f}%"
                 if t.trainable_params is not None and t.total_params else DASH)
        rows.append([Cell(run.name, strong=True), Cell(num(t.steps, "d"), num=True), Cell(duration(t.train_runtime), num=True),
                     Cell(num(t.train_samples_per_second, ",.2f"), num=True),
                     Cell(num(t.train_steps_per_second, ",.3f"), num=True), Cell(num(t.tokens_per_second), num=True),
                     Cell(num(t.final_loss, ".4f"), num=True), Cell(num(t.best_val_loss, ".4f"), num=True),
                     Cell(count(t.trainable_params), num=True), Cell(share, num=True)])
        if run.train is None:
            notes.append(Para(f"{run.name}: no summary.json yet (training not finished), so {DASH}.", note=True))
    return Section("Training summary", "training", [Table(headers, rows, id="training-table"), *notes])


def _routing_section(study: StudyResults) -> Section | None:
    """K specialists: cluster sizes and routing accuracy per K (only for runs with routing.json)."""
    runs = [r for r in study.runs if isinstance(r.routing, dict)]
    if not runs:
        return None
    headers = ["run", "K", "train rows per cluster", "held-out rows", "routing accuracy"]
    rows = []
    for run in runs:
        g = run.routing
        sizes = (g.get("sizes") or {}).get("train") or []
        acc = g.get("routing_accuracy")
        rows.append([Cell(run.name, strong=True), Cell(str(g.get("k", DASH)), num=True),
                     _cell(", ".join(str(n) for n in sizes) or DASH), Cell(count(g.get("heldout_rows")), num=True),
                     Cell(pct(acc) if isinstance(acc, (int, float)) else DASH, num=True)])
    note = Para("Routing accuracy: the fraction of held-out rows whose served prompt the router sends to the "
                "cluster k-means assigns their question.")
    return Section("K-specialist routing", "routing", [note, Table(headers, rows, id="routing-table")])


def _learn_forget_section(study: StudyResults, fig_dir: Path) -> Section | None:
    """Target gain against forgetting per checkpoint (only when runs have eval_mc/ results)."""
    from loralab.analysis.learn_forget import plot_learn_forget, study_points, table_rows

    points = study_points(study.dir)
    if not points:
        return None
    rows = table_rows(points)
    headers = list(rows[0])
    cells = [[_cell(str(r[h]), num=not isinstance(r[h], str), strong=h == "run") for h in headers] for r in rows]
    note = Para("Target gain: pass@1 on the report task minus the base's; source change: the mean over the "
                "forgetting tasks of each one's headline metric (acc_norm, or acc) minus the base's, in percentage "
                "points. Up is learning, left is forgetting; the base is the origin.")
    image = Image(plot_learn_forget(points, fig_dir / "learn_forget.png"), "target gain against source change per checkpoint")
    return Section("Learning versus forgetting", "learn-forget", [note, Table(headers, cells, id="learn-forget-table"), image])


def _checkpoint_rows(run: RunResult, tasks: list[str]) -> tuple[list[list[Cell]], list[str]]:
    by_step = {c.get("step"): c for c in run.checkpoints}
    systems = {s.step: s for s in (run.eval.systems if run.eval else [])}
    best = run.eval.best.name if run.eval and run.eval.best else None
    rows, classes = [], []
    for step in sorted(set(by_step) | set(systems), key=lambda s: (s is None, s or 0)):
        ck, s = by_step.get(step, {}), systems.get(step)
        name = s.name if s else Path(str(ck.get("path") or f"checkpoint-{step}")).name
        scores = [s.tasks.get(t) if s else None for t in tasks]
        rows.append([Cell(name, strong=True, cls="id"), Cell(DASH if step is None else str(step), num=True),
                     Cell(count(ck.get("tokens_seen")), num=True), Cell(num(ck.get("train_loss"), ".4f"), num=True),
                     Cell(num(ck.get("val_loss"), ".4f"), num=True)]
                    + [Cell(f"{pct(sc.pass1)} ({sc.solved}/{sc.n_problems})" if sc else DASH, num=True) for sc in scores])
        classes.append("best" if s and s.name == best else "")
    return rows, classes


def _checkpoints_section(study: StudyResults) -> Section:
    tasks = _tasks(study)
    headers = ["checkpoint", "step", "tokens seen", "train loss", "val loss", *[f"pass@1 {t}" for t in tasks]]
    blocks: list = [Para("Every checkpoint the study evaluated; the selected one is in bold. Step 0 is the base model.")]
    for run in study.runs:
        rows, classes = _checkpoint_rows(run, tasks)
        blocks.append(Sub(run.name))
        if rows:
            blocks.append(Table(headers, rows, id=f"checkpoints-{_slug(run.name)}", row_cls=classes))
        else:
            blocks.append(Para(f"{DASH} no checkpoints.json and no evaluation yet.", note=True))
    return Section("Checkpoints", "checkpoints", blocks)


def _outcomes(samples: list[dict], system: str, task: str) -> dict[str, tuple[int, int]]:
    """task_id -> (samples passed, samples drawn) for one system on one task."""
    out: dict[str, tuple[int, int]] = {}
    for row in samples:
        if row.get("system") == system and row.get("task") == task and "task_id" in row:
            k, n = out.get(str(row["task_id"]), (0, 0))
            out[str(row["task_id"])] = (k + bool(row.get("passed")), n + 1)
    return out


def _outcome_text(o: tuple[int, int] | None) -> str:
    if o is None:
        return DASH
    return ("✓" if o[0] else "✗") if o[1] == 1 else f"{o[0]}/{o[1]}"


def _outcome_cell(o: tuple[int, int] | None) -> Cell:
    return Cell(_outcome_text(o), cls="" if o is None else ("pass" if o[0] else "fail"))


def _problems_section(study: StudyResults) -> Section:
    task = next((r.report_task for r in study.runs if r.report_task), None)
    cols: dict[str, dict] = {}
    base_run = next((r for r in study.runs if r.samples and r.system("base")), None)
    if base_run and task:
        cols["base"] = _outcomes(base_run.samples, "base", task)
    for run in study.runs:
        if run.samples and run.eval and run.eval.best and task:
            cols[f"{run.name} ({run.eval.best.name})"] = _outcomes(run.samples, run.eval.best.name, task)
    title = "Per-problem outcomes"
    if not any(cols.values()):
        return Section(title, "problems", [Para(f"{DASH} no eval/samples.jsonl yet, so no per-problem view.", note=True)])
    ids = sorted({i for c in cols.values() for i in c}, key=_natural)
    flips = [i for i in ids if len({_outcome_text(c.get(i)) for c in cols.values()}) > 1]
    rows = [[Cell(i, strong=True)] + [_outcome_cell(c.get(i)) for c in cols.values()] for i in flips]
    text = (f"{len(flips)} of {len(ids)} problems of {task} change outcome between the base model and the selected "
            "checkpoints (✓ solved, ✗ not; k/n when several samples were drawn). These discordant problems are "
            "what the paired tests above count.")
    table = Table(["problem", *cols], rows, id="problems-table")
    return Section(title, "problems", [Para(text), Details(f"the {len(flips)} problems that change", [table],
                                                          open=len(flips) <= 20)])


def _environment_section(study: StudyResults) -> Section:
    meta = study.meta
    if meta is None:
        return Section("Hardware and library versions", "environment",
                       [Para(f"{DASH} no meta.json yet (the study writes it when it finishes).", note=True)])
    hw = meta.get("hardware") if isinstance(meta.get("hardware"), dict) else meta
    rows = [("CPU", hw.get("cpu")), ("cores", hw.get("cores")), ("GPU", hw.get("gpu") or "none")]
    versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    rows += list(versions.items())
    rows += [("study finished at", meta.get("finished_at")), ("study wall time", duration(meta.get("seconds")))]
    timings = meta.get("timings") if isinstance(meta.get("timings"), dict) else {}
    rows += [(f"time: {k}", duration(v) if isinstance(v, (int, float)) else v) for k, v in timings.items()]
    cells = [[Cell(str(k), strong=True), _cell(DASH if v is None else str(v), limit=120)] for k, v in rows]
    return Section("Hardware and library versions", "environment", [Table(["item", "value"], cells, id="environment-table")])


# ----------------------------------------------------------------------------- the document


@dataclass
class Document:
    title: str
    facts: list[tuple[str, str]]
    sections: list[Section]


def build_document(study: StudyResults) -> Document:
    meta = study.meta or {}
    hw = meta.get("hardware") if isinstance(meta.get("hardware"), dict) else meta
    where = f"{hw.get('cpu') or 'unknown CPU'} × {hw.get('cores') or '?'} cores, GPU: {hw.get('gpu') or 'none'}"
    facts = [("study directory", str(study.dir.resolve())),
             ("study finished", str(meta.get("finished_at") or f"{DASH} (no meta.json yet)")),
             ("wall time", duration(meta.get("seconds"))),
             ("hardware", where if study.meta else DASH),
             ("runs", ", ".join(r.name for r in study.runs)),
             ("report written", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))]
    sections = [_summary_section(study), _significance_section(study),
                _charts_section(study, study.dir / "figures"), _config_section(study), _training_section(study),
                _checkpoints_section(study), _problems_section(study), _environment_section(study)]
    extra = [_routing_section(study), _learn_forget_section(study, study.dir / "figures")]
    sections[2:2] = [x for x in extra if x is not None]
    return Document(f"Study report: {study.name}", facts, sections)


# ----------------------------------------------------------------------------- markdown

# Characters Markdown would act on: emphasis, code, HTML, table pipes, headings, a "]" that
# would close a link text, and "_" at a word edge (inside words CommonMark leaves it alone).
_MD_SPECIAL = re.compile(r"([\\`*<>|#]|\](?=[(\[:])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_escape(text: str) -> str:
    """Plain text -> Markdown that shows the same text (pipes safe inside tables)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", "").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    def cell(c: Cell, strong: bool) -> str:
        text = md_escape(c.text)
        return f"**{text}**" if (c.strong or strong) and c.text != DASH else text

    numeric = [any(r[j].num for r in t.rows) for j in range(len(t.headers))]
    lines = ["| " + " | ".join(md_escape(h) for h in t.headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for i, row in enumerate(t.rows):
        strong = i < len(t.row_cls) and t.row_cls[i] in ("differs", "best")
        lines.append("| " + " | ".join(cell(c, strong) for c in row) + " |")
    return lines + [""]


def _md_blocks(blocks: list, root: Path) -> list[str]:
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Table):
            lines += _md_table(b) if b.rows else ["(none)", ""]
        elif isinstance(b, Para):
            lines += [f"_{md_escape(b.text)}_" if b.note else md_escape(b.text), ""]
        elif isinstance(b, Sub):
            lines += [f"### {md_escape(b.title)}", ""]
        elif isinstance(b, Image):
            rel = b.path.relative_to(root).as_posix() if b.path.is_relative_to(root) else b.path.as_posix()
            lines += [f"![{md_escape(b.alt)}]({rel})", ""]
        elif isinstance(b, Details):
            lines += [f"**{md_escape(b.summary)}**", ""] + _md_blocks(b.blocks, root)
    return lines


def to_markdown(doc: Document, root: Path) -> str:
    lines = [f"# {md_escape(doc.title)}", ""]
    lines += [f"- **{md_escape(k)}:** {md_escape(v)}" for k, v in doc.facts] + [""]
    for s in doc.sections:
        lines += [f"## {md_escape(s.title)}", ""] + _md_blocks(s.blocks, root)
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- html

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #1f2328; background: #fff; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 1.7em; margin: 0.4em 0; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 1.8em; }
h3 { margin: 1.2em 0 0.3em; }
ul.facts { list-style: none; padding: 0; margin: 0 0 1em; color: #424a53; }
ul.facts b { display: inline-block; min-width: 9em; color: #1f2328; }
nav { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; font-size: 0.95em; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.differs td { background: #fff8c5; } tr.differs td:first-child { font-weight: 700; }
tr.best td { font-weight: 700; background: #dafbe1; } tr.base td { background: #f6f8fa; }
td.sig { color: #1a7f37; font-weight: 600; min-width: 15em; } td.noise { color: #57606a; min-width: 15em; }
td.pass { color: #1a7f37; } td.fail { color: #cf222e; } td.id { white-space: nowrap; }
p.note { color: #57606a; font-style: italic; margin: 4px 0; }
figure { margin: 10px 0 18px; } figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 0.9em; }
details > summary { cursor: pointer; color: #0969da; margin: 6px 0; }
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(t: Table) -> str:
    numeric = [any(r[j].num for r in t.rows) for j in range(len(t.headers))]
    head = "".join(f'<th{" class=num" if n else ""}>{_h(h)}</th>' for h, n in zip(t.headers, numeric, strict=True))
    body = []
    for i, row in enumerate(t.rows):
        cls = t.row_cls[i] if i < len(t.row_cls) and t.row_cls[i] else ""
        tds = []
        for c in row:
            classes = " ".join(x for x in ("num" if c.num else "", c.cls) if x)
            attrs = (f' class="{_h(classes)}"' if classes else "") + (f' title="{_h(c.title)}"' if c.title else "")
            text = f"<b>{_h(c.text)}</b>" if c.strong else _h(c.text)
            tds.append(f"<td{attrs}>{text}</td>")
        body.append(f'<tr{f" class={_h(cls)}" if cls else ""}>{"".join(tds)}</tr>')
    ident = f' id="{_h(t.id)}"' if t.id else ""
    return f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _png_size(data: bytes) -> tuple[int, int]:
    # PNG: 8-byte signature, then the IHDR chunk whose first fields are width and height (big-endian).
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _html_image(img: Image) -> str:
    data = img.path.read_bytes()
    w, h = _png_size(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<figure><img src="{uri}" alt="{_h(img.alt)}" width="{w}" height="{h}">'
            f"<figcaption>{_h(img.alt)}</figcaption></figure>")


def _html_blocks(blocks: list) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Table):
            parts.append(_html_table(b) if b.rows else "<p class=note>(none)</p>")
        elif isinstance(b, Para):
            parts.append(f'<p{" class=note" if b.note else ""}>{_h(b.text)}</p>')
        elif isinstance(b, Sub):
            parts.append(f"<h3>{_h(b.title)}</h3>")
        elif isinstance(b, Image):
            parts.append(_html_image(b))
        elif isinstance(b, Details):
            parts.append(f'<details{" open" if b.open else ""}><summary>{_h(b.summary)}</summary>'
                         f"{_html_blocks(b.blocks)}</details>")
    return "\n".join(parts)


def to_html(doc: Document) -> str:
    facts = "".join(f"<li><b>{_h(k)}</b> {_h(v)}</li>" for k, v in doc.facts)
    nav = "\n".join(f'<a href="#{_h(s.id)}">{_h(s.title)}</a>' for s in doc.sections)
    sections = "\n".join(f'<section id="{_h(s.id)}"><h2>{_h(s.title)}</h2>\n{_html_blocks(s.blocks)}</section>'
                         for s in doc.sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_h(doc.title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{_h(doc.title)}</h1>\n"
            f'<ul class="facts">{facts}</ul>\n<nav>{nav}</nav>\n{sections}\n</main>\n</body>\n</html>\n')


def write_report(study_dir: str | Path) -> tuple[Path, Path]:
    """Write STUDY_DIR/report.md, STUDY_DIR/report.html and STUDY_DIR/figures/*.png; return the two reports."""
    study = load_study(study_dir)
    doc = build_document(study)
    md = write_text(study.dir / "report.md", to_markdown(doc, study.dir))
    page = write_text(study.dir / "report.html", to_html(doc))
    return md, page
