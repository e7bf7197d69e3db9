"""A generation cache: completions keyed by (model identity, task, prompt, sampling params).

`CachedGenerator(inner, path)` answers cached requests from an append-only JSONL file and
sends only the misses to `inner`, in chunks, appending each chunk as soon as it is done; an
evaluation killed halfway resumes where it stopped. The model identity includes a hash of
the base's files and of the adapter directory a request uses, so a retrained adapter under
the same path never returns stale completions.

Crash safety: every chunk is appended as whole lines, flushed and fsync'ed. A process killed
mid-write leaves at most one torn last line; loading ignores it and the next append first
truncates it, so it can never glue itself onto a good line.

Several writers (the runs of a study executed as Ray tasks share one cache): every append
holds the cache's lock file (io.file_lock), reads the lines others appended since this
process last looked, and writes only keys nobody wrote meanwhile; a key two processes
generated at once keeps the completions written first, and both return those. Each
`generate` call first takes in others' lines, so work another run finished is a hit.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from loralab.errors import LoralabError
from loralab.inference.generate import Generator, GenRequest, OnText, SamplingParams
from loralab.io import file_lock, lock_path, sha256_text


class CachedGenerator:
    """Wrap `inner`; same interface; `calls` counts requests that really reached `inner`."""

    def __init__(self, inner: Generator, path: str | Path, *, task: str = "", chunk: int = 32):
        self.inner, self.path, self.task, self.chunk = inner, Path(path), task, chunk
        self.name, self.tok, self.adapters, self.router = inner.name, inner.tok, inner.adapters, inner.router
        self.streams = inner.streams  # cache hits are reported once, as a non-streaming backend does
        self.calls = 0
        self._lock = threading.Lock()
        self._entries: dict[str, list[str]] = {}
        self._offset, self._lineno = 0, 0  # bytes and lines of the file taken in so far (whole lines)
        self._refresh()

    def identity(self, adapter: str | None) -> str:
        return self.inner.identity(adapter)

    def key(self, req: GenRequest, params: SamplingParams) -> str:
        """sha256 of (model identity, task, prompt or messages, sampling identity). Changing
        what goes in here orphans every cache already on disk (tests/inference/test_cache.py)."""
        ident = self.inner.identity(req.adapter)
        body = {"model": ident, "task": self.task, "prompt": req.prompt,
                "messages": list(req.messages) if req.messages is not None else None, "params": req.sampling(params).identity()}
        return sha256_text(json.dumps(body, sort_keys=True, ensure_ascii=False))

    def generate(self, requests: list[GenRequest], params: SamplingParams,
                 on_text: OnText | None = None) -> list[list[str]]:
        keys = [self.key(r, params) for r in requests]
        self._refresh()  # what other processes sharing the file finished meanwhile is a hit too
        todo = [i for i, k in enumerate(keys) if k not in self._entries]
        for start in range(0, len(todo), self.chunk):
            part = todo[start:start + self.chunk]
            relay = (lambda i, j, text, part=part: on_text(part[i], j, text)) if on_text else None
            batch = [requests[i] for i in part]
            outs = self.inner.generate(batch, params, on_text=relay) if relay else self.inner.generate(batch, params)
            self.calls += len(part)
            self._append([(keys[i], requests[i].key, o) for i, o in zip(part, outs, strict=True)])
        done = set(todo)
        if on_text is not None:
            for i, k in enumerate(keys):
                if i not in done:
                    for j, text in enumerate(self._entries[k]):
                        on_text(i, j, text)
        return [list(self._entries[k]) for k in keys]

    # ------------------------------------------------------------------------- file

    def _refresh(self) -> None:
        """Take in the whole lines appended since the last look (by this process or another)."""
        if not self.path.exists():
            return
        with self._lock, open(self.path, "rb") as f:
            self._take_in(f)

    def _take_in(self, f) -> None:
        """Read `f` from the last offset; an unterminated tail is a writer mid-line, or a killed
        one's torn line (truncated by the next append): never taken in, the offset stays before it."""
        f.seek(self._offset)
        data = f.read()
        whole = data[:data.rfind(b"\n") + 1]
        for line in whole.split(b"\n")[:-1]:
            self._lineno += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                self._entries.setdefault(row["key"], row["completions"])
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
                raise LoralabError(f"{self.path}:{self._lineno}: not a generation-cache line; "
                                   "delete the file to start over") from None
        self._offset += len(whole)

    def _append(self, rows: list[tuple[str, str, list[str]]]) -> None:
        with self._lock, file_lock(lock_path(self.path)):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab+") as f:
                self._take_in(f)  # others' appends first: a key written meanwhile is not written twice
                _drop_torn_tail(f)
                fresh = [(k, rk, c) for k, rk, c in rows if k not in self._entries]
                f.write("".join(json.dumps({"key": k, "request": rk, "completions": c}, ensure_ascii=False) + "\n"
                                for k, rk, c in fresh).encode())
                f.flush()
                os.fsync(f.fileno())
                self._offset, self._lineno = f.tell(), self._lineno + len(fresh)
            for k, _, c in fresh:
                self._entries[k] = c


def _drop_torn_tail(f) -> None:
    """Truncate a last line that lacks its newline (left by a killed writer)."""
    size = f.seek(0, os.SEEK_END)
    end = size
    while end > 0:  # walk back in 64 KiB blocks to the last newline
        start = max(0, end - (1 << 16))
        f.seek(start)
        block = f.read(end - start)
        cut = block.rfind(b"\n")
        if cut != -1:
            end = start + cut + 1
            break
        end = start
    if end != size:
        f.truncate(end)
    f.seek(0, os.SEEK_END)
