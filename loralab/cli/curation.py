"""`loralab curate dedup / metrics / contamination / compare`."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

from loralab.cli.common import SetOpt, app, out
from loralab.inputs import (
    fraction_opt,
    in_file_arg,
    in_file_opt,
    non_negative_int_opt,
    out_dir_opt,
    output_dir,
    positive_int_opt,
)

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
