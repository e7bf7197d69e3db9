"""The report's tables: best checkpoints, paired tests, training, routing, checkpoints, problems, environment."""

from __future__ import annotations

from pathlib import Path

from loralab.report.blocks import Cell, Details, Para, Section, Sub, Table, short_cell, slug
from loralab.report.format import ALPHA, DASH, ci_text, count, duration, num, p_text, pct, pp, verdict
from loralab.report.load import RunResult, StudyResults, natural, task_names
from loralab.report.summary import base_system, summary_row
from loralab.results import TaskScore, TrainSummary


def summary_section(study: StudyResults) -> Section:
    rows = [summary_row(study, r) for r in study.runs]
    base = base_system(study)
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


def significance_section(study: StudyResults) -> Section:
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


def training_section(study: StudyResults) -> Section:
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


def routing_section(study: StudyResults) -> Section | None:
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
                     short_cell(", ".join(str(n) for n in sizes) or DASH), Cell(count(g.get("heldout_rows")), num=True),
                     Cell(pct(acc) if isinstance(acc, (int, float)) else DASH, num=True)])
    note = Para("Routing accuracy: the fraction of held-out rows whose served prompt the router sends to the "
                "cluster k-means assigns their question.")
    return Section("K-specialist routing", "routing", [note, Table(headers, rows, id="routing-table")])


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


def checkpoints_section(study: StudyResults) -> Section:
    tasks = task_names(study)
    headers = ["checkpoint", "step", "tokens seen", "train loss", "val loss", *[f"pass@1 {t}" for t in tasks]]
    blocks: list = [Para("Every checkpoint the study evaluated; the selected one is in bold. Step 0 is the base model.")]
    for run in study.runs:
        rows, classes = _checkpoint_rows(run, tasks)
        blocks.append(Sub(run.name))
        if rows:
            blocks.append(Table(headers, rows, id=f"checkpoints-{slug(run.name)}", row_cls=classes))
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


def problems_section(study: StudyResults) -> Section:
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
    ids = sorted({i for c in cols.values() for i in c}, key=natural)
    flips = [i for i in ids if len({_outcome_text(c.get(i)) for c in cols.values()}) > 1]
    rows = [[Cell(i, strong=True)] + [_outcome_cell(c.get(i)) for c in cols.values()] for i in flips]
    text = (f"{len(flips)} of {len(ids)} problems of {task} change outcome between the base model and the selected "
            "checkpoints (✓ solved, ✗ not; k/n when several samples were drawn). These discordant problems are "
            "what the paired tests above count.")
    table = Table(["problem", *cols], rows, id="problems-table")
    return Section(title, "problems", [Para(text), Details(f"the {len(flips)} problems that change", [table],
                                                          open=len(flips) <= 20)])


def environment_section(study: StudyResults) -> Section:
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
    cells = [[Cell(str(k), strong=True), short_cell(DASH if v is None else str(v), limit=120)] for k, v in rows]
    return Section("Hardware and library versions", "environment", [Table(["item", "value"], cells, id="environment-table")])
