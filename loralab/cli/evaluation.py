"""`loralab eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loralab.cli.common import JsonOpt, SetOpt, app, console, json_stdout, out, print_json
from loralab.errors import LoralabError
from loralab.inputs import (
    in_file_opt,
    model_name,
    out_dir_opt,
    output_dir,
    positive_int_opt,
)

# ----------------------------------------------------------------------------- eval, study


def check_target(target: str) -> None:
    """TARGET of eval/forgetting: a training run directory, or a model (alias, directory, .gguf, hub id)."""
    path = Path(target).expanduser()
    from loralab.eval.targets import is_adapter, is_foreign_run

    known = [(path / "config.yaml").is_file(), (path / "config.json").is_file(), is_adapter(path), is_foreign_run(path)]
    if path.is_dir() and not any(known):
        raise LoralabError(f"{target}: neither a training run (no config.yaml or checkpoint-*/ adapters), "
                           "an adapter (no adapter_config.json) nor a model directory (no config.json)")
    if not path.is_dir():
        model_name(target, "TARGET")


@app.command("eval")
def eval_cmd(
    target: str = typer.Argument(..., help="A run directory (loralab's, or HF Trainer/TRL/Axolotl checkpoint-N/ adapters): base + every checkpoint; an adapter directory; or a model."),
    adapter: Optional[list[str]] = typer.Option(None, "--adapter", "-a", help="[NAME=]DIR of a PEFT adapter, scored beside the base (repeatable; NAME defaults to the directory name)."),
    task: Optional[list[str]] = typer.Option(None, "--task", "-t", help="humaneval, mbpp, livecodebench, pytasks, acme; multiple choice: hellaswag, arc_challenge, arc_easy, winogrande, piqa, boolq (repeatable)."),
    out_dir: Optional[Path] = out_dir_opt(None, "--out", help="Output directory (default: TARGET/eval or runs/eval/NAME)."),
    limit: Optional[int] = positive_int_opt(None, "--limit", help="First N problems of each task."),
    config: Optional[Path] = in_file_opt(None, "--config", "-c", help="A run YAML (default: the run's own config.yaml)."),
    overrides: Optional[list[str]] = SetOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Evaluate the base model and every checkpoint of a run (or given adapters); mark the best by pass@1.

    Progress bars (generation per system, sandbox per sample) show on stderr when it is a terminal.
    With train.report_to set, pass@k and solved per checkpoint also go to TensorBoard/MLflow.

    Example: loralab eval runs/lora-codealpaca --task humaneval --limit 20
    Example: loralab eval smollm2-135m-instruct --adapter a=runs/a/checkpoint-100 --adapter runs/b/checkpoint-100 -t humaneval
    """
    from loralab.config import load_config
    from loralab.eval.sweep import run_config_of

    check_target(target)
    sets = list(overrides or [])
    if task:
        sets.append("eval.tasks=[" + ",".join(task) + "]")
    if limit:
        sets.append(f"eval.limit={limit}")
    cfg = load_config(config, sets) if config else run_config_of(target, sets)
    doc: dict = {"eval_dir": None, "summary": None, "multiple_choice": None}
    with json_stdout(as_json):
        _eval_code_and_mc(target, cfg, adapter, out_dir, doc)
    if as_json:
        print_json(doc)
    elif doc["eval_dir"]:
        from loralab.eval.summary import render_eval_summary

        out.print(render_eval_summary(doc["eval_dir"]))


def _eval_code_and_mc(target: str, cfg, adapter: list[str] | None, out_dir: Path | None, doc: dict) -> None:
    """Multiple-choice tasks into eval_mc/, code tasks into eval/; fill `doc` (what --json prints)."""
    from loralab.eval.mc_tasks import multiple_choice_specs
    from loralab.eval.sweep import evaluate, systems_for
    from loralab.io import read_json

    mc = multiple_choice_specs(cfg.eval.tasks)
    if mc:
        from loralab.eval.multiple_choice import evaluate_mc_run

        dest = out_dir or (Path(target) / "eval_mc" if Path(target).is_dir() else Path("runs/eval") / Path(target).name)
        output_dir(dest, "--out")
        path = evaluate_mc_run(target, cfg, mc, dest, systems=systems_for(target, cfg, adapter))
        doc["multiple_choice"] = {"eval_dir": str(path), "summary": read_json(Path(path) / "summary.json")}
        out.print(f"wrote {path}")  # under --json, stdout is stderr here
        cfg.eval.tasks = [t for t in cfg.eval.tasks if t not in mc]
        if not cfg.eval.tasks:
            return
    dest = out_dir or (Path(target) / "eval" if Path(target).is_dir() else Path("runs/eval") / Path(target).name)
    output_dir(dest, "--out")
    from loralab.eval.progress import bars

    with bars() as progress:
        path = evaluate(target, dest, cfg=cfg, adapters=adapter, bars=progress)
    doc["eval_dir"], doc["summary"] = str(path), read_json(Path(path) / "summary.json")
    _track_eval(target, path, cfg)


def _track_eval(target: str, eval_dir: Path, cfg) -> None:
    """train.report_to set: each checkpoint's pass@k to the trackers, in the run directory when
    TARGET is a run (beside its training curves), else in the eval directory."""
    if not cfg.train.report_to:
        return
    from loralab.train.tracking import log_eval_summary

    run = Path(target)
    log_dir = run if (run / "config.yaml").is_file() else Path(eval_dir)
    try:
        if log_eval_summary(Path(eval_dir), log_dir, cfg.train.report_to, cfg.model_dump(mode="json")):
            console.print(f"sent pass@k per checkpoint to {', '.join(cfg.train.report_to)} under {log_dir}", highlight=False, markup=False)
    except LoralabError as e:  # the evaluation itself is done and kept; only the mirror failed
        console.print(f"warning: not sent to {', '.join(cfg.train.report_to)}: {e}", highlight=False, markup=False)
