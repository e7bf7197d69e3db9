"""What `loralab eval` reports while it works (eval/progress.py): generated problems per system
after each batch, sandbox verdicts per sample. The counts, not the rendering."""

from __future__ import annotations

import time

from loralab.config import load_config
from loralab.eval.sandbox import Limits, check_many
from loralab.eval.sweep import System, check_all, generate_all
from loralab.eval.tasks import get_task
from loralab.inference.cache import CachedGenerator
from loralab.inference.generate import SamplingParams


class Echo:
    """A backend that answers each request with its key; counts its calls."""

    name, tok, adapters, router, streams = "echo", None, {"a": "a", "b": "b"}, None, False

    def __init__(self):
        self.batches: list[int] = []

    def identity(self, adapter):
        return f"echo/{adapter}"

    def generate(self, requests, params, on_text=None):
        self.batches.append(len(requests))
        return [[f"# {r.key}\n"] * params.n for r in requests]


class Recorder:
    def __init__(self):
        self.gen: list[tuple] = []
        self.check: list[tuple] = []

    def generated(self, task, system, done, total):
        self.gen.append((task, system, done, total))

    def checked(self, task, done, total):
        self.check.append((task, done, total))


def test_generation_reports_each_system_after_each_batch(tmp_path):
    task = get_task("pytasks")
    problems = task.problems()[:5]
    systems = [System("a", 1, "a"), System("b", 2, "b")]
    gen = CachedGenerator(Echo(), tmp_path / "cache.jsonl", chunk=3)
    seen = Recorder()
    out = generate_all(task, problems, systems, {"a": (gen, "a"), "b": (gen, "b")}, SamplingParams(n=1),
                       "completion", seen)
    # 10 requests in chunks of 3: [a a a] [a a b] [b b b] [b]
    assert seen.gen == [("pytasks", "a", 3, 5), ("pytasks", "a", 5, 5), ("pytasks", "b", 1, 5),
                        ("pytasks", "b", 4, 5), ("pytasks", "b", 5, 5)]
    assert gen.inner.batches == [3, 3, 3, 1]
    assert [c[0] for c in out["b"]] == [f"# b:{p.task_id}\n" for p in problems]  # order kept across chunks
    again = Recorder()  # all cached: still reported, with no backend call
    generate_all(task, problems, systems, {"a": (gen, "a"), "b": (gen, "b")}, SamplingParams(n=1), "completion", again)
    assert again.gen == seen.gen and gen.inner.batches == [3, 3, 3, 1]


def test_sandbox_reports_every_verdict_with_the_total(tmp_path):
    task = get_task("pytasks")
    problems = task.problems()[:2]
    good = problems[0].meta["solution"]
    completions = {"a": [[good, "x = 1\n"], ["pass\n", "pass\n"]], "b": [[good, good], ["y\n", "pass\n"]]}
    seen = Recorder()
    cfg = load_config(None, ["eval.workers=2"])
    records = check_all(task, problems, completions, cfg, seen)
    assert len(records) == 8 and [c[1] for c in seen.check] == list(range(1, 9))
    assert {(c[0], c[2]) for c in seen.check} == {("pytasks", 8)}
    assert sum(r["passed"] for r in records) == 3


def test_check_many_counts_in_completion_order():
    # the slow first program must not hold back the count of the fast ones behind it
    slow, fast = "import time\ntime.sleep(6)\n", "pass\n"
    stamps: list[tuple[int, float]] = []
    start = time.monotonic()
    verdicts = check_many([slow, fast, fast, fast], workers=2, limits=Limits(timeout=20),
                          progress=lambda done: stamps.append((done, time.monotonic() - start)))
    assert [v.passed for v in verdicts] == [True] * 4  # input order kept
    assert [d for d, _ in stamps] == [1, 2, 3, 4]
    assert stamps[2][1] < stamps[3][1] - 1.5  # three fast ones counted well before the slow one ends
