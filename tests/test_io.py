"""Atomic writes under SIGKILL: a kill at every step of a write leaves the old or the new
version whole, and the next read or write leaves no temp or aside copy behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loralab import io
from loralab.errors import LoralabError

ROOT = Path(__file__).resolve().parents[1]

# Runs one write in a child that dies (os._exit: no finally, no cleanup, like SIGKILL) just
# before its `kill_at`-th filesystem step; prints how many steps a whole write takes.
WRITER = textwrap.dedent("""
    import os, shutil, sys
    from pathlib import Path
    from loralab import io

    kill_at, target, version, mode = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    steps = 0

    def step(fn):
        def wrapped(*args, **kwargs):
            global steps
            if steps == kill_at:
                os._exit(137)
            steps += 1
            return fn(*args, **kwargs)
        return wrapped

    for mod, name in [(os, "rename"), (os, "replace"), (os, "fsync"), (os, "mkdir"), (os, "unlink"),
                      (shutil, "rmtree"), (Path, "write_text")]:
        setattr(mod, name, step(getattr(mod, name)))
    if mode == "dir":
        with io.atomic_dir(target) as tmp:
            for i in range(3):
                io.write_text(tmp / f"part{i}.txt", version * 100)
    else:
        io.write_text(target, version * 100)
    print(steps)
""")


def write(target: Path, version: str, mode: str, kill_at: int = -1) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", WRITER, str(kill_at), str(target), version, mode],
                          env=env, capture_output=True, text=True, timeout=60)


def version_of(target: Path, mode: str) -> str:
    """'a' or 'b' if `target` holds that version whole; fails on anything torn or mixed."""
    texts = [io.read_text(target / f"part{i}.txt") for i in range(3)] if mode == "dir" else [io.read_text(target)]
    assert len(set(texts)) == 1 and texts[0] in ("a" * 100, "b" * 100), f"torn: {[t[:5] for t in texts]}"
    if mode == "dir":
        assert sorted(p.name for p in target.iterdir()) == ["part0.txt", "part1.txt", "part2.txt"]
    return texts[0][0]


def litter(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.rglob(".*"))


@pytest.mark.parametrize("mode", ["dir", "file"])
def test_a_kill_at_every_step_leaves_old_or_new_and_no_litter(tmp_path, mode):
    target = tmp_path / "out" / ("result" if mode == "dir" else "result.txt")
    full = write(target, "a", mode)
    assert full.returncode == 0, full.stderr
    n_steps = int(full.stdout)
    assert n_steps >= (8 if mode == "dir" else 3)  # fsyncs, the renames of the swap, the removal
    seen = set()
    for kill_at in range(n_steps):
        killed = write(target, "b", mode, kill_at)
        assert killed.returncode == 137, (kill_at, killed.stderr)
        seen.add(version_of(target, mode))  # a read after the kill finds a whole version
        assert write(target, "a" if kill_at % 2 else "b", mode).returncode == 0
        assert version_of(target, mode) == ("a" if kill_at % 2 else "b")
        assert litter(tmp_path) == [], f"kill before step {kill_at} left litter"
    assert seen == {"a", "b"}  # early kills keep the old version, late ones the new


def test_a_directory_caught_mid_swap_is_restored_on_read_and_write(tmp_path):
    target = tmp_path / "result"
    assert write(target, "a", "dir").returncode == 0
    # find the step between "old aside" and "new in": the one after which `target` is missing
    for kill_at in range(int(write(target, "a", "dir").stdout)):
        write(target, "b", "dir", kill_at)
        if not target.exists():
            break
        assert write(target, "a", "dir").returncode == 0
    else:
        pytest.fail("no kill left the target moved aside; the swap renames old aside first")
    asides = [p.name for p in tmp_path.iterdir() if p.name.endswith(".old")]
    assert len(asides) == 1 and asides[0].startswith(".result.")
    assert io.read_text(target / "part0.txt") == "a" * 100  # the read put the old version back
    assert litter(tmp_path) == []


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recover_spares_live_writers_and_drops_dead_ones(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("{}")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".x.json.{sleeper.pid}.0123abcd.tmp"
        dead = tmp_path / f".x.json.{dead_pid()}.0123abcd.tmp"
        ours_stale = tmp_path / f".x.json.{os.getpid()}.0123abcd.tmp"  # a reused pid: not a write of ours
        legacy = tmp_path / ".x.json.k2j_8xq1.tmp"  # tempfile's name, before temps carried a pid
        other = tmp_path / f".x.jsonl.{dead_pid()}.0123abcd.tmp"  # a different file's temp
        for p in (live, dead, ours_stale, legacy, other):
            p.write_text("partial")
        io.write_json(target, {"k": 1})
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "x.json"])
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_temp_is_never_restored_only_an_aside(tmp_path):
    target = tmp_path / "result"
    (tmp_path / f".result.{dead_pid()}.0123abcd.tmp").mkdir()  # half-written new copy
    with pytest.raises(LoralabError, match="no such file"):
        io.read_text(target / "part0.txt")
    assert not target.exists() and litter(tmp_path) == []


def test_an_error_inside_the_swap_puts_the_old_directory_back(tmp_path, monkeypatch):
    target = tmp_path / "result"
    with io.atomic_dir(target) as tmp:
        (tmp / "f").write_text("old")
    real_rename = os.rename

    def fail_second(src, dst):
        if Path(src).name.endswith(".tmp"):
            raise OSError("disk gone")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", fail_second)
    with pytest.raises(OSError, match="disk gone"), io.atomic_dir(target) as tmp:
        (tmp / "f").write_text("new")
    assert (target / "f").read_text() == "old" and litter(tmp_path) == []


def test_written_files_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    io.write_text(tmp_path / "f.txt", "x")
    assert events == ["fsync", "replace", "fsync"]  # the file, the rename, its directory
