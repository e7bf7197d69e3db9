"""What every benchmark shares: interleaved runs, median and spread, the machine's state, one results file.

A shared machine's load comes and goes; timing all baseline runs and then all loralab runs
lets a burst of load land on one side only. `interleave` runs them A B A B ..., so each pair
sees about the same machine, and the figure reported is the median of the pairwise ratios,
with their min and max as the spread. The environment record (threads, load average, CPU,
torch version, date) goes into every results file so a figure can be judged by the machine
that made it. `emit` prints one JSON line and writes benchmarks/results/NAME.json atomically;
`scripts/bench_table.py` merges those files into benchmarks/results.json and the docs table.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"

Run = dict  # one timed run's figures, e.g. {"rate": tokens/s, "outputs": [...]}


def spread(values: Sequence[float], digits: int = 3) -> dict:
    """{"median", "min", "max", "n"} of `values` (median, not mean: one loaded run should not move it)."""
    if not values:
        raise ValueError("spread of no values")
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}


def pair_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """b[i] / a[i] for each interleaved pair: > 1 means B (loralab) is faster when the figure is a rate."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} baseline runs but {len(b)} loralab runs")
    return [y / x for x, y in zip(a, b, strict=True)]


@dataclass
class Interleaved:
    """The runs of both sides, in the order they were paired."""

    a: list[Run] = field(default_factory=list)
    b: list[Run] = field(default_factory=list)

    def summary(self, key: str = "rate") -> dict:
        """Each side's spread of `key`, and the spread of the pairwise ratios b/a."""
        xa, xb = [r[key] for r in self.a], [r[key] for r in self.b]
        return {"baseline": spread(xa), "loralab": spread(xb), "ratio": spread(pair_ratios(xa, xb))}


def interleave(a_fn: Callable[[], Run], b_fn: Callable[[], Run], pairs: int = 3) -> Interleaved:
    """Run A B A B ... `pairs` times; each call returns its figures as a dict."""
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    runs = Interleaved()
    for _ in range(pairs):
        runs.a.append(a_fn())
        runs.b.append(b_fn())
    return runs


def check_outputs(a: Sequence, b: Sequence, tol: float, what: str = "outputs") -> int:
    """Raise SystemExit naming the first difference when `a` and `b` disagree beyond `tol`.

    Numbers: |a_i - b_i| <= tol for every i. Anything else (texts, verdicts): the fraction of
    positions that differ must be <= tol. Returns how many positions are exactly equal.
    """
    if len(a) != len(b):
        raise SystemExit(f"error: {what} differ in length: baseline {len(a)}, loralab {len(b)}")
    same = sum(x == y for x, y in zip(a, b, strict=True))
    if all(isinstance(x, int | float) for x in [*a, *b]):
        worst = max((abs(x - y), i) for i, (x, y) in enumerate(zip(a, b, strict=True))) if a else (0.0, -1)
        if worst[0] > tol:
            i = worst[1]
            raise SystemExit(f"error: {what} differ beyond tolerance {tol}: at {i} baseline {a[i]!r}, loralab {b[i]!r}")
        return same
    if a and (len(a) - same) / len(a) > tol:
        i = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
        raise SystemExit(f"error: {what} differ at {len(a) - same} of {len(a)} positions (tolerance {tol:.0%}); "
                         f"first at {i}: baseline {str(a[i])[:120]!r}, loralab {str(b[i])[:120]!r}")
    return same


def environment() -> dict:
    """The machine's state now: threads, load average, CPU, versions, date (UTC)."""
    import torch

    from loralab.machine import cpu_model

    return {"threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "load_avg": [round(x, 2) for x in os.getloadavg()], "cpu": cpu_model(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__, "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def emit(name: str, figures: dict, results_dir: Path = RESULTS_DIR) -> Path:
    """Print `figures` as one JSON line and write them to results_dir/NAME.json (atomically)."""
    line = json.dumps(figures, sort_keys=False)
    print(line, flush=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    tmp = path.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one
    return path


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MiB.

    Not ru_maxrss: on Linux a child started by fork + exec inherits its parent's ru_maxrss, so a
    small child of a large parent would report the parent's peak. VmHWM belongs to the process's
    own address space and starts from zero at exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: the best figure there is

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(script: str | Path, *args: str) -> dict:
    """Run `python script *args` in a fresh process; the dict its last stdout line holds as JSON.

    Memory comparisons run each side in its own process, so one side's peak (or the allocator's
    retained pages) never counts against the other. A child that fails stops the benchmark with
    the end of its stderr.
    """
    import subprocess
    import sys

    res = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=False)
    if res.returncode != 0 or not res.stdout.strip():
        raise SystemExit(f"error: child {Path(script).name} {' '.join(args)[:200]} failed "
                         f"(exit {res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])
