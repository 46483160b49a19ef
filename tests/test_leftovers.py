"""What a compiler killed without cleaning up leaves of its runs is removed by the next
one: run folders no process holds, and the control groups of compilers that are gone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from marshalike.sandbox import confine, leftovers
from marshalike.sandbox.child import Child
from marshalike.sandbox.isolation import Limits, isolation


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _old(path: Path) -> Path:
    os.utime(path, (time.time() - 3600, time.time() - 3600), follow_symlinks=False)
    return path


def test_a_folder_no_process_holds_is_removed_whatever_its_insides(tmp: Path) -> None:
    stale = tmp / f"{leftovers.PREFIX}abc"
    (stale / "work" / "locked").mkdir(parents=True)
    (stale / "work" / "locked" / "file").write_text("x")
    (stale / "work" / "locked").chmod(0o500)
    _old(stale)
    assert _folders(leftovers.sweep(), tmp) == [stale]
    assert not stale.exists()


def test_a_held_a_young_or_a_foreign_folder_stays(tmp: Path) -> None:
    held = _old_folder(tmp, "held")
    fd = leftovers.hold(held)
    young = tmp / f"{leftovers.PREFIX}young"
    young.mkdir()
    target = tmp / "elsewhere"
    target.mkdir()
    link = tmp / f"{leftovers.PREFIX}link"
    link.symlink_to(target)
    _old(link)
    other = _old_folder(tmp, "other", prefix="something-else-")
    try:
        assert _folders(leftovers.sweep(), tmp) == []
    finally:
        leftovers.release(fd)
    assert held.exists() and young.exists() and link.is_symlink() and other.exists()
    assert _folders(leftovers.sweep(), tmp) == [held]  # its holder has let go


def test_the_runs_going_on_are_counted_from_start_to_close() -> None:
    """What a local engine asks before each step (`Engine.busy_cores`)."""
    before = leftovers.running()
    limits = Limits(memory_mb=256, file_mb=1, disk_mb=1, files=16)
    with Child(["-c", "pass"], files={}, limits=limits, cpu_seconds=5, pipes=False) as child:
        assert leftovers.running() == before + 1
        child.wait(10)
        assert leftovers.running() == before + 1  # ended, but not yet closed
    assert leftovers.running() == before


def _folders(removed: list[Path], tmp: Path) -> list[Path]:
    """The folders in `tmp` among what a sweep removed (leaving out control groups that
    compilers killed before this test left)."""
    return [path for path in removed if path.parent == tmp]


def _old_folder(tmp: Path, name: str, prefix: str = leftovers.PREFIX) -> Path:
    folder = tmp / f"{prefix}{name}"
    folder.mkdir()
    return _old(folder)


@pytest.mark.skipif(isolation() == "process limits", reason="needs a sandboxed run")
def test_a_killed_compiler_s_run_folder_and_groups_are_removed_by_the_next(tmp: Path) -> None:
    script = (
        "from marshalike.sandbox import channel\n"
        "from marshalike.sandbox.isolation import Limits\n"
        "source = 'import time\\n\\n\\ndef f():\\n    time.sleep(600)\\n'\n"
        "channel.run_calls(source, ['f()'], module_name='m', limits=Limits(timeout_s=600),\n"
        "                  per_call_s=600)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp)}
    compiler = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while not _running(tmp) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _running(tmp), "the run never started"
    finally:
        compiler.kill()
        compiler.wait()
    folders = list(tmp.glob(f"{leftovers.PREFIX}*"))
    groups = _groups(compiler.pid)
    assert folders
    removed = leftovers.sweep(settle_s=0)
    assert _folders(removed, tmp) == folders
    assert set(groups) <= set(removed)
    assert not list(tmp.glob(f"{leftovers.PREFIX}*"))
    assert not _groups(compiler.pid)


def _running(tmp: Path) -> bool:
    return any((f / "work" / "m.py").exists() for f in tmp.glob(f"{leftovers.PREFIX}*"))


def _groups(pid: int) -> list[Path]:
    bases = dict.fromkeys(filter(None, map(confine.cgroup_base, ("memory", "pids"))))
    return [g for base in bases for g in base.glob(f"marshalike-{pid}-*")]
