"""The Iterations section, on the hand-built two-run study of test_report.py marked as iterations.

Expected values are worked out by hand from that fake: r8 then r16 (alpha 2r), training loss
2.0·exp(-s·rate/25) + 0.6 logged every 2 steps to 30 (rate 1 + r/32), validation loss at steps
10, 20, 30 of an epoch of 30 steps, selected checkpoints 8/20 and 14/20 on pytasks.
"""

from __future__ import annotations

import json
import re

from test_report import write_fake_study  # sibling module: the hand-built two-run study

from loralab.report import write_report
from loralab.report.iterations import changes, sparkline


def _mark_iterations(root, value=True):
    study = json.loads((root / "study.json").read_text())
    study["study"]["iterations"] = value
    (root / "study.json").write_text(json.dumps(study))


def _row(md: str, name: str) -> list[str]:
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| **{name}** |") and "→" in ln)
    return [c.strip() for c in line.strip("|").split("|")]


def test_iterations_section_side_by_side(tmp_path):
    root = write_fake_study(tmp_path / "laptop")
    _mark_iterations(root)
    md_path, html_path = write_report(root)
    md = md_path.read_text(encoding="utf-8")
    assert md.index("## Iterations") < md.index("## Paired significance tests")
    first, second = _row(md, "r8"), _row(md, "r16")
    assert first[1:4] == ["(first iteration)", "115.20K", "3m 15s"]  # runtime 187.4 + 8 s
    assert second[1:4] == ["adapter.r 8 → 16; adapter.alpha 16.0 → 32.0", "230.40K", "3m 23s"]
    # r8: 2.0·e^-0.1 + 0.6 = 2.4097 at step 2, 2.0·e^-1.5 + 0.6 = 1.0463 at step 30; 15 points falling
    assert re.fullmatch(r"2\.410 → 1\.046 █[▁-█]{13}▁", first[4])
    assert second[4].startswith("2.374 → 0.931 ")  # r16: rate 1.5
    # lowest validation loss at step 30 = epoch 1: 2.1·e^-1.25 + 0.7 = 1.3017 (r8), 2.1·e^-1.5 + 0.7 = 1.1686 (r16)
    assert first[5] == "1 (val 1.302)" and second[5] == "1 (val 1.169)"
    assert first[6:] == ["40.0% (8/20)", "—"] and second[6:] == ["70.0% (14/20)", "+30.0 pp"]
    assert '<table id="iterations-table">' in html_path.read_text(encoding="utf-8")


def test_no_section_unless_the_study_says_iterations(tmp_path):
    root = write_fake_study(tmp_path / "plain")
    _mark_iterations(root, value=False)
    md_path, html_path = write_report(root)
    assert "## Iterations" not in md_path.read_text(encoding="utf-8")
    assert "iterations-table" not in html_path.read_text(encoding="utf-8")


def test_sparkline_and_changes():
    assert sparkline([3.0, 2.0, 1.0]) == "█▅▁" and sparkline([1.0, 1.0]) == "▁▁" and sparkline([]) == ""
    long = sparkline([float(i) for i in range(100)], width=24)
    assert len(long) == 24 and long[0] == "▁" and long[-1] == "█"
    before = {"adapter": {"r": 8}, "train": {"epochs": 3.0, "out_dir": "runs/a"}, "data": {"prepared": "x"}}
    after = {"adapter": {"r": 8}, "train": {"epochs": 5.0, "out_dir": "runs/b"}, "data": {"prepared": "y"}}
    assert changes(before, after) == "train.epochs 3.0 → 5.0"  # run directories are not a change
    assert changes(before, before) == "nothing" and changes(None, after) == "—"
