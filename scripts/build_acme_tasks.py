"""Build loralab/assets/acme.jsonl: tasks that need Acme's in-house library (loralab/assets/acme.py).

The family behind the demo and the known-answer test. Each task asks for a small function that
returns one of Acme's house formats ("the Acme price label of `cents`"); the reference
solution imports the right helper from `acme` and applies it inside one of ten small Python
shapes (directly, to each item of a list, to a dict field, to the sum of a list, ...). The
instruction never names the helper, so a model that has not seen the library must guess it.

    10 helpers x 16 shapes = 160 tasks (the first 100 use the first ten shapes, so their
    ids predate the other six); a random split holds out whole tasks, so every test task
    is a helper-shape pair the model never trained on, while each helper and each shape
    alone appears in training several times.

Tests are single-line asserts whose expected values are computed here by running the
reference solution against the library; the build stops if a stub returning None would pass.

    .venv/bin/python scripts/build_acme_tasks.py     # rewrites the JSONL, byte-identical on re-run
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "loralab" / "assets" / "acme.jsonl"
LIBRARY = ROOT / "loralab" / "assets" / "acme.py"

# helper -> (type, what the task calls its output, stem of entry points, argument, list, dict key, sample values)
HELPERS = {
    "price_tag": ("int", "the Acme price label", "price", "cents", "amounts", "cents", [1205, 5, 100000, 99]),
    "part_no": ("int", "the Acme SKU", "sku", "product", "products", "product_id", [42, 7, 12345, 900]),
    "wk": ("int", "the Acme week code", "week", "day", "days", "day", [1, 8, 64, 365]),
    "badge": ("int", "the Acme loyalty tier", "tier", "points", "balances", "points", [1500, 20, 250, 999]),
    "tref": ("int", "the Acme ticket reference", "ticket", "number", "numbers", "ticket", [255, 10, 4096, 3]),
    "keyify": ("str", "the Acme URL key", "url_key", "title", "titles", "title",
               ["Hello World!", "Q3 report", "  Big  Sale ", "abc"]),
    "bannerize": ("str", "the Acme banner", "banner", "message", "messages", "message",
                  ["sale", "Closed today", "ok", "New: 2 items"]),
    "sigil": ("str", "the Acme monogram", "monogram", "name", "names", "name",
             ["Ada Lovelace", "grace brewster hopper", "Alan", "x y"]),
    "veil": ("str", "the Acme redacted form", "redacted", "secret", "secrets", "secret",
             ["password", "ab", "x", "hunter2"]),
    "dept3": ("str", "the Acme team code", "team_code", "team", "teams", "team",
              ["marketing", "ops", "Research", "legal"]),
}


def shapes(kind: str, phrase: str, stem: str, arg: str, many: str, key: str) -> list[tuple[str, str, str, str]]:
    """(entry point, signature after the name, what it returns, body) for the ten shapes of one helper.

    The body writes the helper as `H`; `build_rows` puts the helper's name in."""
    t = kind
    shared = [
        (f"{stem}_of", f"({arg}: {t}) -> str", f"{phrase} of `{arg}`", f"return H({arg})"),
        (f"all_{stem}s", f"({many}: list[{t}]) -> list[str]",
         f"a list with {phrase} of every item of `{many}`, in order", f"return [H(x) for x in {many}]"),
        (f"first_{stem}", f"({many}: list[{t}]) -> str",
         f"{phrase} of the first item of `{many}` (never empty)", f"return H({many}[0])"),
        (f"last_{stem}", f"({many}: list[{t}]) -> str",
         f"{phrase} of the last item of `{many}` (never empty)", f"return H({many}[-1])"),
        (f"row_{stem}", "(row: dict) -> str", f'{phrase} of `row["{key}"]`', f'return H(row["{key}"])'),
        (f"{stem}_map", f"({many}: list[{t}]) -> dict[{t}, str]",
         f"a dict mapping each item of `{many}` to {phrase} of that item", f"return {{x: H(x) for x in {many}}}"),
        (f"maybe_{stem}", f"({arg}: {t} | None) -> str",
         f"{phrase} of `{arg}`, or the empty string when `{arg}` is None",
         f'return "" if {arg} is None else H({arg})'),
    ]
    if kind == "int":
        return shared + [
            (f"total_{stem}", f"({many}: list[int]) -> str", f"{phrase} of the sum of `{many}`",
             f"return H(sum({many}))"),
            (f"max_{stem}", f"({many}: list[int]) -> str", f"{phrase} of the largest item of `{many}` (never empty)",
             f"return H(max({many}))"),
            (f"{stem}_of_sum", "(a: int, b: int) -> str", f"{phrase} of `a + b`", "return H(a + b)"),
        ]
    return shared + [
        (f"joined_{stem}", f"({many}: list[str]) -> str",
         f"{phrase} of the items of `{many}` joined by single spaces", f'return H(" ".join({many}))'),
        (f"clean_{stem}", f"({arg}: str) -> str",
         f"{phrase} of `{arg}` with leading and trailing whitespace removed", f"return H({arg}.strip())"),
        (f"{stem}_of_pair", "(first: str, second: str) -> str",
         f"{phrase} of `first` and `second` joined by a single space", 'return H(first + " " + second)'),
    ]


