"""Progress of `loralab eval`: requests generated per system, samples checked per task.

The sweep reports through two callbacks (`EvalProgress`), so what it reports is tested
without a terminal; `bars()` draws them with rich on stderr, and only when stderr is a
terminal: CI logs, pipes and `--json` consumers see nothing of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol


class EvalProgress(Protocol):
    def generated(self, task: str, system: str, done: int, total: int) -> None:
        """`done` of `total` problems of `system` on `task` have their completions (after each batch)."""
        ...

    def checked(self, task: str, done: int, total: int) -> None:
        """`done` of `total` samples of `task` (every system) have a sandbox verdict."""
        ...


@dataclass
class RichBars:
    """One bar per (task, system) for generation and one per task for the sandbox."""

    progress: object
    ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def _bar(self, key: tuple[str, str], label: str, done: int, total: int) -> None:
        if key not in self.ids:
            self.ids[key] = self.progress.add_task(label, total=total)
        self.progress.update(self.ids[key], completed=done, total=total)

    def generated(self, task: str, system: str, done: int, total: int) -> None:
        self._bar(("gen", f"{task}/{system}"), f"generate {task} · {system}", done, total)

    def checked(self, task: str, done: int, total: int) -> None:
        self._bar(("check", task), f"sandbox  {task}", done, total)


@contextmanager
def bars(enabled: bool | None = None) -> Iterator[EvalProgress | None]:
    """Rich progress bars on stderr when it is a terminal (or `enabled`); else None."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        yield RichBars(progress)
