"""`loralab prepare`: read a source, clean it, template it, split it, write it atomically.

    out_dir/train.jsonl, validation.jsonl, test.jsonl
        {"id", "prompt", "response", "text" (= prompt + response), "instruction",
         "input" ("context" for dolly), + "task_id", "entry_point", "tests", "topic" (pytasks),
         + "messages" (the whole conversation, for messages),
         + "assistant_spans" ([start, end) character spans of `prompt` holding the earlier
           assistant turns, content through end-of-turn token: chat rows, data.train_on all_assistant)}
    out_dir/dropped.jsonl   {"id", "reason"} for every row cleaning removed
    out_dir/config.yaml     the DataConfig with format and template resolved
    out_dir/meta.json       input hash, fingerprint, counts, dropped reasons, versions

No EOS is appended: the trainer adds the tokenizer's EOS id after the response, so the
same prepared data serves any model. Every file is keyed and sorted JSON with no
timestamps, so the same input and config give byte-identical files; a directory that
already holds the same fingerprint is left as it is.

Splits. Without predefined splits every kept row is shuffled once with `random.Random(seed)`
and cut into train/validation/test by the largest-remainder method: each split gets
floor(n * fraction) rows and the rows left over go one each to the splits with the largest
fractional parts (ties to the earlier split), so the counts add up to n and each is within
one row of n * fraction (2015 rows at 0.8/0.1/0.1 -> 1612/202/201).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loralab.config import DataConfig, save_config
from loralab.data.formats import INPUT_KEY, Example, detect_format, drop_reason, to_example
from loralab.data.sources import Source, load_source
from loralab.data.templates import Renderer, resolve_template
from loralab.errors import LoralabError
from loralab.io import atomic_dir, file_lock, lock_path, read_json, versions, write_json, write_jsonl

if TYPE_CHECKING:
    from loralab.config import ModelConfig

PREPARE_VERSION = 2  # bump when the same input and config would give different files
SPLITS = ("train", "validation", "test")
SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
               "val": "validation", "dev": "validation", "test": "test", "testing": "test"}


@dataclass
class PrepareResult:
    out_dir: Path
    source: str
    format: str
    template: str
    rows_read: int
    counts: dict[str, int]  # split -> rows written
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    reused: bool = False  # the directory already held this preparation
    seconds: float = 0.0

    @property
    def kept(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        head = (f"{self.out_dir} already holds this preparation (same input hash and config); nothing to do"
                if self.reused else f"prepared {self.out_dir} in {self.seconds:.1f} s")
        splits = ", ".join(f"{name} {self.counts[name]}" for name in SPLITS)
        lines = [head, f"  source: {self.source}", f"  format {self.format}, template {self.template}",
                 f"  read {self.rows_read} rows, kept {self.kept}: {splits}"]
        if self.dropped:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.dropped.items()))
            lines.append(f"  dropped {sum(self.dropped.values())}: {reasons} (ids in dropped.jsonl)")
        else:
            lines.append("  dropped 0")
        return "\n".join(lines)


def prepare(data_cfg: DataConfig, out_dir: str | Path, model_cfg: ModelConfig | None = None) -> PrepareResult:
    """Prepare `data_cfg.source` into `out_dir` (see the module docstring); a no-op when already done."""
    started, out_dir = time.time(), Path(out_dir)
    source = load_source(data_cfg.source, data_cfg.hub_split)
    _check_split_mode(data_cfg, source)
    fmt = data_cfg.format if data_cfg.format != "auto" else detect_format(source.rows()[0], data_cfg.field_map)
    render = Renderer(resolve_template(data_cfg.template, fmt, model_cfg), model_cfg)
    resolved = data_cfg.model_copy(update={"format": fmt, "template": render.template})
    fingerprint = _fingerprint(source, resolved, render)
    if (done := _finished(out_dir, fingerprint)) is not None:
        return done

    kept, dropped = _clean(source, fmt, data_cfg.field_map)
    if not any(kept.values()):
        raise LoralabError(f"{data_cfg.source}: no rows left after cleaning ({_reasons_text(dropped)})")
    splits = _split(kept, data_cfg, source.has_predefined_splits and data_cfg.use_predefined_splits)
    all_turns = data_cfg.train_on == "all_assistant"
    rows = {name: [output_row(ex, render(ex), fmt, render if all_turns else None) for ex in split]
            for name, split in splits.items()}
    result = PrepareResult(out_dir, data_cfg.source, fmt, render.template, len(source.rows()),
                           {name: len(rows[name]) for name in SPLITS}, dict(Counter(r for _, r in dropped)))
    _refuse_foreign_dir(out_dir)  # every user error before the lock file: bad input leaves nothing behind
    # Runs of a study that share this directory may prepare it at once (Ray tasks): the first
    # writes it, the others wait and find it finished, so none swaps it under another's reader.
    with file_lock(lock_path(out_dir)):
        if (done := _finished(out_dir, fingerprint)) is not None:
            return done
        _write(out_dir, rows, dropped, resolved, _meta(result, source, resolved, render, fingerprint))
    result.seconds = time.time() - started
    return result


def output_row(ex: Example, prompt: str, fmt: str, render: Renderer | None = None) -> dict[str, Any]:
    """One line of a split file: what the trainer needs (prompt, response, and with `render` the
    spans of earlier assistant turns inside the prompt) plus what stages trace."""
    row = {"id": ex.id, "prompt": prompt, "response": ex.response, "text": prompt + ex.response,
           "instruction": ex.instruction, INPUT_KEY.get(fmt, "input"): ex.input, **ex.extra}
    if ex.turns is not None:
        row["messages"] = ex.turns + [{"role": "assistant", "content": ex.response}]
        if render is not None and (spans := render.assistant_spans(ex, prompt)):
            row["assistant_spans"] = spans
    return row


# ----------------------------------------------------------------------------- cleaning and splitting


def _check_split_mode(cfg: DataConfig, source: Source) -> None:
    if not source.rows():
        raise LoralabError(f"{cfg.source}: the dataset is empty")
    if cfg.use_predefined_splits and not source.has_predefined_splits:
        raise LoralabError(f"data.use_predefined_splits: {cfg.source} is a single file with no splits of its own; "
                           "drop the option, or give a dataset directory or hub id that has train/validation/test")
    if cfg.use_predefined_splits:
        names = split_names(cfg)
        unknown = [name for name in source.splits if name not in names]
        if unknown:
            raise LoralabError(f"data.use_predefined_splits: {cfg.source} has splits {unknown} that are none of "
                               f"{', '.join(names)}; name where they go with data.split_names (e.g. "
                               f"{{{unknown[0]}: validation}}) or pick one with data.hub_split instead")


def _clean(source: Source, fmt: str, field_map: dict[str, str]) -> tuple[dict[str, list[Example]], list[tuple[str, str]]]:
    """Per source split, the examples kept; and (row id, reason) for every row dropped, in source order."""
    kept: dict[str, list[Example]] = {}
    dropped: list[tuple[str, str]] = []
    for split, raw_rows in source.splits.items():
        kept[split] = []
        for raw in raw_rows:
            ex = to_example(raw, fmt, field_map)
            if (reason := drop_reason(ex, fmt)) is None:
                kept[split].append(ex)
            else:
                dropped.append((ex.id, reason))
    return kept, dropped


def _split(kept: dict[str, list[Example]], cfg: DataConfig, predefined: bool) -> dict[str, list[Example]]:
    if predefined:  # the source's own splits, in source order, each capped at max_rows
        out: dict[str, list[Example]] = {name: [] for name in SPLITS}
        names = split_names(cfg)
        for name, examples in kept.items():
            out[names[name]] += examples
        return {name: examples[: cfg.max_rows] for name, examples in out.items()}
    pool = [ex for examples in kept.values() for ex in examples]
    random.Random(cfg.seed).shuffle(pool)
    pool = pool[: cfg.max_rows]
    n_train, n_val, _ = split_counts(len(pool), cfg.splits)
    return {"train": pool[:n_train], "validation": pool[n_train:n_train + n_val], "test": pool[n_train + n_val:]}


def split_names(cfg: DataConfig) -> dict[str, str]:
    """Source split name -> ours: the usual names, then data.split_names (which wins)."""
    return {**SPLIT_NAMES, **cfg.split_names}


def split_counts(n: int, fractions: tuple[float, ...]) -> tuple[int, ...]:
    """Largest-remainder rounding: counts add up to n, each within one of n * fraction."""
    exact = [n * f for f in fractions]
    counts = [math.floor(x) for x in exact]
    # round the remainders so that float noise (201.50000000000003) cannot break a tie
    by_remainder = sorted(range(len(exact)), key=lambda i: (-round(exact[i] - counts[i], 9), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return tuple(counts)


def _reasons_text(dropped: list[tuple[str, str]]) -> str:
    counts = Counter(reason for _, reason in dropped)
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())) or "nothing dropped"


# ----------------------------------------------------------------------------- writing and reuse


def _fingerprint(source: Source, resolved: DataConfig, render: Renderer) -> str:
    """Hash of everything that decides the output files."""
    key = {"version": PREPARE_VERSION, "input": source.input_hash, "config": resolved.identity(),
           "template": render.fingerprint()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _meta(result: PrepareResult, source: Source, resolved: DataConfig, render: Renderer,
          fingerprint: str) -> dict[str, Any]:
    # No timestamps or timings: meta.json is as reproducible as the split files.
    return {"stage": "prepare", "fingerprint": fingerprint, "seed": resolved.seed,
            "inputs": {source.name: source.input_hash}, "format": result.format, "template": result.template,
            "template_source": render.fingerprint(), "rows_read": result.rows_read, "counts": result.counts,
            "dropped": result.dropped, "split_rounding": "largest remainder", "versions": versions()}


def _write(out_dir: Path, rows: dict[str, list[dict]], dropped: list[tuple[str, str]],
           resolved: DataConfig, meta: dict[str, Any]) -> None:
    _refuse_foreign_dir(out_dir)
    with atomic_dir(out_dir) as tmp:
        for name in SPLITS:
            write_jsonl(tmp / f"{name}.jsonl", rows[name])
        write_jsonl(tmp / "dropped.jsonl", ({"id": row_id, "reason": reason} for row_id, reason in dropped))
        save_config(resolved, tmp)
        write_json(tmp / "meta.json", meta)


def _refuse_foreign_dir(out_dir: Path) -> None:
    """Writing replaces out_dir whole; never do that to a directory `prepare` did not write."""
    if out_dir.is_file():
        raise LoralabError(f"--out {out_dir}: is a file; give a directory path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and _stage(out_dir) != "prepare":
        raise LoralabError(f"--out {out_dir}: exists and was not written by `loralab prepare`; "
                           "give a new directory (it would be replaced)")


def _stage(out_dir: Path) -> str | None:
    try:
        return read_json(out_dir / "meta.json").get("stage")
    except (LoralabError, AttributeError):
        return None


def _finished(out_dir: Path, fingerprint: str) -> PrepareResult | None:
    """The result recorded in out_dir when it holds a complete preparation with this fingerprint."""
    files = [out_dir / f"{name}.jsonl" for name in SPLITS] + [out_dir / "meta.json"]
    if not all(f.is_file() for f in files):
        return None
    try:
        meta = read_json(out_dir / "meta.json")
    except LoralabError:  # unreadable: not ours to trust; _refuse_foreign_dir decides what happens
        return None
    if not isinstance(meta, dict) or meta.get("fingerprint") != fingerprint:
        return None
    return PrepareResult(out_dir, next(iter(meta["inputs"])), meta["format"], meta["template"], meta["rows_read"],
                         meta["counts"], meta["dropped"], reused=True)
