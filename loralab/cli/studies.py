"""`loralab study run, route fit`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loralab.cli.common import JsonOpt, SetOpt, app, json_stdout, out, parse_ks, print_json
from loralab.errors import LoralabError
from loralab.inputs import (
    in_dir_arg,
    in_file_arg,
    input_file,
    non_negative_int_opt,
    out_dir_opt,
)

study_app = typer.Typer(help="Run a study: a matrix of runs, prepared, trained, evaluated and compared.", no_args_is_help=True)
app.add_typer(study_app, name="study")


@study_app.command("run")
def study_run(
    config: Path = in_file_arg(..., help="A study YAML (see examples/quickstart.yaml)."),
    overrides: Optional[list[str]] = SetOpt,
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.md and report.html at the end."),
    executor: str = typer.Option("local", "--executor", help="local: every run in this process, in turn; "
                                 "ray: every run (every K-specialist cluster) a Ray task, at once (docs/ray.md)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --executor ray: the cluster to attach to "
                                          "(auto, HOST:PORT or ray://HOST:PORT); sandbox checks fan out over it too. "
                                          "Default: a Ray instance on this machine."),
    cpus_per_run: float = typer.Option(1, "--cpus-per-run", min=0.01, help="With --executor ray: CPUs each run's "
                                       "task asks for (a GPU too when its model goes to CUDA)."),
    as_json: bool = JsonOpt,
) -> None:
    """Prepare, train, evaluate every checkpoint, select the best per run, compare; resumable.

    A YAML with a `kspecialist:` section runs the K-specialist study instead: k-means routers
    per K, one adapter per cluster, routed evaluation against the base and between K values.

    With --executor ray every run (every K-specialist cluster) is a Ray task, on this machine or
    on the cluster --address names; results equal the serial study's (docs/ray.md).

    Example: loralab study run examples/quickstart.yaml
    """
    from loralab.config import read_yaml
    from loralab.studies.executors import make_executor

    if "kspecialist" in read_yaml(config):
        from loralab.studies.kspecialist import run_kspecialist as run_study
    else:
        from loralab.studies.matrix import run_study

    with json_stdout(as_json):
        runner = make_executor(executor, address, cpus_per_run)
        try:
            root = run_study(config, overrides or [], executor=runner)
        finally:
            if hasattr(runner, "close"):
                runner.close()
        html = None
        if report:
            from loralab.report import write_report

            _, html = write_report(root)
    if as_json:
        from loralab.studies.runner import study_summary

        print_json({**study_summary(root), "report": str(html.resolve()) if html else None})
    elif report:
        from loralab.report import render_summary

        out.print(render_summary(root), highlight=False)
        out.print(f"report: {html.resolve()}")


# ----------------------------------------------------------------------------- route

route_app = typer.Typer(help="K-specialist routers: k-means over question embeddings.", no_args_is_help=True)
app.add_typer(route_app, name="route")


@route_app.command("fit")
def route_fit_cmd(
    prepared: Path = in_dir_arg(..., help="A directory written by `loralab prepare` (its train.jsonl is clustered)."),
    out_dir: Path = out_dir_opt(..., "--out", help="Writes k-K/router.json and k-K/clusters/cluster-I/{train,validation,test}.jsonl."),
    k: str = typer.Option("1,5,10", "--k", help="Cluster counts, comma-separated."),
    embedder: str = typer.Option("all-MiniLM-L6-v2", "--embedder", help="Sentence-transformers model: name, directory or hub id."),
    prefix: Optional[str] = typer.Option(None, "--prefix", help="Query prefix (default: 'query: ' for E5 models, none otherwise)."),
    seed: int = non_negative_int_opt(0, "--seed", help="Seed of k-means++ (10 seeded restarts)."),
) -> None:
    """Fit a k-means router per K on the training questions and write the per-cluster splits.

    Validation and test rows are routed to their nearest centroid, so every cluster directory is
    a prepared dataset that `loralab train` takes as data.prepared.

    Example: loralab route fit runs/data/codealpaca --k 1,2,4 --out runs/routers
    """
    from loralab.route.router import fit_routers

    if not (prepared / "train.jsonl").exists():
        raise LoralabError(f"{prepared}: no train.jsonl here; run `loralab prepare SOURCE --out {prepared}` first")
    input_file(prepared / "train.jsonl")
    for fit in fit_routers(prepared, out_dir, parse_ks(k, "--k"), embedder=embedder, prefix=prefix, seed=seed):
        sizes = ", ".join(str(n) for n in fit.router.sizes)
        out.print(f"K={fit.k}: {fit.dir / 'router.json'}  train rows per cluster: {sizes}", highlight=False, soft_wrap=True)