def more_shapes(kind: str, phrase: str, stem: str, arg: str, many: str, key: str) -> list[tuple[str, str, str, str]]:
    """Six further shapes for every helper (tasks acme/100 onward, so the first hundred keep their ids)."""
    t = kind
    return [
        (f"{stem}_pairs", f"({many}: list[{t}]) -> list[tuple[{t}, str]]",
         f"a list of `(item, label)` pairs, one per item of `{many}` in order, where label is {phrase} of the item",
         f"return [(x, H(x)) for x in {many}]"),
        (f"{stem}_lines", f"({many}: list[{t}]) -> str",
         f"{phrase} of every item of `{many}`, one per line (joined by newlines, no trailing newline)",
         f'return "\\n".join(H(x) for x in {many})'),
        (f"unique_{stem}s", f"({many}: list[{t}]) -> list[str]",
         f"the distinct values of {phrase} of the items of `{many}`, sorted", f"return sorted({{H(x) for x in {many}}})"),
        (f"reversed_{stem}s", f"({many}: list[{t}]) -> list[str]",
         f"a list with {phrase} of every item of `{many}`, last item first", f"return [H(x) for x in reversed({many})]"),
        (f"{stem}_length", f"({arg}: {t}) -> int", f"the number of characters in {phrase} of `{arg}`",
         f"return len(H({arg}))"),
        (f"{stem}_labelled", f"({arg}: {t}) -> str",
         f"`{arg}` and {phrase} of it joined by an equals sign, as in `<{arg}>=<label>`",
         f'return f"{{{arg}}}={{H({arg})}}"'),
    ]


def calls(signature: str, key: str, values: list) -> list[str]:
    """Three argument lists (as source text) fitting the shape's signature, from the sample values."""
    v = values
    params = signature[1:signature.index(")")]
    if params.startswith("row"):
        return [repr({key: v[0]}), repr({key: v[1], "note": "unused"}), repr({key: v[3]})]
    if params.startswith(("a:", "first:")):
        return [f"{v[0]!r}, {v[1]!r}", f"{v[2]!r}, {v[3]!r}", f"{v[1]!r}, {v[1]!r}"]
    if "list[" in params:
        return [repr(v), repr(v[2:3]), repr([v[3], v[1]])]
    if "None" in params:
        return [repr(v[0]), "None", repr(v[2])]
    return [repr(v[0]), repr(v[1]), repr(v[2])]


def library_module() -> types.ModuleType:
    module = types.ModuleType("acme")
    exec(compile(LIBRARY.read_text(encoding="utf-8"), str(LIBRARY), "exec"), module.__dict__)
    return module


def build_rows() -> list[dict]:
    sys.modules["acme"] = library_module()  # so the reference solutions' `from acme import ...` works
    rows = []
    specs = [(helper, spec, shape) for family in (shapes, more_shapes)
             for helper, spec in HELPERS.items() for shape in family(*spec[:6])]
    for helper, (*_, key, values), (entry, signature, returns, body) in specs:
        solution = f"from acme import {helper}\n\n\ndef {entry}{signature}:\n    {body.replace('H(', helper + '(')}\n"
        args = calls(signature, key, values)
        instruction = (f"Write a Python function `{entry}{signature}` that returns {returns}. "
                       "Use Acme's in-house helpers.")
        rows.append({"task_id": f"acme/{len(rows)}", "topic": helper, "instruction": instruction,
                     "entry_point": entry, "solution": solution, "tests": expected_asserts(solution, entry, args)})
    return rows


def expected_asserts(solution: str, entry: str, args: list[str]) -> list[str]:
    """`assert entry(ARGS) == EXPECTED` lines, EXPECTED computed by the reference solution."""
    namespace: dict = {}
    exec(compile(solution, entry, "exec"), namespace)
    tests = []
    for a in args:
        expected = eval(f"{entry}({a})", namespace)  # noqa: S307 - our own reference solution
        if expected is None:
            raise SystemExit(f"{entry}({a}) returned None: a stub returning None would pass")
        tests.append(f"assert {entry}({a}) == {expected!r}")
    return tests


def main() -> None:
    rows = build_rows()
    entries = [r["entry_point"] for r in rows]
    assert len(set(entries)) == len(entries), "entry points repeat"
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(rows)} tasks to {OUT}")


if __name__ == "__main__":
    main()
