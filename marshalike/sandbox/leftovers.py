"""What a compiler killed without cleaning up (SIGKILL, a lost session) leaves of its runs:
their temporary folders (`marshalike-run-*`) and their empty control groups. The first
sandboxed run of the next compiler removes them.

A run's folder is held with an advisory lock (`flock`) for as long as the run lasts, and
the kernel drops the lock when its holder dies, so a folder that no process holds belongs
to nobody, in whatever process namespace its compiler ran. A control group carries its
compiler's process id in its name, and is left while that process lives. Both are also
left for a minute after they were last changed: another compiler's run may have made its
folder and not locked it yet.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from marshalike.sandbox import confine

PREFIX = "marshalike-run-"
SETTLE_S = 60.0  # how long a folder or group is left alone after it last changed


_ours: set[int] = set()  # the descriptors of the runs this process holds now


def hold(folder: Path) -> int:
    """Lock a run's folder until `release` closes the returned descriptor."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _ours.add(fd)
    return fd


def release(fd: int) -> None:
    _ours.discard(fd)
    os.close(fd)


def running() -> int:
    """How many runs this process holds now: a local engine decoding beside them leaves
    them a core each (`marshalike_runtime.batcher`)."""
    return len(_ours)


@functools.cache
def sweep_once() -> None:
    """`sweep`, once per compiler process."""
    sweep()


def sweep(settle_s: float = SETTLE_S) -> list[Path]:
    """Remove the run folders no process holds and the control groups of compilers that
    are gone, each unchanged for `settle_s` seconds; what was removed."""
    removed = [f for f in _stale_folders(settle_s) if _remove_folder(f)]
    return removed + confine.remove_stale_cgroups(settle_s)


def _stale_folders(settle_s: float) -> list[Path]:
    base = Path(tempfile.gettempdir())
    try:
        names = [n for n in os.listdir(base) if n.startswith(PREFIX)]
    except OSError:
        return []
    stale = []
    for name in names:
        folder = base / name
        try:
            info = folder.lstat()
        except OSError:
            continue
        mine = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
        if mine and time.time() - info.st_mtime >= settle_s and not _held(folder):
            stale.append(folder)
    return stale


def _held(folder: Path) -> bool:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock just taken
    return False


def _remove_folder(folder: Path) -> bool:
    """Remove a folder and everything in it. `shutil.rmtree` works through descriptors
    and never follows a link; nothing here acts on a path a run could have swapped for a
    link (a folder whose modes keep it is left, and tried again next time)."""
    shutil.rmtree(folder, ignore_errors=True)
    return not os.path.lexists(folder)
