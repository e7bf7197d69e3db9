"""The curation config: one typed model, filled from YAML and `--set`, validated in one place.

A curation YAML holds these sections at its top level (see examples/curate_codealpaca.yaml):
fields, embedder, dedup, metrics, contamination. Every key has a default, so no file is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loralab.config import deep_merge, dotted_to_tree, parse_overrides, read_yaml, validate
from loralab.errors import LoralabError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)  # a misspelt key is an error


class FieldsConfig(_Strict):
    question: str | None = Field(None, description="Field holding the question (auto: instruction, prompt, question, ...).")
    input: str | None = Field(None, description="Optional field appended to the question (auto: input or context).")
    response: str | None = Field(None, description="Field holding the answer (auto: output, response, completion, ...).")


class EmbedderConfig(_Strict):
    model: str = Field("all-MiniLM-L6-v2", description="sentence-transformers directory or hub id (default: packaged offline copy).")
    prefix: str | None = Field(None, description="Text put before every input; None: the family's default ('query: ' for E5).")
    batch_size: int = Field(64, ge=1, description="Texts per forward pass.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto picks cuda > mps > cpu.")
    cache: bool = Field(True, description="Keep embeddings under the cache dir, keyed by a hash of model, prefix and texts.")


class DedupConfig(_Strict):
    threshold: float = Field(0.95, gt=0, le=1, description="Rows with cosine similarity above this to a kept row are dropped.")
    match_on: Literal["question", "question+code"] = Field(
        "question", description="question+code: similarity is the mean of question and code cosines.")
    normalised: bool = Field(True, description="Also drop rows whose normalised text (case, spacing, punctuation) repeats.")
    semantic: bool = Field(True, description="Run the embedding stage (False: hash stages only, no model needed).")
    block_size: int = Field(1024, ge=1, description="Rows compared at once; memory is block_size x kept_chunk floats.")


class MetricsConfig(_Strict):
    sample: int = Field(1000, ge=2, description="Rows sampled (seeded) for question and code spread.")
    seed: int = Field(0, ge=0, description="Seed of the spread sample.")
    mtld_threshold: float = Field(0.72, gt=0, lt=1, description="MTLD factor threshold (McCarthy & Jarvis 2010).")


class ContaminationConfig(_Strict):
    evals: list[str] = Field(default_factory=lambda: ["humaneval"],
                             description="humaneval, or PATH[:field[+field]] of any JSON/JSONL eval set.")
    n: int = Field(13, ge=1, description="Word n-gram length (13 as in GPT-3, Brown et al. 2020, App. C).")
    min_shared: int = Field(1, ge=1, description="A row is suspicious when it shares at least this many n-grams with one eval item.")
    embeddings: bool = Field(True, description="Also flag rows whose question embedding is close to an eval item.")
    embed_threshold: float = Field(0.85, gt=0, le=1, description="Cosine similarity at or above which a row is suspicious.")


class CurateConfig(_Strict):
    fields: FieldsConfig = Field(default_factory=FieldsConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    contamination: ContaminationConfig = Field(default_factory=ContaminationConfig)


def build_config(path: str | Path | None = None, overrides: list[str] | None = None,
                 field_pairs: list[str] | None = None, options: dict[str, Any] | None = None,
                 model: type[BaseModel] = CurateConfig) -> Any:
    """YAML file + `--set` overrides + `--field role=name` + explicit CLI options, validated once.

    `options` maps dotted keys to values (None = option not given); they are set as typed
    values rather than parsed as YAML, so a prefix like "query: " or a spec like "x.jsonl:text"
    stays a string.
    """
    data = read_yaml(path) if path else {}
    data = deep_merge(data, parse_overrides(overrides or []))
    given = {k: v for k, v in (options or {}).items() if v is not None}
    for pair in field_pairs or []:
        role, sep, name = pair.partition("=")
        if not sep or not name.strip():
            raise LoralabError(f"--field {pair!r}: expected ROLE=NAME, e.g. --field question=prompt")
        given[f"fields.{role.strip()}"] = name.strip()
    return validate(model, deep_merge(data, dotted_to_tree(given)), str(path) if path else "command line")
