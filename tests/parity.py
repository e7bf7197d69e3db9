"""The reference packages our agreement tests compare against (the `parity` extra).

`make test` installs them, so a missing one is a broken test install, not a reason to skip:
a parity test that skips silently in CI checks nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def reference(module: str) -> ModuleType:
    """Import a reference package or fail naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail(f"parity reference {module!r} is not installed ({e}); "
                    "install the test extras: pip install -e '.[dev,parity]' (make test does)")
