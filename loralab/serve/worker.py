"""The one thread that runs the model: takes every job waiting (dynamic batching), groups
them by sampling parameters except the seed and runs each group as one batched `generate`
call; streamed jobs get their text as it decodes. The model is only ever touched by this thread.

Seeds stay out of the batch key: each request carries its own seed (`GenRequest.seed`) and
the transformers backend draws every row from its own seeded generator, so a request's text
does not depend on its batch-mates. Before #13 the seed was part of the key, and unseeded
requests (a random seed each, OpenAI's default) never shared a batch.

With a backend that `joins` (the transformers one), batching is continuous: the jobs
waiting when decoding starts form the batch whatever their sampling settings, and jobs that
arrive while it decodes join it between decode steps, each row with its own max_tokens,
temperature, stops and seed; a finished row's slot goes to the next waiting row. Other
backends get one `generate` call per group of jobs with equal settings. A job whose client
hangs up is cancelled: its rows stop at the next token and free their slots.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field, replace

from loralab.inference.generate import Arrival, GenRequest, SamplingParams, stream_safe
from loralab.serve.protocol import BadRequest, ServeOptions


@dataclass
class Job:
    requests: list[GenRequest]
    params: SamplingParams
    streaming: bool = False
    deadline: float = 0.0
    prompt_tokens: int = 0                                      # for `usage`
    result: list[list[str]] | None = None
    error: Exception | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)  # shared with every request
    done: threading.Event = field(default_factory=threading.Event)
    deltas: queue.Queue = field(default_factory=queue.Queue)   # (choice index, new text) while streaming
    sent: dict[int, str] = field(default_factory=dict)         # choice index -> text already streamed

    def __post_init__(self) -> None:
        self.requests = [replace(r, cancelled=self.cancel_event) for r in self.requests]

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Nobody waits for this job any more: skip it, or stop its rows if it is decoding."""
        self.cancel_event.set()

    def choice(self, i: int, j: int) -> int:
        return i * self.params.n + j

    def on_text(self, i: int, j: int, text: str) -> None:
        """Partial text of (request i, sample j): queue the part that is safe to show."""
        c = self.choice(i, j)
        safe, prev = stream_safe(text, self.params.stop), self.sent.get(c, "")
        if len(safe) > len(prev) and safe.startswith(prev):
            self.sent[c] = safe
            self.deltas.put((c, safe[len(prev):]))


