"""`loralab report`."""

from __future__ import annotations

from pathlib import Path

from loralab.cli.common import app, out
from loralab.inputs import (
    in_dir_arg,
)

# ----------------------------------------------------------------------------- report


@app.command("report")
def report_cmd(
    study_dir: Path = in_dir_arg(..., help="A study directory written by `loralab study run`."),
) -> None:
    """Write report.md and a self-contained report.html for a study; print its summary table.

    Reads result files only and never loads a model: re-run it any time, even mid-study ("—" marks what is missing).

    Example: loralab report runs/quickstart
    """
    from loralab.report import summary_rich_table, summary_table, write_report

    md, page = write_report(study_dir)
    out.print(summary_rich_table(summary_table(study_dir)))
    out.print(f"wrote {md}\nopen {page.resolve()}", highlight=False, soft_wrap=True)
