"""Where a study's runs execute: here, one after another (`local`, the default), or as Ray tasks
(`ray`), on a Ray instance started for the study or on a cluster it attaches to (`--address`).

Stages talk through files, so a run executed elsewhere needs only its resolved config and the
study directory; on a cluster that directory must be on storage every node mounts at the same
path (docs/ray.md). What runs share is safe with concurrent writers: prepared data and the
generation cache are guarded by lock files (io.file_lock), everything else a run writes is its
own (runs/NAME/), and study.json, comparisons.json and meta.json are written by the driver alone.

A Ray task asks for the resources its run needs (`run_resources`): one GPU when the run's model
goes to CUDA (device cuda, or auto on a cluster that has GPUs), else none, and `cpus` CPUs.
With a cluster attached, each run's sandbox checks fan out as Ray tasks too (`RayChecker`).
Resuming is unchanged: a task that finds its run trained and evaluated returns at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from loralab.errors import LoralabError

EXECUTORS = ("local", "ray")


@dataclass
class StudyJob:
    """One unit of a study: `fn(*args)` with the resources it needs."""

    name: str
    fn: Callable[..., Any]
    args: tuple = ()
    cpus: float = 1
    gpus: float = 0
    kwargs: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    name: str
    cpus: float  # what each run's task asks for

    def run(self, jobs: list[StudyJob], on_done: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Run every job; results by job name; `on_done(name)` as each finishes."""
        ...

    def checker(self) -> Callable | None:
        """What a run's evaluation judges completions with (None: the local sandbox pool)."""
        ...

    def gpus_available(self) -> bool:
        ...

    def start(self) -> None:
        """Attach to where the runs will execute; called once the study file checked out, before
        anything is written, so a cluster that cannot be reached leaves no study behind."""
        ...


class LocalExecutor:
    """In this process, in order: the serial study."""

    name, cpus = "local", 1

    def run(self, jobs: list[StudyJob], on_done: Callable[[str], None] | None = None) -> dict[str, Any]:
        out = {}
        for job in jobs:
            out[job.name] = job.fn(*job.args, **job.kwargs)
            if on_done:
                on_done(job.name)
        return out

    def checker(self) -> Callable | None:
        return None

    def gpus_available(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def start(self) -> None:
        pass


class RayExecutor:
    """Every job a Ray task; the first failure cancels the others (as a kill would: the next run
    of the study resumes them) and is raised as the job's own error."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus: float = 1):
        import_ray()  # a missing extra or a malformed address is refused before any work
        if address is not None and not _address_ok(address):
            raise LoralabError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
        self.address, self.cpus = address, cpus
        self.owns, self.started = False, False

    def start(self) -> None:
        if self.started:
            return
        ray = import_ray()
        self.owns = not ray.is_initialized()  # a Ray instance we started is shut down after the study
        connect(ray, self.address)
        self.started = True

    def run(self, jobs: list[StudyJob], on_done: Callable[[str], None] | None = None) -> dict[str, Any]:
        self.start()
        ray = import_ray()
        cwd = os.getcwd()
        refs = {}
        for job in jobs:
            task = ray.remote(num_cpus=job.cpus, num_gpus=job.gpus, max_retries=0)(in_dir)
            refs[task.options(name=f"loralab:{job.name}").remote(cwd, job.fn, job.args, job.kwargs)] = job.name
        out, pending = {}, list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                name = refs[done[0]]
                out[name] = get(ray, done[0], name)
                if on_done:
                    on_done(name)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return out

    def checker(self) -> Callable | None:
        return RayChecker() if self.address else None

    def gpus_available(self) -> bool:
        self.start()
        return import_ray().cluster_resources().get("GPU", 0) > 0

    def close(self) -> None:
        if self.owns:
            import_ray().shutdown()
            self.owns = self.started = False


def in_dir(cwd: str, fn: Callable, args: tuple, kwargs: dict):
    """Run `fn` in the driver's working directory, so relative paths in a study file mean the
    same on a worker (on a cluster: when the node mounts it at the same path)."""
    if os.path.isdir(cwd):
        os.chdir(cwd)
    return fn(*args, **kwargs)


def get(ray, ref, name: str):
    """A task's result; a user error inside it comes back as that error, naming the job."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, LoralabError):
            raise LoralabError(f"{name}: {cause}") from None
        raise


# ----------------------------------------------------------------------------- sandbox checks


class RayChecker:
    """check_many's interface, each chunk of programs a Ray task on one CPU of the cluster;
    verdicts in input order, `progress(done)` as chunks finish."""

    def __init__(self, chunk: int = 16):
        self.chunk = chunk

    def __call__(self, programs, workers=None, limits=None, progress=None) -> list:
        from loralab.eval.sandbox import Limits, check_many

        ray = import_ray()
        programs = list(programs)
        remote = ray.remote(num_cpus=1, max_retries=1)(check_many)
        parts = [programs[i:i + self.chunk] for i in range(0, len(programs), self.chunk)]
        refs = [remote.remote(part, workers=1, limits=limits or Limits()) for part in parts]
        index = {ref: i for i, ref in enumerate(refs)}
        verdicts: list[list] = [[] for _ in parts]
        pending, done_count = list(refs), 0
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            verdicts[index[done[0]]] = ray.get(done[0])
            done_count += len(parts[index[done[0]]])
            if progress:
                progress(done_count)
        return [v for part in verdicts for v in part]


# ----------------------------------------------------------------------------- choosing one


def run_resources(device: str, gpus_available: bool, cpus: float) -> dict[str, float]:
    """What a run's Ray task asks for: a GPU when its model goes to CUDA, and `cpus` CPUs."""
    wants_gpu = device == "cuda" or (device == "auto" and gpus_available)
    return {"cpus": cpus, "gpus": 1 if wants_gpu else 0}


def make_executor(name: str, address: str | None = None, cpus: float = 1) -> LocalExecutor | RayExecutor:
    """`--executor` and `--address` -> an executor; a bad combination is one error."""
    if name not in EXECUTORS:
        raise LoralabError(f"--executor {name!r}: expected one of {', '.join(EXECUTORS)}")
    if name == "local":
        if address:
            raise LoralabError("--address: only with --executor ray (the local executor runs in this process)")
        return LocalExecutor()
    return RayExecutor(address, cpus)


def import_ray():
    try:
        import ray
    except ImportError:
        raise LoralabError("--executor ray needs Ray: pip install 'loralab[ray]' (or pip install ray)") from None
    return ray


def connect(ray, address: str | None) -> None:
    """Attach to `address` ('auto', 'HOST:PORT' or 'ray://HOST:PORT'), or start a local instance."""
    if address not in (None, "auto"):
        _reachable(address)  # Ray itself retries an unreachable head for a minute or more
    try:
        ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=True,
                 configure_logging=False)
    except Exception as e:  # whatever Ray raises (ConnectionError, RpcError, ...): the cluster is the user's to fix
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        where = f"--address {address}: cannot attach to a Ray cluster" if address else "cannot start a local Ray instance"
        raise LoralabError(f"{where} ({first})") from None


def _address_ok(address: str) -> bool:
    if address == "auto":
        return True
    rest = address.removeprefix("ray://")
    host, _, port = rest.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def _reachable(address: str, timeout: float = 5.0) -> None:
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise LoralabError(f"--address {address}: cannot attach to a Ray cluster (nothing answers at "
                           f"{host}:{port}: {e.strerror or e}); start one with `ray start --head`") from None