class Worker(threading.Thread):
    """The one thread that runs the model: drains the queue, batches, dispatches results."""

    def __init__(self, generator, opts: ServeOptions):
        super().__init__(name="loralab-generate", daemon=True)
        self.generator, self.opts = generator, opts
        # Bounded by `pending` (jobs whose clients still wait), not by queue length: a job whose
        # client timed out frees its slot at once instead of blocking the queue until dequeued.
        self.jobs: queue.Queue = queue.Queue()
        self.pending = 0
        self.stats = {"batches": 0, "rows": 0}  # generate calls and rows decoded (in /health)
        self._lock = threading.Lock()
        self.streams = generator.streams

    def submit(self, job: Job) -> None:
        """Queue a job, or 503 when queue_size jobs already wait or run for connected clients."""
        with self._lock:
            if self.pending >= self.opts.queue_size:
                raise BadRequest(503, f"server busy: {self.pending} requests already queued; retry shortly",
                                 code="server_busy")
            self.pending += 1
        self.jobs.put(job)

    def release(self) -> None:
        """The client of a job has its answer or gave up: its slot is free (even if it still runs)."""
        with self._lock:
            self.pending -= 1

    def stop(self) -> None:
        self.jobs.put(None)

    def run(self) -> None:
        while (first := self.jobs.get()) is not None:
            batch = self._drain(first)
            stop = None in batch
            live = [j for j in batch if j is not None and not j.cancelled]
            if getattr(self.generator, "joins", False) and not self.opts.seed_in_batch_key:
                stop = self._run_continuous(live) or stop
            else:
                for params, jobs in _group_by_params(live, self.opts.seed_in_batch_key):
                    self._run_group(params, jobs)
            if stop:
                return

    def _run_continuous(self, jobs: list[Job]) -> bool:
        """Continuous batching: every job, whatever its sampling settings, decodes in one running
        batch, and jobs that arrive meanwhile join it between decode steps (each row keeps its
        own max_tokens, temperature, stops and seed). Returns whether the stop sentinel came."""
        stop, joined = False, list(jobs)

        def more() -> list[Arrival]:
            nonlocal stop
            arrivals = []
            while not stop:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                elif not job.cancelled:
                    joined.append(job)
                    arrivals.append(self._arrival(job))
                    self.stats["rows"] += len(job.requests) * job.params.n
            return arrivals

        self.stats["batches"] += 1
        self.stats["rows"] += sum(len(j.requests) * j.params.n for j in jobs)
        try:
            self.generator.run([self._arrival(j) for j in jobs], more=more)
        except Exception as e:  # noqa: BLE001 - a failing batch must never kill the worker
            for j in joined:  # retry the unfinished ones alone: one bad request fails only itself
                if not j.done.is_set():
                    self._run_jobs(j.params, [j]) if len(joined) > 1 else self._fail(j, e)
        return stop

    def _arrival(self, job: Job) -> Arrival:
        def done(outs: list[list[str]]) -> None:
            job.result = outs
            job.done.set()

        on_text = job.on_text if job.streaming and self.streams else None
        return Arrival(job.requests, job.params, done, on_text, failed=lambda e: self._fail(job, e))

    @staticmethod
    def _fail(job: Job, error: Exception) -> None:
        job.error = error
        job.done.set()

    def _drain(self, first: Job) -> list[Job | None]:
        """The first job plus every job that follows it closely: keep taking jobs while the
        next one comes within batch_wait_s of the last, for at most 10 x batch_wait_s. A burst
        of clients arrives spread over tens of milliseconds (one HTTP thread each), and a
        job that misses the batch waits for all of it."""
        batch = [first]
        until = time.monotonic() + 10 * self.opts.batch_wait_s
        while len(batch) < self.opts.max_batch and batch[-1] is not None:
            wait = min(self.opts.batch_wait_s, until - time.monotonic())
            try:
                batch.append(self.jobs.get(timeout=wait) if wait > 0 else self.jobs.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run_group(self, params: SamplingParams, jobs: list[Job]) -> None:
        """Generate for jobs sharing params, at most max_batch rows per call; isolate a failing job."""
        rows_per_job = [len(j.requests) * params.n for j in jobs]
        start = 0
        while start < len(jobs):
            end, rows = start + 1, rows_per_job[start]
            while end < len(jobs) and rows + rows_per_job[end] <= self.opts.max_batch:
                rows, end = rows + rows_per_job[end], end + 1
            self._run_jobs(params, jobs[start:end])
            start = end

    def _run_jobs(self, params: SamplingParams, jobs: list[Job]) -> None:
        requests = [r for j in jobs for r in j.requests]
        owner = [(j, i) for j in jobs for i in range(len(j.requests))]  # global request index -> (job, local)
        kwargs = {}
        if self.streams and any(j.streaming for j in jobs):
            kwargs["on_text"] = lambda g, s, text: owner[g][0].on_text(owner[g][1], s, text) if owner[g][0].streaming else None
        self.stats["batches"] += 1
        self.stats["rows"] += len(requests) * params.n
        try:
            outs = self.generator.generate(requests, params, **kwargs)
        except Exception as e:  # noqa: BLE001 - a failing batch must never kill the worker
            if len(jobs) > 1:  # one bad request must not fail its batch-mates: retry each alone
                for j in jobs:
                    self._run_jobs(params, [j])
                return
            jobs[0].error = e
            jobs[0].done.set()
            return
        pos = 0
        for j in jobs:
            j.result, pos = outs[pos:pos + len(j.requests)], pos + len(j.requests)
            j.done.set()


def _group_by_params(jobs: list[Job], with_seed: bool = False) -> list[tuple[SamplingParams, list[Job]]]:
    """Jobs by sampling settings except the seed (each request carries its own); `with_seed`
    keys on the seed too, as before #13 (kept to measure the difference)."""
    groups: dict[SamplingParams, list[Job]] = {}
    for j in jobs:
        groups.setdefault(j.params if with_seed else replace(j.params, seed=0), []).append(j)
    return list(groups.items())
