"""report.md and report.html, byte for byte, on the hand-built study of test_report.py (issue #14).

A restructuring of the report must not change a character of what it writes. After a
deliberate change to the report, regenerate the files in tests/snapshots/report/ and review the diff:

    LORALAB_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q tests/report/test_report_golden.py

Three things differ from one run to the next and are replaced before comparing: the time the
report was written, the temporary study directory, and the PNG bytes embedded in report.html
(matplotlib's output; the figure files have their own tests and the <img> size stays compared).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import pytest
from test_report import write_fake_study  # sibling module: the hand-built two-run study

from loralab.report import write_report

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "report"
UPDATE = os.environ.get("LORALAB_UPDATE_SNAPSHOTS") == "1"
REGENERATE = ("regenerate after a deliberate change: "
              "LORALAB_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q tests/report/test_report_golden.py")


def _stable(text: str, root: Path) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "YYYY-MM-DD HH:MM:SS UTC", text)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,PNG", text)
    for form in {str(root.resolve()), str(root)}:
        text = text.replace(form, "STUDY")
    assert "pytest-" not in text, "a temporary path is left in the report"
    return text


@pytest.fixture
def study_home(tmp_path):
    """tmp_path behind a link of fixed length: the report cuts long cells (the out_dir) before the
    path is replaced, so a temporary path of varying length would change the snapshot."""
    link = Path(f"/tmp/loralab-golden-{secrets.token_hex(4)}")
    link.symlink_to(tmp_path, target_is_directory=True)
    yield link
    link.unlink()


def _check(name: str, text: str) -> None:
    file = SNAPSHOTS / name
    if UPDATE:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    assert file.exists(), f"no snapshot {file.name}; {REGENERATE}"
    assert text == file.read_text(encoding="utf-8"), f"{file.name} changed; {REGENERATE}"


def _render(root: Path) -> tuple[str, str]:
    md, page = write_report(root)
    return _stable(md.read_text(encoding="utf-8"), root), _stable(page.read_text(encoding="utf-8"), root)


def test_report_matches_its_snapshot(study_home):
    md, page = _render(write_fake_study(study_home / "quickstart"))
    _check("report.md", md)
    _check("report.html", page)


@pytest.mark.parametrize("shape", ["matrix", "kspecialist"])
def test_an_old_study_folder_still_renders(study_home, shape):
    """study.json as older loralab wrote it: a matrix study's whole YAML under `study`, or a
    K-specialist study's `runs` as a list of names (which also fixes the run order: r16 first)."""
    root = write_fake_study(study_home / "quickstart")
    if shape == "matrix":
        old = {"study": {"name": "old-matrix", "out_dir": str(root), "compare": "all",
                         "base": {"model": {"name": "smollm2-135m-instruct"}},
                         "matrix": {"adapter.r": [8, 16]}}}
    else:
        old = {"study": {"name": "old-kspecialist", "out_dir": str(root)}, "runs": ["r16", "r8"]}
    (root / "study.json").write_text(json.dumps(old))
    md, _ = _render(root)
    _check(f"old_{shape}.md", md)
