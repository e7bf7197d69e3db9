"""A Document as report.html: one self-contained file, figures embedded as base64 data URIs."""

from __future__ import annotations

import base64
import html
from typing import Any

from loralab.report.blocks import Details, Document, Image, Para, Sub, Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #1f2328; background: #fff; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 1.7em; margin: 0.4em 0; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 1.8em; }
h3 { margin: 1.2em 0 0.3em; }
ul.facts { list-style: none; padding: 0; margin: 0 0 1em; color: #424a53; }
ul.facts b { display: inline-block; min-width: 9em; color: #1f2328; }
nav { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; font-size: 0.95em; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.differs td { background: #fff8c5; } tr.differs td:first-child { font-weight: 700; }
tr.best td { font-weight: 700; background: #dafbe1; } tr.base td { background: #f6f8fa; }
td.sig { color: #1a7f37; font-weight: 600; min-width: 15em; } td.noise { color: #57606a; min-width: 15em; }
td.pass { color: #1a7f37; } td.fail { color: #cf222e; } td.id { white-space: nowrap; }
p.note { color: #57606a; font-style: italic; margin: 4px 0; }
figure { margin: 10px 0 18px; } figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 0.9em; }
details > summary { cursor: pointer; color: #0969da; margin: 6px 0; }
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(t: Table) -> str:
    numeric = [any(r[j].num for r in t.rows) for j in range(len(t.headers))]
    head = "".join(f'<th{" class=num" if n else ""}>{_h(h)}</th>' for h, n in zip(t.headers, numeric, strict=True))
    body = []
    for i, row in enumerate(t.rows):
        cls = t.row_cls[i] if i < len(t.row_cls) and t.row_cls[i] else ""
        tds = []
        for c in row:
            classes = " ".join(x for x in ("num" if c.num else "", c.cls) if x)
            attrs = (f' class="{_h(classes)}"' if classes else "") + (f' title="{_h(c.title)}"' if c.title else "")
            text = f"<b>{_h(c.text)}</b>" if c.strong else _h(c.text)
            tds.append(f"<td{attrs}>{text}</td>")
        body.append(f'<tr{f" class={_h(cls)}" if cls else ""}>{"".join(tds)}</tr>')
    ident = f' id="{_h(t.id)}"' if t.id else ""
    return f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _png_size(data: bytes) -> tuple[int, int]:
    # PNG: 8-byte signature, then the IHDR chunk whose first fields are width and height (big-endian).
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _html_image(img: Image) -> str:
    data = img.path.read_bytes()
    w, h = _png_size(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<figure><img src="{uri}" alt="{_h(img.alt)}" width="{w}" height="{h}">'
            f"<figcaption>{_h(img.alt)}</figcaption></figure>")


def _html_blocks(blocks: list) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Table):
            parts.append(_html_table(b) if b.rows else "<p class=note>(none)</p>")
        elif isinstance(b, Para):
            parts.append(f'<p{" class=note" if b.note else ""}>{_h(b.text)}</p>')
        elif isinstance(b, Sub):
            parts.append(f"<h3>{_h(b.title)}</h3>")
        elif isinstance(b, Image):
            parts.append(_html_image(b))
        elif isinstance(b, Details):
            parts.append(f'<details{" open" if b.open else ""}><summary>{_h(b.summary)}</summary>'
                         f"{_html_blocks(b.blocks)}</details>")
    return "\n".join(parts)


def to_html(doc: Document) -> str:
    facts = "".join(f"<li><b>{_h(k)}</b> {_h(v)}</li>" for k, v in doc.facts)
    nav = "\n".join(f'<a href="#{_h(s.id)}">{_h(s.title)}</a>' for s in doc.sections)
    sections = "\n".join(f'<section id="{_h(s.id)}"><h2>{_h(s.title)}</h2>\n{_html_blocks(s.blocks)}</section>'
                         for s in doc.sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_h(doc.title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{_h(doc.title)}</h1>\n"
            f'<ul class="facts">{facts}</ul>\n<nav>{nav}</nav>\n{sections}\n</main>\n</body>\n</html>\n')
