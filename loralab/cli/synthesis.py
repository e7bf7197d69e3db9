"""`loralab synth`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from loralab.cli.common import SetOpt, app, console, out
from loralab.inputs import (
    endpoint_url,
    in_file_arg,
    in_file_opt,
    non_negative_float_opt,
    out_dir_opt,
    positive_float_opt,
    positive_int_opt,
)

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
