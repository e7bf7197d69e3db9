"""`loralab doctor, prepare, generate, config`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from loralab.cli.common import Device, SetOpt, app, out
from loralab.errors import LoralabError
from loralab.inputs import (
    adapter_opt,
    data_source,
    in_file_arg,
    in_file_opt,
    model_name,
    non_negative_float_opt,
    non_negative_int_opt,
    out_dir_opt,
    out_file_opt,
    output_file,
    positive_int_opt,
)

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
