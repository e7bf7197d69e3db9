"""`loralab` command line: a table from command name to stage function.

Each command parses its arguments, loads the config, calls one stage and prints where
the stage wrote its artifact. Heavy libraries are imported inside the commands so that
`loralab --help` answers instantly. A `LoralabError` ends the command with its one-line
message and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Literal, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from loralab.errors import LoralabError
from loralab.inputs import (
    adapter_dir,
    adapter_opt,
    data_source,
    endpoint_url,
    fraction_opt,
    in_dir_arg,
    in_dir_opt,
    in_file_arg,
    in_file_opt,
    input_dir,
    input_file,
    model_name,
    non_negative_float_opt,
    non_negative_int_opt,
    number,
    out_dir_opt,
    out_file_opt,
    output_dir,
    output_file,
    port_opt,
    positive_float_opt,
    positive_int_opt,
)

app = typer.Typer(
    help="Fine-tune code LLMs with LoRA/QLoRA/full FT, evaluate every checkpoint by running its code, compare runs.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)
out = Console()

Device = Literal["auto", "cpu", "cuda", "mps"]
SetOpt = typer.Option(None, "--set", help="Override a config key, e.g. --set train.learning_rate=1e-4 (repeatable).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON document (the summary) on stdout; everything else goes to stderr.")


def _version(value: bool) -> None:
    if value:
        from loralab import __version__

        out.print(f"loralab {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print loralab's version and exit.")) -> None:
    """Fine-tune code LLMs with LoRA/QLoRA/full FT, evaluate every checkpoint by running its code, compare runs."""


@contextlib.contextmanager
def _json_stdout(as_json: bool):
    """With --json, stdout carries exactly one JSON document: whatever else the stage prints
    meanwhile (libraries, warnings) is sent to stderr."""
    if not as_json:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _print_json(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- doctor


@app.command()
def doctor() -> None:
    """Print versions, device, cache paths, extras and embedded assets.

    Example: loralab doctor
    """
    from loralab.doctor import report

    out.print(report())


# ----------------------------------------------------------------------------- prepare


@app.command()
def prepare(
    source: Optional[str] = typer.Argument(
        None, help="Hub dataset id, dataset directory, local .json/.jsonl/.csv/.parquet, or bundled:pytasks "
                   "(default: the config's data.source, else bundled:pytasks)."),
    out_dir: Path = out_dir_opt(..., "--out", help="Directory for train/validation/test.jsonl and meta.json."),
    config: Optional[Path] = in_file_opt(None, "--config", "-c", help="A run YAML; its data section is used."),
    fmt: Optional[str] = typer.Option(None, "--format", help="alpaca, dolly, prompt_completion, messages, text, pytasks (default: auto)."),
    template: Optional[str] = typer.Option(None, "--template", help="alpaca, dolly, plain or chat (the model's chat template); default auto."),
    seed: Optional[int] = non_negative_int_opt(None, "--seed", help="Shuffle seed (default 42)."),
    splits: Optional[str] = typer.Option(None, "--splits", help="train,validation,test fractions, e.g. 0.8,0.1,0.1."),
    field_map: list[str] = typer.Option([], "--field", help="Read a format field from another column: --field instruction=question (repeatable)."),
    predefined: bool = typer.Option(False, "--predefined-splits", help="Keep the source's own splits."),
    max_rows: Optional[int] = positive_int_opt(None, "--max-rows", help="Keep the first N rows after shuffling."),
    model: Optional[str] = typer.Option(None, "--model", help="Model whose chat template --template chat uses."),
    overrides: Optional[list[str]] = SetOpt,
) -> None:
    """Clean, template and split an instruction dataset into train/validation/test JSONL.

    Re-running with the same input and options is a no-op; errors leave nothing behind.

    Example: loralab prepare ../shared/data/instruct/code_alpaca_2k.json --out runs/data/alpaca
    """
    from loralab.config import RunConfig, load_config
    from loralab.data.prepare import prepare as run_prepare

    sets = list(overrides or [])
    for key, value in (("format", fmt), ("template", template), ("seed", seed), ("max_rows", max_rows)):
        if value is not None:
            sets.append(f"data.{key}={value}")
    if splits:
        sets.append(f"data.splits=[{splits}]")
    if predefined:
        sets.append("data.use_predefined_splits=true")
    if model:
        sets.append(f"model.name={model}")
    cfg: RunConfig = load_config(config, sets)
    if source is not None:
        data_source(source, "SOURCE")
        cfg.data.source = source  # assigned, not --set: a path must never be parsed as YAML
    for pair in field_map:
        target, _, column = (part.strip() for part in pair.partition("="))
        if not target or not column:
            raise LoralabError(f"--field {pair!r}: expected FORMAT_FIELD=YOUR_COLUMN, e.g. --field instruction=question")
        cfg.data.field_map[column] = target  # field_map is {source column: format field}
    result = run_prepare(cfg.data, out_dir, model_cfg=cfg.model)
    out.print(result.summary(), soft_wrap=True)


# ----------------------------------------------------------------------------- generate


@app.command()
def generate(
    prompt: Optional[str] = typer.Argument(None, help="A prompt, or omit and use --prompts FILE.jsonl."),
    prompts: Optional[Path] = in_file_opt(None, "--prompts", help="JSONL with a 'prompt' field per line."),
    out_file: Optional[Path] = out_file_opt(None, "--out", help="Where --prompts answers go (JSONL)."),
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="Alias, hub id, directory or .gguf."),
    adapter: Optional[Path] = adapter_opt(None, "--adapter", "-a", help="PEFT adapter directory to apply."),
    max_new_tokens: int = positive_int_opt(256, "--max-new-tokens", help="Longest answer, in tokens."),
    temperature: float = non_negative_float_opt(0.0, "--temperature", help="0 = greedy."),
    system: Optional[str] = typer.Option(None, "--system", help="System message for chat models."),
    raw: bool = typer.Option(False, "--raw", help="Do not apply the chat template."),
    device: Device = typer.Option("auto", "--device", help="auto picks cuda > mps > cpu."),
) -> None:
    """Run a prompt (streamed) or a JSONL of prompts through a base model or base+adapter.

    Example: loralab generate "Write a Python function that reverses a string."
    """
    from loralab.config import ModelConfig, validate
    from loralab.inference.complete import generate_file, stream_one

    if prompts is None and prompt is None:
        raise LoralabError("give a PROMPT or --prompts FILE.jsonl")
    if prompts is not None and prompt is not None:
        raise LoralabError("give a PROMPT or --prompts FILE.jsonl, not both")
    model_name(model)
    mcfg = validate(ModelConfig, {"name": model, "adapter": str(adapter) if adapter else None, "device": device},
                    "command line")
    if prompts is not None:
        output_file(out_file or prompts.with_name(prompts.stem + ".completions.jsonl"), "--out")
        path = generate_file(mcfg, prompts, out_file, max_new_tokens=max_new_tokens,
                             temperature=temperature, system=system, raw=raw)
        out.print(f"wrote {path}")
    else:
        stream_one(mcfg, prompt, max_new_tokens=max_new_tokens, temperature=temperature,
                   system=system, raw=raw, write=lambda s: (sys.stdout.write(s), sys.stdout.flush()))
        sys.stdout.write("\n")


# ----------------------------------------------------------------------------- config


@app.command("config")
def show_config(
    config: Optional[Path] = in_file_arg(None, help="A run YAML (omit for the defaults)."),
    overrides: Optional[list[str]] = SetOpt,
    reference: bool = typer.Option(False, "--reference", help="List every key with its default and meaning."),
) -> None:
    """Validate a run config and print it resolved (or every key with --reference).

    Example: loralab config examples/lora_codealpaca.yaml --set adapter.r=16
    """
    from loralab.config import describe, dump_config, load_config

    if reference:
        for key, default, doc in describe():
            out.print(f"[bold]{key}[/bold] = {default}  [dim]{doc}[/dim]", highlight=False)
        return
    out.print(dump_config(load_config(config, overrides or [])), highlight=False)


# ----------------------------------------------------------------------------- serve


@app.command()
def serve(
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="Base model: alias, hub id, directory or .gguf."),
    adapter: list[str] = typer.Option([], "--adapter", "-a", help="NAME=DIR of a PEFT adapter (repeatable)."),
    router: Optional[Path] = in_dir_opt(None, "--router", help="Router directory from `loralab route fit`; enables model \"router\"."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 exposes it to the network)."),
    port: int = port_opt(8000, "--port", help="TCP port (0 picks a free one)."),
    backend: Literal["transformers", "vllm"] = typer.Option("transformers", "--backend", help="transformers or vllm."),
    device: Device = typer.Option("auto", "--device", help="auto picks cuda > mps > cpu."),
    batch_size: int = positive_int_opt(16, "--batch-size", help="Most completions decoded together."),
    queue_size: int = positive_int_opt(64, "--queue-size", help="Requests waiting beyond this get HTTP 503."),
    timeout: float = positive_float_opt(600.0, "--timeout", help="Seconds before a request gets HTTP 504."),
    max_tokens: int = positive_int_opt(256, "--max-tokens", help="Default max_tokens when a request sets none."),
    quiet: bool = typer.Option(False, "--quiet", help="No access log."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="LORALAB_API_KEY", show_envvar=True,
                                          help="Require 'Authorization: Bearer KEY' on every request but /health."),
    seed_in_batch_key: bool = typer.Option(False, "--seed-in-batch-key", hidden=True,
                                           help="Batch only requests of equal seeds (the old behaviour; benchmarks)."),
) -> None:
    """Serve a base model and its adapters over an OpenAI-compatible HTTP API.

    The request's "model" picks the adapter: the base's name or "base", an adapter NAME,
    or "router" (with --router). Endpoints: /v1/chat/completions, /v1/completions (both
    with "stream": true), /v1/models.

    Example: loralab serve --adapter k0=runs/k5/adapter-0 --adapter k1=runs/k5/adapter-1 --port 8000
    """
    from loralab.serve.http import serve as run_serve

    adapters = {}
    for pair in adapter:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise LoralabError(f"--adapter {pair!r}: expected NAME=DIR, e.g. --adapter k0=runs/k5/adapter-0")
        if name.strip() in adapters:
            raise LoralabError(f"--adapter {pair!r}: the name {name.strip()!r} is given twice")
        adapters[name.strip()] = str(adapter_dir(path.strip(), f"--adapter {name.strip()}"))
    model_name(model)
    handle = run_serve(model, adapters, router_dir=str(router) if router else None, host=host, port=port,
                       backend=backend, device=device, batch_size=batch_size, queue_size=queue_size,
                       request_timeout_s=timeout, default_max_tokens=max_tokens, api_key=api_key or None,
                       seed_in_batch_key=seed_in_batch_key, log=None if quiet else (lambda line: console.print(line, highlight=False)))
    out.print(f"serving {model} + {len(adapters)} adapter(s) at {handle.url}  (Ctrl-C stops)", highlight=False,
              soft_wrap=True)
    sys.stdout.flush()  # the URL line must reach a pipe (scripts wait for it) before the first request
    try:
        handle.wait()
    finally:
        handle.stop()


# ----------------------------------------------------------------------------- curate


class _CurateGroup(TyperGroup):
    """Reads `loralab curate --compare A B ...` as `loralab curate compare A B ...`."""

    def parse_args(self, ctx, args):
        if args and args[0] == "--compare":
            args = ["compare", *args[1:]]
        return super().parse_args(ctx, args)


curate_app = typer.Typer(cls=_CurateGroup, no_args_is_help=True, help=(
    "Measure and clean instruction datasets: dedup, metrics, contamination, --compare A B ...\n\n"
    "Example: loralab curate --compare ../shared/data/instruct/code_alpaca_2k.json ../shared/data/instruct/new_codealpaca.json"))
app.add_typer(curate_app, name="curate")
CurateConfigOpt = in_file_opt(None, "--config", "-c", help="A curation YAML (sections fields, embedder, dedup, metrics, contamination).")
FieldOpt = typer.Option([], "--field", help="Which field holds a role: --field question=prompt (roles: question, input, response).")
EmbedderOpt = typer.Option(None, "--embedder", help="sentence-transformers dir or hub id (default: packaged all-MiniLM-L6-v2).")
PrefixOpt = typer.Option(None, "--prefix", help="Text put before every embedded input (default: 'query: ' for E5, else none).")


def _curate_out(out_dir: Path | None, file: Path, stage: str) -> Path:
    return out_dir or output_dir(Path("runs") / "curate" / file.stem / stage, "--out (default)")


@curate_app.command("dedup")
def curate_dedup(
    file: Path = in_file_arg(..., help="Alpaca-style JSON list or JSONL (or a prepared split)."),
    out_dir: Path | None = out_dir_opt(None, "--out", help="Output directory (default runs/curate/NAME/dedup)."),
    threshold: float | None = fraction_opt(None, "--threshold", help="Cosine similarity above which a row is a duplicate (default 0.95)."),
    on: str | None = typer.Option(None, "--on", help="question (default) or question+code."),
    no_semantic: bool = typer.Option(False, "--no-semantic", help="Exact and normalised-text duplicates only."),
    config: Path | None = CurateConfigOpt, fields: list[str] = FieldOpt,
    embedder: str | None = EmbedderOpt, prefix: str | None = PrefixOpt, overrides: list[str] | None = SetOpt,
) -> None:
    """Drop exact, normalised-text and semantic near-duplicates, keeping each group's first row.

    Writes kept.jsonl (the original rows) and dropped.jsonl (each dropped row, the row it duplicates, their similarity).

    Example: loralab curate dedup ../shared/data/instruct/code_alpaca_2k.json --out runs/curate/alpaca-dedup
    """
    from loralab.curate.config import build_config
    from loralab.curate.dedup import dedup

    cfg = build_config(config, overrides, fields, {
        "dedup.threshold": threshold, "dedup.match_on": on, "dedup.semantic": False if no_semantic else None,
        "embedder.model": embedder, "embedder.prefix": prefix})
    out.print(dedup(file, cfg, _curate_out(out_dir, file, "dedup"), progress=True).describe(), highlight=False)


@curate_app.command("metrics")
def curate_metrics(
    file: Path = in_file_arg(..., help="Alpaca-style JSON list or JSONL (or a prepared split)."),
    out_dir: Path | None = out_dir_opt(None, "--out", help="Output directory (default runs/curate/NAME/metrics)."),
    sample: int | None = positive_int_opt(None, "--sample", help="Rows sampled for question/code spread (default 1000)."),
    seed: int | None = non_negative_int_opt(None, "--seed", help="Seed of that sample (default 0)."),
    config: Path | None = CurateConfigOpt, fields: list[str] = FieldOpt,
    embedder: str | None = EmbedderOpt, prefix: str | None = PrefixOpt, overrides: list[str] | None = SetOpt,
) -> None:
    """Diversity (MTLD, question and code spread) and complexity (Halstead, cyclomatic) of a dataset.

    Example: loralab curate metrics ../shared/data/instruct/code_alpaca_2k.json
    """
    from loralab.curate.config import build_config
    from loralab.curate.report import CompareResult, metrics, rich_table, table

    cfg = build_config(config, overrides, fields, {
        "metrics.sample": sample, "metrics.seed": seed, "embedder.model": embedder, "embedder.prefix": prefix})
    result = metrics(file, cfg, _curate_out(out_dir, file, "metrics"), progress=True)
    header, rows = table([file.stem], [result.metrics])
    out.print(rich_table(CompareResult(result.out_dir, header, rows)))
    out.print(f"wrote {result.out_dir / 'metrics.json'}", highlight=False)


@curate_app.command("contamination")
def curate_contamination(
    file: Path = in_file_arg(..., help="Alpaca-style JSON list or JSONL (or a prepared split)."),
    evals: list[str] = typer.Option([], "--eval", help="humaneval, or PATH[:field[+field]] of a JSON/JSONL eval set (repeatable; default humaneval)."),
    out_dir: Path | None = out_dir_opt(None, "--out", help="Output directory (default runs/curate/NAME/contamination)."),
    n: int | None = positive_int_opt(None, "--n", help="Word n-gram length (default 13)."),
    embed_threshold: float | None = fraction_opt(None, "--embed-threshold", help="Cosine at or above which a row is suspicious (default 0.85)."),
    no_embed: bool = typer.Option(False, "--no-embed", help="N-gram overlap only."),
    drop: bool = typer.Option(False, "--drop", help="Also write clean.jsonl without the suspicious rows."),
    config: Path | None = CurateConfigOpt, fields: list[str] = FieldOpt,
    embedder: str | None = EmbedderOpt, prefix: str | None = PrefixOpt, overrides: list[str] | None = SetOpt,
) -> None:
    """List training rows that share n-grams with, or read like, evaluation problems.

    Example: loralab curate contamination ../shared/data/instruct/code_alpaca_2k.json --eval humaneval --eval ../shared/data/eval/atcoder_easy_lcb.jsonl --drop
    """
    from loralab.curate.config import build_config
    from loralab.curate.contamination import contamination

    cfg = build_config(config, overrides, fields, {
        "contamination.evals": list(evals) or None, "contamination.n": n, "contamination.embed_threshold": embed_threshold,
        "contamination.embeddings": False if no_embed else None, "embedder.model": embedder, "embedder.prefix": prefix})
    result = contamination(file, cfg, _curate_out(out_dir, file, "contamination"), drop=drop, progress=True)
    out.print(result.describe(), highlight=False)


@curate_app.command("compare")
def curate_compare(
    files: list[Path] = in_file_arg(..., help="Datasets to compare (JSON list or JSONL each)."),
    out_dir: Path = out_dir_opt(Path("runs/curate/compare"), "--out", help="Where compare.csv, compare.md and per-dataset metrics go."),
    sample: int | None = positive_int_opt(None, "--sample", help="Rows sampled for question/code spread (default 1000)."),
    seed: int | None = non_negative_int_opt(None, "--seed", help="Seed of that sample (default 0)."),
    config: Path | None = CurateConfigOpt, fields: list[str] = FieldOpt,
    embedder: str | None = EmbedderOpt, prefix: str | None = PrefixOpt, overrides: list[str] | None = SetOpt,
) -> None:
    """One table of diversity and complexity metrics, a row per dataset (also `curate --compare A B`).

    Example: loralab curate --compare ../shared/data/instruct/code_alpaca_2k.json ../shared/data/instruct/new_codealpaca.json
    """
    from loralab.curate.config import build_config
    from loralab.curate.report import compare, rich_table

    cfg = build_config(config, overrides, fields, {
        "metrics.sample": sample, "metrics.seed": seed, "embedder.model": embedder, "embedder.prefix": prefix})
    result = compare(files, cfg, out_dir, progress=True)
    out.print(rich_table(result))
    out.print(f"wrote {out_dir / 'compare.csv'} and {out_dir / 'compare.md'}", highlight=False)


# ----------------------------------------------------------------------------- report


@app.command("report")
def report_cmd(
    study_dir: Path = in_dir_arg(..., help="A study directory written by `loralab study run`."),
) -> None:
    """Write report.md and a self-contained report.html for a study; print its summary table.

    Reads result files only and never loads a model: re-run it any time, even mid-study ("—" marks what is missing).

    Example: loralab report runs/quickstart
    """
    from loralab.report import summary_rich_table, summary_table, write_report

    md, page = write_report(study_dir)
    out.print(summary_rich_table(summary_table(study_dir)))
    out.print(f"wrote {md}\nopen {page.resolve()}", highlight=False, soft_wrap=True)


# ----------------------------------------------------------------------------- synth


@app.command()
def synth(
    seeds: Path = in_file_arg(..., help="Seed examples: alpaca-style JSON list or JSONL."),
    out_dir: Path = out_dir_opt(..., "--out", help="Directory for synth.jsonl, rejected.jsonl, keywords.jsonl (resumed if present)."),
    strategy: str | None = typer.Option(None, "--strategy", help="self_instruct (default), keywords or perturbed."),
    n: int | None = positive_int_opt(None, "--n", help="Rows to keep (keywords: seed rows to extract from); default 100."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1."),
    model: str | None = typer.Option(None, "--model", "-m", help="Request model name (openai) or local model (--backend transformers)."),
    backend: Optional[Literal["openai", "transformers"]] = typer.Option(None, "--backend", help="openai (default) or transformers (a local model)."),
    temperature: float | None = non_negative_float_opt(None, "--temperature", help="Sampling temperature (default 0.7)."),
    rpm: float | None = positive_float_opt(None, "--rpm", help="At most this many requests a minute."),
    batch_size: int | None = positive_int_opt(None, "--batch-size", help="Requests in flight together (default 8)."),
    max_attempts: int | None = positive_int_opt(None, "--max-attempts", help="Stop after this many attempts (default 5 x n)."),
    config: Path | None = in_file_opt(None, "--config", "-c", help="A synth YAML (keys of SynthConfig at top level)."),
    fields: list[str] = typer.Option([], "--field", help="Which seed field holds a role: --field question=prompt."),
    overrides: list[str] | None = SetOpt,
) -> None:
    """Generate question-code pairs from seed examples with an LLM (self-instruct, keywords, perturbed).

    Replies that refuse or whose code does not parse go to rejected.jsonl with the reason.

    Every kept row records its strategy and parent seed rows. Interrupted runs resume; a larger --n adds rows.

    Example: loralab synth ../shared/data/instruct/code_alpaca_2k.json --out runs/synth/si --endpoint http://127.0.0.1:8000/v1 --n 50
    """
    from loralab.curate.config import build_config
    from loralab.curate.synth import SynthConfig
    from loralab.curate.synth import synth as run_synth

    if endpoint is not None:
        endpoint_url(endpoint, "--endpoint")

    cfg = build_config(config, overrides, fields, {
        "strategy": strategy, "n": n, "endpoint": endpoint, "model": model, "backend": backend,
        "temperature": temperature, "requests_per_minute": rpm, "batch_size": batch_size, "max_attempts": max_attempts},
        model=SynthConfig)
    result = run_synth(seeds, cfg, out_dir, log=lambda line: console.print(line, highlight=False))
    out.print(result.describe(), highlight=False)


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
    with _json_stdout(as_json):
        _eval_code_and_mc(target, cfg, adapter, out_dir, doc)
    if as_json:
        _print_json(doc)
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


study_app = typer.Typer(help="Run a study: a matrix of runs, prepared, trained, evaluated and compared.", no_args_is_help=True)
app.add_typer(study_app, name="study")


@study_app.command("run")
def study_run(
    config: Path = in_file_arg(..., help="A study YAML (see examples/quickstart.yaml)."),
    overrides: Optional[list[str]] = SetOpt,
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.md and report.html at the end."),
    as_json: bool = JsonOpt,
) -> None:
    """Prepare, train, evaluate every checkpoint, select the best per run, compare; resumable.

    A YAML with a `kspecialist:` section runs the K-specialist study instead: k-means routers
    per K, one adapter per cluster, routed evaluation against the base and between K values.

    Example: loralab study run examples/quickstart.yaml
    """
    from loralab.config import read_yaml

    if "kspecialist" in read_yaml(config):
        from loralab.studies.kspecialist import run_kspecialist as run_study
    else:
        from loralab.studies.matrix import run_study

    with _json_stdout(as_json):
        root = run_study(config, overrides or [])
        html = None
        if report:
            from loralab.report import write_report

            _, html = write_report(root)
    if as_json:
        from loralab.studies.runner import study_summary

        _print_json({**study_summary(root), "report": str(html.resolve()) if html else None})
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
    for fit in fit_routers(prepared, out_dir, _ks(k, "--k"), embedder=embedder, prefix=prefix, seed=seed):
        sizes = ", ".join(str(n) for n in fit.router.sizes)
        out.print(f"K={fit.k}: {fit.dir / 'router.json'}  train rows per cluster: {sizes}", highlight=False, soft_wrap=True)


# ----------------------------------------------------------------------------- score

score_app = typer.Typer(help="Score existing completion files in the reference harnesses' formats.", no_args_is_help=True)
app.add_typer(score_app, name="score")
KOpt = typer.Option("1,10,100", "--k", help="pass@k values (reported when every problem has >= k samples).")
WorkersOpt = positive_int_opt(None, "--workers", help="Parallel sandbox runs (default: core count).")
FreshOpt = typer.Option(False, "--fresh", help="Forget verdicts journaled by earlier runs; check every sample again.")


def _print_score(res, as_json: bool) -> None:
    if as_json:
        _print_json(res.as_dict())
    else:
        out.print(res.summary(), highlight=False)


def _ks(text: str, what: str = "--k") -> list[int]:
    """'1,10,100' -> [1, 10, 100]; every value a positive integer, at least one."""
    ks = [number(k.strip(), f"{what} {text!r}", low=1) for k in text.split(",") if k.strip()]
    if not ks:
        raise LoralabError(f"{what}: expected comma-separated positive integers, got {text!r}")
    return ks


@score_app.command("humaneval")
def score_humaneval_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {task_id, completion} (human-eval's sample format)."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(3.0, "--timeout", help="Seconds per program (human-eval's default: 3)."),
    problem_file: Optional[Path] = in_file_opt(None, "--problem-file", help="Problems in human-eval's format (default: HumanEval)."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge HumanEval completions; write SAMPLES_results.jsonl with passed/result as human-eval does.

    Example: loralab score humaneval samples.jsonl
    """
    from loralab.eval.score import score_humaneval

    with _json_stdout(as_json):
        res = score_humaneval(samples, problem_file=str(problem_file) if problem_file else None, ks=_ks(k),
                              workers=workers, timeout=timeout, fresh=fresh)
    _print_score(res, as_json)


