"""A Document as report.md (GitHub-style Markdown; figures linked from STUDY_DIR/figures/)."""

from __future__ import annotations

import re
from pathlib import Path

from loralab.report.blocks import Cell, Details, Document, Image, Para, Sub, Table
from loralab.report.format import DASH

# Characters Markdown would act on: emphasis, code, HTML, table pipes, headings, a "]" that
# would close a link text, and "_" at a word edge (inside words CommonMark leaves it alone).
_MD_SPECIAL = re.compile(r"([\\`*<>|#]|\](?=[(\[:])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_escape(text: str) -> str:
    """Plain text -> Markdown that shows the same text (pipes safe inside tables)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", "").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    def cell(c: Cell, strong: bool) -> str:
        text = md_escape(c.text)
        return f"**{text}**" if (c.strong or strong) and c.text != DASH else text

    numeric = [any(r[j].num for r in t.rows) for j in range(len(t.headers))]
    lines = ["| " + " | ".join(md_escape(h) for h in t.headers) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for i, row in enumerate(t.rows):
        strong = i < len(t.row_cls) and t.row_cls[i] in ("differs", "best")
        lines.append("| " + " | ".join(cell(c, strong) for c in row) + " |")
    return lines + [""]


def _md_blocks(blocks: list, root: Path) -> list[str]:
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Table):
            lines += _md_table(b) if b.rows else ["(none)", ""]
        elif isinstance(b, Para):
            lines += [f"_{md_escape(b.text)}_" if b.note else md_escape(b.text), ""]
        elif isinstance(b, Sub):
            lines += [f"### {md_escape(b.title)}", ""]
        elif isinstance(b, Image):
            rel = b.path.relative_to(root).as_posix() if b.path.is_relative_to(root) else b.path.as_posix()
            lines += [f"![{md_escape(b.alt)}]({rel})", ""]
        elif isinstance(b, Details):
            lines += [f"**{md_escape(b.summary)}**", ""] + _md_blocks(b.blocks, root)
    return lines


def to_markdown(doc: Document, root: Path) -> str:
    lines = [f"# {md_escape(doc.title)}", ""]
    lines += [f"- **{md_escape(k)}:** {md_escape(v)}" for k, v in doc.facts] + [""]
    for s in doc.sections:
        lines += [f"## {md_escape(s.title)}", ""] + _md_blocks(s.blocks, root)
    return "\n".join(lines).rstrip() + "\n"
