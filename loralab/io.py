"""File helpers every stage uses: atomic writes, strict JSON/JSONL reading, hashes, meta.json.

Stages talk through files, so a half-written file is a lie another stage will believe.
Every writer here writes to a temporary file (or directory) beside its target, fsyncs it,
and renames it into place (rename is atomic on POSIX); a directory is swapped with the old
copy moved aside first, so a kill at any instant leaves the old or the new version whole.
Whatever a kill leaves beside a target is cleaned up, or restored, by its next write or
read (`recover`). Every reader names the file and line it choked on.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from loralab.errors import LoralabError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; fsync it and rename it onto `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = _sibling(path, "tmp")
    tmp.touch()
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # results are meant to be shared
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)  # the rename itself is durable only once the directory is
    finally:
        _OURS.discard(tmp)
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name; swap it into place only on success.

    A kill at any instant leaves `path` holding either the old directory or the new one,
    complete; what the kill left beside it is cleaned up (or restored) by the next write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = _sibling(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        swap_dir(tmp, path)
    finally:
        _OURS.discard(tmp)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def swap_dir(new: str | Path, path: str | Path) -> None:
    """Put the complete directory `new` at `path`, replacing what is there without a gap a kill could hit.

    Old aside, new in, old removed: a kill before the second rename leaves the old copy
    under an aside name that `recover` puts back; after it, `path` is the new copy.
    Deleting the old one first (the obvious way) loses both if the kill falls in between.
    """
    new, path = Path(new), Path(path)
    fsync_tree(new)  # the new files must be on disk before a rename can make them visible
    aside = None
    if path.exists():
        aside = _sibling(path, "old")
        os.rename(path, aside)
    try:
        os.rename(new, path)
    except BaseException:
        if aside is not None:  # an error, not a kill: put the old one back before reporting it
            os.rename(aside, path)
        raise
    fsync_dir(path.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
        _OURS.discard(aside)


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on the lock file `path` (created if missing) until the block ends.

    For read-modify-write of a file several processes share (a study's generation cache, its
    prepared data), where an atomic rename alone would let the last writer drop the others'
    additions. flock(2): the kernel releases it when its holder dies, so a killed writer never
    leaves a study locked; Linux maps it onto POSIX locks on NFS, so Ray workers on several
    nodes sharing the study directory exclude each other too. Threads of one process each
    open their own descriptor, so they exclude each other as well.
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def lock_path(path: str | Path) -> Path:
    """The lock file that guards `path`: a hidden sibling, .NAME.lock."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


# ----------------------------------------------------------------------------- leftovers of a kill

# .NAME.PID.RAND.tmp (being written) and .NAME.PID.RAND.old (the previous copy, mid-swap)
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.(?P<kind>tmp|old)$")
_OURS: set[Path] = set()  # leftovers of writes still in progress in this process


def _sibling(path: Path, kind: str) -> Path:
    """A fresh hidden name next to `path` that says whose it is (the writer's pid)."""
    out = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}"
    _OURS.add(out)
    return out


def _writer_alive(leftover: Path, pid: int) -> bool:
    """A leftover whose writer still runs is in use. Our own pid may be a reused one (a container
    gives every run the same pid), so for it only the writes this process started count."""
    if pid == os.getpid():
        return leftover in _OURS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftovers(path: str | Path) -> list[Path]:
    """Temp and aside copies of `path` left by writers that are gone (killed), newest first."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    # also .NAME.XXXXXXXX.tmp, the tempfile names loralab used before temps carried a pid
    mine = re.compile(rf"^\.{re.escape(path.name)}\.(?:(?P<pid>\d+)\.[0-9a-f]{{8}}\.(?:tmp|old)|[a-z0-9_]{{8}}\.tmp)$")
    found = []
    for entry in path.parent.iterdir():
        m = mine.match(entry.name)
        if m and not (m["pid"] and _writer_alive(entry, int(m["pid"]))):
            found.append(entry)
    return sorted(found, key=_mtime, reverse=True)


def _mtime(path: Path) -> int:
    try:
        return path.lstat().st_mtime_ns
    except FileNotFoundError:  # another process cleaned it up meanwhile
        return 0


def recover(path: str | Path) -> bool:
    """Undo what a killed writer left beside `path`; True if it restored `path` from its aside copy.

    An aside copy is the complete old version, moved away a moment before the new one was to
    take its place; if `path` is missing, the kill fell between the two renames, so the aside
    goes back. Temp copies may be half-written: they are only ever deleted.
    """
    path = Path(path)
    restored = False
    for entry in leftovers(path):
        if entry.name.endswith(".old") and not os.path.lexists(path):
            with contextlib.suppress(FileNotFoundError):  # another process (rank) restored it first
                os.rename(entry, path)
                fsync_dir(path.parent)
                restored = True
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return restored


def recover_all(directory: str | Path) -> None:
    """`recover` every entry of `directory` that a killed writer left something beside."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    names = {m["name"] for e in directory.iterdir() if (m := _LEFTOVER.match(e.name))}
    for name in sorted(names):
        recover(directory / name)


def _restore_missing(path: Path) -> bool:
    """A file missing because a directory above it is mid-swap after a kill: restore that directory."""
    for parent in [path, *path.parents]:
        if parent.exists():
            return False
        if recover(parent):
            return True
    return False


# ----------------------------------------------------------------------------- fsync


def fsync_file(path: str | Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path: str | Path) -> None:
    """Make renames and new entries in `path` durable (POSIX; a no-op where directories cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # filesystems that cannot sync a directory
            raise
    finally:
        os.close(fd)


def fsync_tree(root: str | Path) -> None:
    """fsync every file and directory under `root`, children before parents."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                fsync_file(full)
        fsync_dir(dirpath)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_text(path: str | Path) -> str:
    """A UTF-8 text file; a missing file, a directory or bad bytes is one clear error."""
    path = Path(path)
    if not path.exists():
        _restore_missing(path)  # a kill mid-swap may have left the directory holding it aside
    if not path.exists():
        raise LoralabError(f"{path}: no such file")
    if path.is_dir():
        raise LoralabError(f"{path}: is a directory, expected a file")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise LoralabError(
            f"{path}:{line}: not valid UTF-8 (byte {e.start}); re-encode the file as UTF-8"
        ) from None


def read_jsonl(path: str | Path) -> list[dict]:
    """Every line a JSON object; blank lines skipped; errors name file and line."""
    path = Path(path)
    rows = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise LoralabError(f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise LoralabError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def read_json(path: str | Path) -> Any:
    path = Path(path)
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise LoralabError(f"{path}:{e.lineno}: malformed JSON ({e.msg} at column {e.colno})") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour changes results."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("loralab", "torch", "transformers", "peft", "accelerate", "datasets"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def write_meta(out_dir: str | Path, *, stage: str, seed: int | None = None,
               inputs: dict[str, str] | None = None, started: float | None = None,
               extra: dict | None = None) -> Path:
    """The small meta.json every artifact directory holds: versions, seed, input hashes, timing."""
    meta = {
        "stage": stage,
        "seed": seed,
        "inputs": inputs or {},
        "versions": versions(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if started is not None:
        meta["seconds"] = round(time.time() - started, 3)
    if extra:
        meta.update(extra)
    return write_json(Path(out_dir) / "meta.json", meta)
