"""Every command's `--help`, snapshot in tests/snapshots/help/: a restructuring cannot drop an option silently.

After a deliberate change to the command line, regenerate every snapshot and review the diff:

    LORALAB_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q tests/test_cli_help.py

The help is rendered at a fixed width without colour, so the files do not depend on the terminal.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
import typer.rich_utils
from typer.testing import CliRunner

from loralab.cli import app

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "help"
UPDATE = os.environ.get("LORALAB_UPDATE_SNAPSHOTS") == "1"
REGENERATE = "regenerate after a deliberate change: LORALAB_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q tests/test_cli_help.py"


def command_paths(command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The root and every command and sub-command, as argument tuples (groups have `.commands`;
    typer ships its own click, so this is duck-typed rather than isinstance(click.Group))."""
    paths = [prefix]
    subcommands = getattr(command, "commands", {})
    for name in sorted(subcommands):
        paths += command_paths(subcommands[name], (*prefix, name))
    return paths


PATHS = command_paths(typer.main.get_command(app))


def snapshot_file(path: tuple[str, ...]) -> Path:
    return SNAPSHOTS / ("_".join(("loralab", *path)) + ".txt")


@pytest.fixture
def plain_help(monkeypatch):
    # typer reads the width and colour from the environment at import; pin them for the test
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 100)
    monkeypatch.setattr(typer.rich_utils, "FORCE_TERMINAL", False)
    monkeypatch.setattr(typer.rich_utils, "COLOR_SYSTEM", None)
    return CliRunner()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(("loralab", *p)))
def test_help_matches_its_snapshot(plain_help, path):
    res = plain_help.invoke(app, [*path, "--help"], prog_name="loralab", env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    text = "\n".join(line.rstrip() for line in res.output.splitlines()) + "\n"
    file = snapshot_file(path)
    if UPDATE:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    assert file.exists(), f"no snapshot for `loralab {' '.join(path)} --help`; {REGENERATE}"
    assert text == file.read_text(encoding="utf-8"), REGENERATE


def test_no_snapshot_outlives_its_command():
    expected = {snapshot_file(p).name for p in PATHS}
    if UPDATE:
        for stale in SNAPSHOTS.glob("*.txt"):
            if stale.name not in expected:
                stale.unlink()
    stale = sorted(f.name for f in SNAPSHOTS.glob("*.txt") if f.name not in expected)
    assert not stale, f"snapshots of commands that no longer exist: {stale}; {REGENERATE}"
