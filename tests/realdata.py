"""Paths of the project and of the real data beside it (`../shared/data`), for every test module.

A module of its own, not conftest.py: pytest loads several conftest modules (tests/ and
tests/train/), so `from conftest import ...` would pick whichever was imported first.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_file(rel: str) -> Path:
    """A file from ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"real data {rel} is absent (expected at {path})")
    return path


def load_script(path: Path, name: str | None = None):
    """A script of the repository (scripts/, benchmarks/) imported as a module, for tests of its functions."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
