"""Metrics of one dataset (metrics.json) and datasets side by side (compare.csv, compare.md).

The comparison puts the seed study's Table 1 (diversity: MTLD, question spread, code spread)
and Table 2 (complexity: Halstead vocabulary, length, difficulty, cyclomatic complexity) in one
table, one row per dataset, with the parse rate and row count that say how much each mean rests on.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

from loralab.config import save_config
from loralab.curate.config import CurateConfig
from loralab.curate.metrics import (
    code_text,
    complexity_summary,
    mean_pairwise_cosine,
    mtld,
    sample_indices,
    spread,
    words,
)
from loralab.curate.rows import InstructionRow, check_out_dir, fingerprint, finished, load_examples
from loralab.errors import LoralabError
from loralab.io import atomic_dir, read_json, sha256_file, write_json, write_meta, write_text

# (metrics.json key, column title, short title for the terminal, format)
COLUMNS = [
    ("rows", "n rows", "n", "{:d}"),
    ("mtld", "MTLD", "MTLD", "{:.1f}"),
    ("question_spread", "question spread", "q-spr", "{:.2f}"),
    ("code_spread", "code spread", "c-spr", "{:.2f}"),
    ("halstead_vocabulary", "Halstead vocabulary", "H-voc", "{:.1f}"),
    ("halstead_length", "Halstead length", "H-len", "{:.1f}"),
    ("halstead_difficulty", "Halstead difficulty", "H-dif", "{:.2f}"),
    ("cyclomatic", "cyclomatic", "CC", "{:.2f}"),
    ("parse_rate", "parse rate", "py", "{:.1%}"),
]


def measure(examples: list[InstructionRow], cfg: CurateConfig, progress: bool = False) -> dict:
    """Every diversity and complexity metric of a dataset (embedding only the spread sample)."""
    from loralab.embed import embed

    if len(examples) < 2:
        raise LoralabError("metrics need at least two rows (spread is a mean over pairs)")
    m, e = cfg.metrics, cfg.embedder
    kw = dict(model=e.model, prefix=e.prefix, batch_size=e.batch_size, device=e.device, cache=e.cache, progress=progress)
    sample = [examples[i] for i in sample_indices(len(examples), m.sample, m.seed)]
    q = embed([x.question for x in sample], **kw)               # (S, D)
    c = embed([code_text(x.response) for x in sample], **kw)    # (S, D)
    tokens = [t for x in examples for t in words(x.question)]   # MTLD over all questions, in file order
    return {"rows": len(examples), "mtld": mtld(tokens, m.mtld_threshold), "question_tokens": len(tokens),
            "question_spread": spread(q), "code_spread": spread(c), "spread_sample": len(sample),
            "question_mean_cosine": mean_pairwise_cosine(q), "code_mean_cosine": mean_pairwise_cosine(c),
            **complexity_summary([x.response for x in examples])}


@dataclass
class MetricsResult:
    out_dir: Path
    metrics: dict


def metrics(path: str | Path, cfg: CurateConfig, out_dir: str | Path, progress: bool = False) -> MetricsResult:
    """Measure one dataset into out_dir/metrics.json (a no-op when done with the same inputs)."""
    path, out_dir, started = Path(path), Path(out_dir), time.time()
    key = fingerprint([path], {"stage": "metrics", **cfg.model_dump(mode="json", include={"fields", "embedder", "metrics"})})
    if finished(out_dir, key, "metrics.json"):
        return MetricsResult(out_dir, read_json(out_dir / "metrics.json"))
    check_out_dir(out_dir)
    result = {"input": str(path), **measure(load_examples(path, cfg.fields), cfg, progress),
              "seconds": round(time.time() - started, 3)}
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "metrics.json", _json_safe(result))
        save_config(cfg, tmp)
        write_meta(tmp, stage="curate.metrics", seed=cfg.metrics.seed, inputs={str(path): sha256_file(path)},
                   started=started, extra={"fingerprint": key})
    return MetricsResult(out_dir, read_json(out_dir / "metrics.json"))


def _json_safe(d: dict) -> dict:
    """NaN/inf (no parsed code, non-positive mean cosine) become null: JSON has no NaN."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


# ----------------------------------------------------------------------------- comparison


def dataset_names(paths: list[Path]) -> list[str]:
    """File stems, widened with the parent directory where two stems collide (train.jsonl twice)."""
    stems = [p.stem for p in paths]
    names = [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    return [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]


def cell(value, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def table(names: list[str], results: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset"] + [title for _, title, _, _ in COLUMNS]
    rows = [[name] + [cell(r.get(k), fmt) for k, _, _, fmt in COLUMNS] for name, r in zip(names, results, strict=True)]
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def csv_text(names: list[str], results: list[dict]) -> str:
    """Unformatted numbers (full precision) for further analysis."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "path"] + [k for k, _, _, _ in COLUMNS])
    for name, r in zip(names, results, strict=True):
        w.writerow([name, r["input"]] + ["" if r.get(k) is None else r[k] for k, _, _, _ in COLUMNS])
    return buf.getvalue()


@dataclass
class CompareResult:
    out_dir: Path
    header: list[str]
    rows: list[list[str]]


def compare(paths: list[str | Path], cfg: CurateConfig, out_dir: str | Path, progress: bool = False) -> CompareResult:
    """Metrics of every dataset (each cached under out_dir/datasets/NAME) and one table of them."""
    paths, out_dir, started = [Path(p) for p in paths], Path(out_dir), time.time()
    if not paths:
        raise LoralabError("--compare needs at least one dataset file")
    names = dataset_names(paths)
    results = [metrics(p, cfg, out_dir / "datasets" / n.replace("/", "__"), progress).metrics
               for p, n in zip(paths, names, strict=True)]
    header, rows = table(names, results)
    write_text(out_dir / "compare.md", markdown(header, rows))
    write_text(out_dir / "compare.csv", csv_text(names, results))
    save_config(cfg, out_dir)
    write_meta(out_dir, stage="curate.compare", inputs={str(p): sha256_file(p) for p in paths}, started=started)
    return CompareResult(out_dir, header, rows)


def rich_table(result: CompareResult):
    """The table for a terminal: short column titles, explained in the caption."""
    from rich import box
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, caption=(
        "q/c-spr: 1 / mean pairwise cosine of question/code embeddings; H: Halstead; CC: cyclomatic; "
        f"py: rows with Python code. Full titles in {result.out_dir / 'compare.md'}"))
    t.add_column("dataset", overflow="fold", min_width=min(24, max((len(r[0]) for r in result.rows), default=7)))
    for _, _, short, _ in COLUMNS:
        t.add_column(short, justify="right", no_wrap=True)
    for r in result.rows:
        t.add_row(*r)
    return t
