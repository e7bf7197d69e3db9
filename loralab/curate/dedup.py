"""Exact, normalised-text and semantic near-duplicate removal, keeping the first occurrence.

Stages, cheapest first; each only sees the rows the previous ones kept:
  1. exact       identical key text (the question, or question + response with match_on=question+code)
  2. normalised  identical after NFKC, case folding and collapsing punctuation and spacing
  3. semantic    cosine similarity of embeddings above `threshold` (in the spirit of SemDeDup,
                 Abbas et al. 2023, with a greedy pass instead of k-means clusters)
The pass is greedy in file order: a row is dropped when it is too close to a row already kept,
so every group keeps its first occurrence. A chain A~B, B~C with A !~ C drops B and keeps C,
because C is compared with kept rows only.

Search is blockwise: each block of B rows is compared with the kept rows in chunks of C, so
beyond the (N, D) embeddings memory stays O(B x C); no N x N matrix. Time is O(N x kept x D),
quadratic in the worst case (nothing is a duplicate); benchmarks/curate_scale.py measures it.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loralab.config import save_config
from loralab.curate.config import CurateConfig
from loralab.curate.metrics import code_text
from loralab.curate.rows import InstructionRow, check_out_dir, fingerprint, finished, load_examples
from loralab.io import atomic_dir, read_json, sha256_file, write_json, write_jsonl, write_meta

if TYPE_CHECKING:
    import numpy as np

_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Duplicate:
    row: int            # 0-based index of the dropped row
    of: int             # 0-based index of the kept row it duplicates
    similarity: float   # cosine similarity; 1.0 for hash matches
    reason: str         # exact | normalised | semantic


def normalise(text: str) -> str:
    """Case, Unicode form, punctuation and spacing removed: 'Sort a list!' == 'sort a  list'."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def hash_duplicates(keys: list[str], normalised: bool = True) -> dict[int, Duplicate]:
    """Rows whose key (or normalised key) repeats an earlier row's; 16-byte digests bound memory."""
    exact: dict[bytes, int] = {}
    norm: dict[bytes, int] = {}
    dups = {}
    for i, key in enumerate(keys):
        first = exact.setdefault(_digest(key), i)
        if first != i:
            dups[i] = Duplicate(i, first, 1.0, "exact")
            continue
        if normalised:
            first = norm.setdefault(_digest(normalise(key)), i)
            if first != i:
                dups[i] = Duplicate(i, first, 1.0, "normalised")
    return dups


