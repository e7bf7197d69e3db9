"""`loralab forgetting, analyze learn-forget / spectrum`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loralab.cli.common import SetOpt, app, out
from loralab.cli.evaluation import check_target
from loralab.errors import LoralabError
from loralab.inputs import (
    data_source,
    in_dir_arg,
    in_dir_opt,
    model_name,
    out_dir_opt,
    output_dir,
    positive_int_opt,
)

# ----------------------------------------------------------------------------- forgetting, analyze


@app.command()
def forgetting(
    target: str = typer.Argument("smollm2-135m-instruct", help="A run directory (base + every checkpoint) or a model."),
    task: list[str] = typer.Option(["hellaswag", "arc_challenge"], "--task", "-t",
                                   help="hellaswag, arc_challenge, arc_easy, winogrande, piqa, boolq, or ALIAS=TASK (repeatable)."),
    source: list[str] = typer.Option([], "--source", help="TASK=FILE|DIR|HUB_ID where a task's rows come from (default: its hub dataset)."),
    adapter: list[Path] = in_dir_opt([], "--adapter", "-a", help="Score the base and these adapter dirs instead of a run's checkpoints."),
    limit: Optional[int] = positive_int_opt(None, "--limit", help="First N items of each task."),
    batch_size: Optional[int] = positive_int_opt(None, "--batch-size", help="(context, choice) pairs per forward pass (default 8)."),
    out_dir: Optional[Path] = out_dir_opt(None, "--out", help="Output directory (default: TARGET/forgetting or runs/forgetting/NAME)."),
    overrides: Optional[list[str]] = SetOpt,
) -> None:
    """Multiple-choice accuracy (acc, acc_norm) by log-likelihood for a base and its checkpoints.

    Example: loralab forgetting runs/lora-codealpaca --task arc_challenge --source arc_challenge=../shared/data/forgetting/arc_challenge_test.jsonl --limit 200
    """
    from loralab.eval.multiple_choice import evaluate_mc_run, summary_rich_table
    from loralab.eval.sweep import System, run_config_of

    check_target(target)
    sets = list(overrides or []) + [f"eval.{k}={v}" for k, v in (("limit", limit), ("batch_size", batch_size)) if v]
    cfg = run_config_of(target, sets)
    for pair in source:
        alias, sep, where = (part.strip() for part in pair.partition("="))
        if not sep or not alias or not where:
            raise LoralabError(f"--source {pair!r}: expected TASK=FILE_OR_HUB_ID, e.g. --source hellaswag=data/hs.jsonl")
        data_source(where, f"--source {alias}=")
        cfg.eval.task_options.setdefault(alias, {})["source"] = where
    systems = [System("base", 0, None)] + [System(a.name, i, str(a)) for i, a in enumerate(adapter, 1)] if adapter else None
    dest = out_dir or (Path(target) / "forgetting" if Path(target).is_dir() else Path("runs/forgetting") / Path(target).name)
    output_dir(dest, "--out")
    path = evaluate_mc_run(target, cfg, task, dest, systems=systems)
    out.print(summary_rich_table(path))
    out.print(f"wrote {path}", highlight=False)


analyze_app = typer.Typer(help="Analyses of finished runs read from their files: spectrum of the weight change, "
                               "learning versus forgetting.", no_args_is_help=True)
app.add_typer(analyze_app, name="analyze")


@analyze_app.command("learn-forget")
def analyze_learn_forget_cmd(
    study_dir: Path = in_dir_arg(..., help="A study directory whose runs were evaluated on code and forgetting tasks."),
    out_dir: Optional[Path] = out_dir_opt(None, "--out", help="Where learn_forget.{csv,md,png} go (default: the study)."),
    task: Optional[str] = typer.Option(None, "--task", help="Target task (default: each run's report_on task)."),
) -> None:
    """Target gain (pass@1 change) against source change (forgetting tasks) per checkpoint, base at the origin.

    Example: loralab analyze learn-forget runs/lora-vs-full
    """
    from loralab.analysis.learn_forget import write_learn_forget

    if not (study_dir / "runs").is_dir():
        raise LoralabError(f"{study_dir}: not a study directory (no runs/ inside); run `loralab study run STUDY.yaml` first")

    where, rows = write_learn_forget(study_dir, out_dir, task)
    from rich.table import Table

    table = Table(*rows[0].keys())
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    out.print(table)
    out.print(f"wrote {where / 'learn_forget.csv'}, .md and .png", highlight=False)


@analyze_app.command("spectrum")
def analyze_spectrum_cmd(
    runs: list[Path] = in_dir_arg(..., help="LoRA/DoRA adapter dirs, full model dirs, or run dirs (their last checkpoint)."),
    out_dir: Path = out_dir_opt(..., "--out", help="Directory for spectrum.{json,csv,md,png} and singular_values.npz."),
    base: Optional[str] = typer.Option(None, "--base", help="Base model (alias, directory or hub id); needed for full and DoRA runs."),
    label: list[str] = typer.Option([], "--label", help="A name per run, in order (default: the directory name)."),
    embeddings: bool = typer.Option(False, "--embeddings", help="Include embedding and LM-head matrices of full runs."),
) -> None:
    """Singular values of each matrix's weight change (LoRA B·A·scale, DoRA, or W_ft − W_base) and the rank for 90% of it.

    Streams one tensor at a time from the safetensors files, so it runs on CPU in bounded memory.

    Example: loralab analyze spectrum --base smollm2-135m-instruct runs/lora runs/full --out runs/spectrum
    """
    from loralab.analysis.spectrum import analyze_spectrum

    if base is not None:
        model_name(base, "--base")
    res = analyze_spectrum(runs, out_dir, base=base, labels=label or None, include_embeddings=embeddings)
    out.print(res.describe(), highlight=False, soft_wrap=True)
