"""Write a stand-in for databricks-dolly-15k, in Dolly's layout, from CodeAlpaca rows on this machine.

The Dolly-15k judge study (examples/dolly_judges.yaml) reads the hub dataset; this machine has
no copy and cannot download one, so its CPU miniature (examples/dolly_judges_cpu.yaml) reads a
local file with Dolly's fields built from ../shared/data/instruct/code_alpaca_2k.json:

    instruction  <- instruction          (as written, whitespace and all: `prepare` strips it)
    context      <- input                (Dolly's optional passage; empty when there is none)
    response     <- output
    category     <- closed_qa when there is a context, else open_qa (Dolly's categories for
                    questions answered from a passage and without one)

Only the layout is Dolly's; the rows are CodeAlpaca's programming instructions, not Dolly's
human-written ones, so a figure from the miniature says nothing about Dolly itself. Rows are
taken in file order (the study shuffles them itself, seed 42) and copied as they are, so the
two CodeAlpaca rows with an empty instruction or output reach `prepare` and are dropped there,
as the recipe drops Dolly's. The output goes under runs/ (ignored by git): data is never committed.

    .venv/bin/python scripts/dolly_standin.py                      # 400 rows -> runs/dolly_standin/dolly.jsonl
    .venv/bin/python scripts/dolly_standin.py --rows 2017 --out runs/dolly_standin/all.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "instruct" / "code_alpaca_2k.json"
OUT = ROOT / "runs" / "dolly_standin" / "dolly.jsonl"


def to_dolly(row: dict) -> dict:
    """One CodeAlpaca row {instruction, input, output} in Dolly's {instruction, context, response, category}."""
    context = row.get("input") or ""
    return {"instruction": row["instruction"], "context": context, "response": row["output"],
            "category": "closed_qa" if context.strip() else "open_qa"}


def standin(source: Path, rows: int) -> list[dict]:
    data = json.loads(source.read_text(encoding="utf-8"))
    return [to_dolly(r) for r in data[:rows]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE, help="CodeAlpaca JSON list (default: %(default)s)")
    ap.add_argument("--rows", type=int, default=400, help="first N rows (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=OUT, help="JSONL to write (default: %(default)s)")
    args = ap.parse_args(argv)
    if not args.source.is_file():
        print(f"error: {args.source}: no such file (the shared data lives in ../shared/data)", file=sys.stderr)
        return 2
    if args.rows < 1:
        print(f"error: --rows must be at least 1, got {args.rows}", file=sys.stderr)
        return 2
    rows = standin(args.source, args.rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(args.out)  # atomic: a killed run never leaves half a file for the study to read
    print(f"wrote {len(rows)} Dolly-layout rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
