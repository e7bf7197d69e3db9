"""`loralab judge`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loralab.cli.common import Device, app, out
from loralab.inputs import (
    adapter_opt,
    endpoint_url,
    in_file_arg,
    model_name,
    out_dir_opt,
    positive_int_opt,
)


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
