"""Instruction datasets as `InstructionRow`s: alpaca JSON lists, JSONL, and `loralab prepare` splits.

Field names are detected from the rows (instruction/input/output, prompt/response, ...) or set in
`fields`. The original row is kept untouched so that cleaned files are the input minus rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from loralab.curate.config import FieldsConfig
from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl, sha256_file, sha256_text
from loralab.results import META

QUESTION_KEYS = ("instruction", "question", "prompt", "problem", "query", "text")
INPUT_KEYS = ("input", "context")
RESPONSE_KEYS = ("output", "response", "completion", "answer", "solution", "code")
# `loralab prepare` writes the templated prompt; measure the instruction inside it, not the template
_ALPACA = re.compile(r"### Instruction:\s*(.*?)\s*(?:### Input:\s*(.*?)\s*)?### Response:", re.S)


@dataclass(frozen=True)
class InstructionRow:
    row: int            # 1-based position in the file
    line: int | None    # 1-based line for JSONL files, None for a JSON list
    question: str       # question, plus the input field when there is one
    response: str
    data: dict          # the original row, written back unchanged


def read_rows(path: str | Path) -> tuple[list[dict], list[int | None]]:
    """The file's rows and their line numbers (None for a JSON list)."""
    path = Path(path)
    if not path.is_file():
        raise LoralabError(f"{path}: {'is a directory, expected a file' if path.is_dir() else 'no such file'}")
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if head.startswith(b"["):
        rows = read_json(path)
        for i, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise LoralabError(f"{path}: row {i} is a {type(row).__name__}, expected a JSON object")
        return rows, [None] * len(rows)
    rows = read_jsonl(path)  # names the file and line of a malformed row
    text = path.read_text(encoding="utf-8").splitlines()
    return rows, [n for n, t in enumerate(text, start=1) if t.strip()]


def _pick(row: dict, wanted: str | None, keys: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted
    return next((k for k in keys if k in row), None)


def detect_fields(path: Path, first: dict, fields: FieldsConfig) -> tuple[str, str | None, str]:
    """(question, input, response) field names for a file, from config or its first row."""
    q = _pick(first, fields.question, QUESTION_KEYS)
    r = _pick(first, fields.response, RESPONSE_KEYS)
    if q is None or r is None:
        which, key = ("question", QUESTION_KEYS) if q is None else ("response", RESPONSE_KEYS)
        raise LoralabError(f"{path}: no {which} field in the first row (looked for {', '.join(key)}; "
                           f"found {', '.join(first) or 'no fields'}); set fields.{which}")
    inp = fields.input if fields.input is not None else next((k for k in INPUT_KEYS if k in first), None)
    return q, inp, r


def _text(where: str, row: dict, key: str, role: str, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        got = "missing" if key not in row else f"a {type(value).__name__}"
        raise LoralabError(f"{where}: field '{key}' ({role}) is {got}, expected a string")
    return value


def instruction_text(question: str, extra: str) -> str:
    """The instruction, with the template of a prepared split stripped, plus its input."""
    if m := _ALPACA.search(question):
        question, extra = m.group(1), extra or (m.group(2) or "")
    return f"{question.strip()}\n{extra.strip()}".strip()


def load_examples(path: str | Path, fields: FieldsConfig | None = None) -> list[InstructionRow]:
    """Every row of a JSON list or JSONL file as an `InstructionRow`; errors name the row and field."""
    path = Path(path)
    rows, lines = read_rows(path)
    if not rows:
        raise LoralabError(f"{path}: the file holds no rows")
    q, inp, r = detect_fields(path, rows[0], fields or FieldsConfig())
    out = []
    for i, (row, line) in enumerate(zip(rows, lines, strict=True), start=1):
        where = f"{path}:{line}" if line else f"{path}: row {i}"
        extra = _text(where, row, inp, "fields.input", required=False) if inp else ""
        question = instruction_text(_text(where, row, q, "fields.question"), extra)
        out.append(InstructionRow(i, line, question, _text(where, row, r, "fields.response"), row))
    return out


def fingerprint(paths: list[str | Path], config: dict) -> str:
    """Hash of inputs and config: a stage whose meta.json holds it is already done."""
    parts = [sha256_file(p) for p in paths] + [json.dumps(config, sort_keys=True)]
    return sha256_text("\n".join(parts))


def finished(out_dir: Path, key: str, *names: str) -> bool:
    """True when `out_dir` was written by a run with the same fingerprint (re-running is a no-op)."""
    meta = out_dir / META
    if not meta.exists() or not all((out_dir / n).exists() for n in names):
        return False
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("fingerprint") == key
    except (OSError, json.JSONDecodeError):
        return False


def check_out_dir(out_dir: Path) -> None:
    """Refuse to replace a non-empty directory that no loralab stage wrote (it is swapped out whole)."""
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / META).exists())):
        raise LoralabError(f"{out_dir}: exists and holds files no loralab stage wrote; choose a new --out directory")
