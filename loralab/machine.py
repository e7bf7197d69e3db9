"""What CPU this is, read once from /proc/cpuinfo (Linux); elsewhere what `platform` knows."""

from __future__ import annotations

import functools
import platform


@functools.cache
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's model name, e.g. "AMD EPYC"."""
    line = next((ln for ln in _cpuinfo().splitlines() if ln.startswith("model name")), None)
    return line.split(":", 1)[1].strip() if line else (platform.processor() or platform.machine())


def cpu_flags() -> set[str]:
    """The first core's feature flags (empty where /proc/cpuinfo is missing)."""
    line = next((ln for ln in _cpuinfo().splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[1].split()) if line else set()
