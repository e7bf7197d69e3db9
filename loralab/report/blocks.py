"""The report as data: sections of tables, paragraphs, figures, rendered by markdown.py and html.py alike."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Cell:
    text: str
    num: bool = False
    strong: bool = False
    title: str | None = None  # full text when `text` is shortened
    cls: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    id: str = ""
    row_cls: list[str] = field(default_factory=list)  # "differs" / "best": bold in md, a CSS class in html


@dataclass
class Para:
    text: str
    note: bool = False


@dataclass
class Sub:
    title: str


@dataclass
class Image:
    path: Path
    alt: str


@dataclass
class Details:
    summary: str
    blocks: list
    open: bool = False


@dataclass
class Section:
    title: str
    id: str
    blocks: list


@dataclass
class Document:
    title: str
    facts: list[tuple[str, str]]
    sections: list[Section]


def short_cell(value: str, limit: int = 80, **kw) -> Cell:
    if len(value) > limit:
        return Cell(value[: limit - 1] + "…", title=value, **kw)
    return Cell(value, **kw)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "task"
