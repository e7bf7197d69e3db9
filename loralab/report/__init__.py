"""`loralab report STUDY_DIR`: report.md and a self-contained report.html from result files.

The report reads only what a study wrote (layout and schemas in loralab/results.py): each run's
config.yaml, training summary, metrics, checkpoints and evaluation summary, plus the
study's comparisons.json and meta.json. It never loads a model. A piece that is missing
(a run still training, a study without comparisons yet) renders as "—" with a note;
a piece that is present but malformed is a LoralabError naming the file and key.

The page is built once as a list of blocks (sections, tables, paragraphs, figures) and
rendered twice, to Markdown and to HTML, so the two files cannot drift apart. Charts are
PNGs in STUDY_DIR/figures/, linked from report.md and embedded in report.html as base64
data URIs so the HTML is one file that can be mailed or archived.

    load.py       result files -> StudyResults          format.py   numbers as text, verdicts
    summary.py    best checkpoint per run (also the terminal table)
    blocks.py     the block model                        document.py the sections in order
    sections.py   charts.py  configs.py                  the sections
    markdown.py   html.py                                the two renderers
"""

from __future__ import annotations

from pathlib import Path

from loralab.io import write_text
from loralab.report.configs import config_diff, flatten
from loralab.report.document import build_document
from loralab.report.format import verdict
from loralab.report.html import to_html
from loralab.report.load import RunResult, StudyResults, load_run, load_study
from loralab.report.markdown import md_escape, to_markdown
from loralab.report.summary import render_summary, summary_cells, summary_rich_table, summary_table

__all__ = ["RunResult", "StudyResults", "build_document", "config_diff", "flatten", "load_run", "load_study",
           "md_escape", "render_summary", "summary_cells", "summary_rich_table", "summary_table", "to_html",
           "to_markdown", "verdict", "write_report"]


def write_report(study_dir: str | Path) -> tuple[Path, Path]:
    """Write STUDY_DIR/report.md, STUDY_DIR/report.html and STUDY_DIR/figures/*.png; return the two reports."""
    study = load_study(study_dir)
    doc = build_document(study)
    md = write_text(study.dir / "report.md", to_markdown(doc, study.dir))
    page = write_text(study.dir / "report.html", to_html(doc))
    return md, page