def _max_sim(block: np.ndarray, kept: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Best cosine of each block row against the kept rows, and its index (-1 when none kept)."""
    import numpy as np

    best = np.full(len(block), -np.inf, dtype=np.float32)  # (b,)
    arg = np.full(len(block), -1, dtype=np.int64)          # (b,)
    rows = np.arange(len(block))
    for s in range(0, len(kept), chunk):
        sims = block @ kept[s:s + chunk].T                  # (b, c)
        j = sims.argmax(axis=1)
        v = sims[rows, j]
        better = v > best
        best[better], arg[better] = v[better], j[better] + s
    return best, arg


def semantic_duplicates(emb: np.ndarray, threshold: float, block: int = 1024,
                        chunk: int = 16384) -> list[Duplicate]:
    """Greedy first-occurrence near-duplicates among (N, D) unit rows.

    `emb` is used as scratch space: kept rows are compacted to its front (they always come from
    earlier blocks, so nothing unread is overwritten); pass a copy to keep the original.
    """
    import numpy as np

    kept_ids = np.empty(len(emb), dtype=np.int64)  # kept_ids[k] = original index of emb[k]
    n_kept, drops = 0, []
    for start in range(0, len(emb), block):
        blk = emb[start:start + block].copy()                        # (b, D)
        best, arg = _max_sim(blk, emb[:n_kept], chunk)              # vs rows kept in earlier blocks
        inner = blk @ blk.T                                          # (b, b)
        keep = np.zeros(len(blk), dtype=bool)
        for i in range(len(blk)):
            sim, of = float(best[i]), int(kept_ids[arg[i]]) if arg[i] >= 0 else -1
            earlier = np.flatnonzero(keep[:i])                       # kept rows of this block before i
            if earlier.size:
                j = int(earlier[inner[i, earlier].argmax()])
                if inner[i, j] > sim:
                    sim, of = float(inner[i, j]), start + j
            if sim > threshold:
                drops.append(Duplicate(start + i, of, sim, "semantic"))
            else:
                keep[i] = True
        m = int(keep.sum())
        emb[n_kept:n_kept + m] = blk[keep]
        kept_ids[n_kept:n_kept + m] = start + np.flatnonzero(keep)
        n_kept += m
    return drops


def dedup_key(ex: InstructionRow, on: str) -> str:
    return ex.question if on == "question" else f"{ex.question}\n\n{ex.response}"


def dedup_embeddings(examples: list[InstructionRow], cfg: CurateConfig, progress: bool = False) -> np.ndarray:
    """(N, D) question embeddings, or (N, 2D) [q, c] / sqrt(2) so a dot product is the mean of both cosines."""
    import numpy as np

    from loralab.embed import embed

    e = cfg.embedder
    kw = dict(model=e.model, prefix=e.prefix, batch_size=e.batch_size, device=e.device, cache=e.cache, progress=progress)
    q = embed([x.question for x in examples], **kw)
    if cfg.dedup.match_on == "question":
        return q
    c = embed([code_text(x.response) for x in examples], **kw)
    return np.concatenate([q, c], axis=1) / np.float32(np.sqrt(2.0))


@dataclass
class DedupResult:
    out_dir: Path
    summary: dict

    def describe(self) -> str:
        s = self.summary
        reasons = ", ".join(f"{k} {v}" for k, v in s["by_reason"].items())
        return f"kept {s['kept']} of {s['rows']} rows ({reasons}) -> {self.out_dir / 'kept.jsonl'}"


def find_duplicates(examples: list[InstructionRow], cfg: CurateConfig, progress: bool = False) -> tuple[dict, dict]:
    """All duplicates by row index, and the seconds each phase took."""
    t0 = time.time()
    dups = hash_duplicates([dedup_key(x, cfg.dedup.match_on) for x in examples], cfg.dedup.normalised)
    seconds = {"hash": time.time() - t0}
    if cfg.dedup.semantic:
        rest = [i for i in range(len(examples)) if i not in dups]
        t0 = time.time()
        emb = dedup_embeddings([examples[i] for i in rest], cfg, progress)
        seconds["embed"], t0 = time.time() - t0, time.time()
        for d in semantic_duplicates(emb, cfg.dedup.threshold, cfg.dedup.block_size):
            dups[rest[d.row]] = Duplicate(rest[d.row], rest[d.of], d.similarity, d.reason)
        seconds["search"] = time.time() - t0
    return dups, {k: round(v, 3) for k, v in seconds.items()}


def _dropped_row(examples: list[InstructionRow], d: Duplicate) -> dict:
    a, b = examples[d.row], examples[d.of]
    return {"row": a.row, "line": a.line, "duplicate_of": b.row, "duplicate_of_line": b.line,
            "similarity": round(d.similarity, 4), "reason": d.reason,
            "question": a.question, "duplicate_question": b.question}


def dedup(path: str | Path, cfg: CurateConfig, out_dir: str | Path, progress: bool = False) -> DedupResult:
    """Write kept.jsonl (original rows), dropped.jsonl (row, duplicate_of, similarity, reason), summary.json."""
    path, out_dir, started = Path(path), Path(out_dir), time.time()
    key = fingerprint([path], {"stage": "dedup", **cfg.model_dump(mode="json", include={"fields", "embedder", "dedup"})})
    if finished(out_dir, key, "kept.jsonl", "dropped.jsonl", "summary.json"):
        return DedupResult(out_dir, read_json(out_dir / "summary.json"))
    check_out_dir(out_dir)
    examples = load_examples(path, cfg.fields)
    dups, seconds = find_duplicates(examples, cfg, progress)
    by_reason = {r: sum(d.reason == r for d in dups.values()) for r in ("exact", "normalised", "semantic")}
    summary = {"input": str(path), "rows": len(examples), "kept": len(examples) - len(dups), "dropped": len(dups),
               "by_reason": by_reason, "threshold": cfg.dedup.threshold, "match_on": cfg.dedup.match_on,
               "embedder": cfg.embedder.model if cfg.dedup.semantic else None, "seconds": seconds}
    with atomic_dir(out_dir) as tmp:
        write_jsonl(tmp / "kept.jsonl", (x.data for i, x in enumerate(examples) if i not in dups))
        write_jsonl(tmp / "dropped.jsonl", (_dropped_row(examples, dups[i]) for i in sorted(dups)))
        write_json(tmp / "summary.json", summary)
        save_config(cfg, tmp)
        write_meta(tmp, stage="curate.dedup", inputs={str(path): sha256_file(path)}, started=started,
                   extra={"fingerprint": key})
    return DedupResult(out_dir, summary)