@score_app.command("livecodebench")
def score_livecodebench_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {question_id, code} or {question_id, code_list}, or LCB's JSON array of the latter."),
    problems: Optional[Path] = in_file_opt(None, "--problems", help="LiveCodeBench JSONL (default: the hub dataset)."),
    release: Optional[str] = typer.Option(None, "--release", help="release_v1..v6 / vN (hub files; a date filter on local files)."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(6.0, "--timeout", help="Seconds per test case (LiveCodeBench's default: 6)."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge LiveCodeBench code against public and private tests; write SAMPLES_results.jsonl and LCB's _eval.json.

    Example: loralab score livecodebench --problems ../shared/data/eval/atcoder_easy_lcb.jsonl samples.jsonl
    """
    from loralab.eval.score import score_livecodebench

    with _json_stdout(as_json):
        res = score_livecodebench(samples, problems=str(problems) if problems else None, release=release, ks=_ks(k),
                                  workers=workers, timeout=timeout, fresh=fresh)
    _print_score(res, as_json)


@score_app.command("mbpp")
def score_mbpp_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {task_id, completion}; task_id 11 or 'mbpp/11'."),
    path: Optional[str] = typer.Option(None, "--path", help="MBPP JSONL, e.g. ../shared/data/eval/mbpp.jsonl, or hub id (default: the hub's 'mbpp')."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(3.0, "--timeout", help="Seconds per program."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge MBPP completions (full code) against each problem's asserts; write SAMPLES_results.jsonl.

    Example: loralab score mbpp samples.jsonl
    """
    from loralab.eval.score import score_mbpp

    if path is not None and Path(path).exists():
        input_file(path, "--path")
    with _json_stdout(as_json):
        res = score_mbpp(samples, path=path, ks=_ks(k), workers=workers, timeout=timeout, fresh=fresh)
    _print_score(res, as_json)


@score_app.command("pytasks")
def score_pytasks_cmd(
    samples: Path = in_file_arg(..., help="JSONL of {task_id, completion} (full code)."),
    split_file: Optional[Path] = in_file_opt(None, "--split-file", help="A prepared split JSONL (default: the bundled asset)."),
    k: str = KOpt, workers: Optional[int] = WorkersOpt,
    timeout: float = positive_float_opt(3.0, "--timeout", help="Seconds per program."),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Judge pytasks completions against each task's asserts; write SAMPLES_results.jsonl.

    Example: loralab score pytasks samples.jsonl --split-file runs/data/pytasks/test.jsonl
    """
    from loralab.eval.score import score_pytasks

    with _json_stdout(as_json):
        res = score_pytasks(samples, split_file=str(split_file) if split_file else None, ks=_ks(k), workers=workers,
                            timeout=timeout, fresh=fresh)
    _print_score(res, as_json)


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


# ----------------------------------------------------------------------------- train, export


@app.command("train")
def train_cmd(
    config: Path = in_file_arg(..., help="A run YAML (model, data, adapter, train sections)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last complete checkpoint in train.out_dir."),
    overrides: Optional[list[str]] = SetOpt,
) -> None:
    """Fine-tune a base model (LoRA, DoRA, QLoRA or full) into a run directory of checkpoints.

    Multi-GPU: accelerate launch --multi_gpu --num_processes 4 -m loralab train CONFIG.

    Example: loralab train examples/lora_codealpaca.yaml --set train.max_steps=50
    """
    from loralab.config import load_config
    from loralab.train.sft import train

    cfg = load_config(config, overrides or [])
    model_name(cfg.model.name, "model.name", cfg.model.revision)
    if cfg.data.prepared:
        input_dir(cfg.data.prepared, "data.prepared")
    else:
        data_source(cfg.data.source, "data.source")
    check_run_dir(cfg, resume)
    run_dir = train(cfg, resume=resume)
    out.print(f"run directory: {run_dir}")


def check_run_dir(cfg, resume: bool) -> None:
    """train.out_dir must be new, empty, or this same run; --resume needs a run there.

    A non-empty directory of another run (or of anything else) is refused, so a typo in
    out_dir never mixes two runs' checkpoints or overwrites someone's files.
    """
    from loralab.config import read_yaml
    from loralab.train.resume import FIXED_ON_RESUME, flatten_config

    run_dir = output_dir(cfg.train.out_dir, "train.out_dir")
    entries = {p.name for p in run_dir.iterdir()} if run_dir.exists() else set()
    if not entries - {"data"}:  # new, empty, or killed while preparing its data
        if resume:
            raise LoralabError(f"--resume: train.out_dir {run_dir} holds no run to resume; drop --resume to start one")
        return
    if "config.yaml" not in entries:
        raise LoralabError(f"train.out_dir {run_dir}: not empty and not a loralab run (no config.yaml); "
                           "choose a new or empty directory")
    saved = flatten_config(read_yaml(run_dir / "config.yaml"))
    now = flatten_config(cfg.model_dump(mode="json"))
    changed = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k) and k.startswith(FIXED_ON_RESUME))
    if changed:
        diffs = "; ".join(f"{k}: {saved.get(k)!r} there, {now.get(k)!r} here" for k in changed[:5])
        raise LoralabError(f"train.out_dir {run_dir}: holds a different run ({diffs}); "
                           "choose another train.out_dir, or restore these keys to continue that run")


@app.command("export")
def export_cmd(
    checkpoint: Path = in_dir_arg(..., help="A checkpoint directory, e.g. runs/lora/checkpoint-100."),
    out_dir: Path = out_dir_opt(..., "--out", help="Directory to write (replaced atomically)."),
    merge: bool = typer.Option(False, "--merge", help="Merge the adapter into the base: one plain transformers model."),
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = typer.Option("auto", "--dtype", help="Merged weights dtype: auto (the base's), float32, bfloat16, float16."),
) -> None:
    """Export a checkpoint: merged safetensors model (--merge) or a clean adapter, with the training tokenizer.

    Example: loralab export runs/lora-codealpaca/checkpoint-100 --merge --out runs/merged
    """
    from loralab.io import read_json
    from loralab.train.export import export

    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise LoralabError(f"--dtype {dtype}: choose auto, float32, bfloat16 or float16")
    written = export(checkpoint, out_dir, merge=merge, dtype=dtype)
    trained = read_json(written / "loralab_export.json").get("trained_on") or ""
    if merge and trained.startswith("4-bit"):
        out.print(f"note: the adapter was trained on a {trained}; it is merged into the full-precision base "
                  "(dequantized), not into 4-bit weights")
    out.print(f"wrote {written}")


@app.command()
def judge(
    instructions: Path = in_file_arg(..., help="JSONL of instructions ({instruction[, input, output]}) or two-turn questions ({question_id, turns})."),
    out_dir: Path = out_dir_opt(..., "--out", help="Directory for answers, judgments, verdicts, results.json (resumed if present)."),
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="Base model of the system under test."),
    adapter: Optional[Path] = adapter_opt(None, "--adapter", "-a", help="Adapter of the system under test."),
    base: str = typer.Option("base", "--base", help="The reference system: base (MODEL without adapter), reference (the file's 'output'), an adapter dir, or another model."),
    judge_endpoint: str = typer.Option("local", "--judge", help="OpenAI-compatible base URL (key from OPENAI_API_KEY), or 'local': serve --judge-model on 127.0.0.1."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Judge model (default: gpt-4o-mini for a URL, the embedded model for local)."),
    limit: Optional[int] = positive_int_opt(None, "--limit", help="First N instructions."),
    max_new_tokens: int = positive_int_opt(512, "--max-new-tokens", help="Answer length limit of both systems."),
    judge_max_tokens: int = positive_int_opt(256, "--judge-max-tokens", help="Length limit of each judge reply."),
    batch_size: int = positive_int_opt(8, "--batch-size", help="Answers generated together."),
    device: Device = typer.Option("auto", "--device", help="auto picks cuda > mps > cpu."),
) -> None:
    """Compare a model with its base by a pairwise LLM judge, both answer orders (AlpacaEval and MT-Bench rates).

    Example: loralab judge ../shared/data/judge/alpaca_eval.jsonl --adapter runs/lora/checkpoint-100 --judge https://api.openai.com/v1 --limit 100 --out runs/judge/lora
    """
    from loralab.eval.judge import SystemSpec, base_spec, load_questions, run_judge
    from loralab.models import DEFAULT_MODEL

    load_questions(instructions, limit)  # a bad row is reported before any model loads
    if judge_endpoint != "local":
        endpoint_url(judge_endpoint, "--judge")

    model_name(model, "--model")
    if base not in ("base", "reference") and not Path(base).is_dir():
        model_name(base, "--base")

    res = run_judge(instructions, SystemSpec("model", model, str(adapter) if adapter else None), base_spec(base, model),
                    out_dir, endpoint=judge_endpoint,
                    judge_model=judge_model or (DEFAULT_MODEL if judge_endpoint == "local" else "gpt-4o-mini"),
                    limit=limit, max_answer_tokens=max_new_tokens, max_judge_tokens=judge_max_tokens,
                    batch_size=batch_size, device=device)
    out.print(res.describe(), highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """The `loralab` entry point: run a command; a user error is one `error:` line and exit status 2."""
    sys.exit(run_cli(argv))


def run_cli(argv: list[str] | None = None) -> int:
    """Run `loralab ARGV...` and return its exit status (0 ok, 2 bad input, 130 interrupted)."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    try:
        code = app(args=argv, prog_name="loralab", standalone_mode=False)
    except LoralabError as e:
        return _error(str(e))
    except NoArgsIsHelpError as e:  # `loralab score` alone: its help, as click prints it
        out.print(e.format_message(), highlight=False, markup=False)
        return 2
    except UsageError as e:  # unknown option, missing argument, a value typer could not parse
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        return _error(e.format_message() + hint)
    except typer.Abort:
        code = 130
    except OSError as e:  # a write the checks could not foresee (disk full, a path changed underneath)
        return _error(f"{e.filename}: {e.strerror}" if e.filename else str(e))
    if code == 130:
        console.print("interrupted; finished work is kept, re-run to resume")
    return code if isinstance(code, int) else 0


def _error(message: str) -> int:
    console.print("[bold red]error:[/bold red] " + escape(message), highlight=False, soft_wrap=True)
    return 2


if __name__ == "__main__":
    main()
