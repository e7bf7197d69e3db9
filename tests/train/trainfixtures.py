"""Helpers for trainer tests: small prepared datasets in the row schema `loralab prepare` writes."""

from __future__ import annotations

import json
from pathlib import Path

TEMPLATE = "### Instruction:\n{}\n\n### Response:\n"
OPS = [("add", "a + b", "the sum"), ("sub", "a - b", "the difference"), ("mul", "a * b", "the product"),
       ("maxi", "max(a, b)", "the larger"), ("mini", "min(a, b)", "the smaller"), ("avg", "(a + b) / 2", "the mean")]


def task_rows(n: int, offset: int = 0) -> list[dict]:
    """Varied-length instruction rows: a Python task prompt and its solution."""
    rows = []
    for i in range(offset, offset + n):
        name, expr, what = OPS[i % len(OPS)]
        extra = " Include a docstring." * (i % 4)
        prompt = TEMPLATE.format(f"Write a Python function {name}_{i}(a, b) returning {what} of a and b.{extra}")
        body = f'def {name}_{i}(a, b):\n' + (f'    """Return {what} of a and b."""\n' * (i % 3)) + f"    return {expr}\n"
        rows.append({"id": f"t{i}", "prompt": prompt, "response": body, "text": prompt + body})
    return rows


def write_prepared(out: Path, train: list[dict], validation: list[dict]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("validation", validation), ("test", [])):
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (out / "meta.json").write_text(json.dumps({"stage": "prepare", "template": "alpaca"}))
    return out
