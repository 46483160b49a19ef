"""Bounds for a sandboxed run that the kernel keeps beyond its namespaces (Linux only):
per-run control groups (the memory and the process count of all the run's processes
together, shared memory and its in-memory folder included) and the table of the seccomp
filter the sandbox's bootstrap installs. The sandbox (`isolation.py`, `child.py`) uses
both; where they cannot be had, the per-process limits are what holds.
"""

from __future__ import annotations

import functools
import itertools
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

_runs = itertools.count()
_LOCKS = [5, 6, 7, 36, 37, 38]  # F_GETLK, F_SETLK, F_SETLKW and their OFD forms
_EVICT = [20, 21]  # MADV_COLD, MADV_PAGEOUT
# The seccomp filter's audit architecture and the calls it refuses, per machine: memfd,
# System V shared memory, userfaultfd, bpf, perf events, keyrings, ptrace, io_uring,
# namespaces and mounts, process_vm_readv/writev, fanotify, inotify. `fallocate`, which
# takes disk blocks past RLIMIT_FSIZE (in the stderr file too), is "not supported", so the
# C library's posix_fallocate writes instead. Every call from `newest` on (newer than this
# table: the mount API grows, `open_tree_attr` cloned a read-only folder writable) is
# refused as missing. Then the calls it looks into: `prctl` (refused for the parent-death
# signal, which a run that cleared it outlives a killed compiler with), `clone`
# (refused with a new namespace among its flags), `clone3` (whose flags a filter cannot
# read: refused as missing, so the C library falls back to `clone`), and `socket` and
# `socketpair` (refused for any family but Unix, IPv4 and IPv6: a network namespace does
# not hold vsock, which reaches the host), and `fcntl`, `setsockopt` and `madvise` for some
# of their requests (`"requests"`: the call, which argument, the values refused). Refused
# too, for kernel memory or host-wide limits a run's cgroup may not count: System V
# semaphores and message queues, AIO contexts (`fs.aio-max-nr` is the machine's), epoll
# instances (their watches), a socket's buffer sizes (SOL_SOCKET options); and, through
# `fcntl`, a lease on a file the compiler reads (its open would wait 45 s for the run) and
# dnotify (inotify's older form). What the host's page cache holds of a bound host file is
# state shared between the processes of one verification: the calls that evict its pages
# or load them unread (fadvise, readahead, madvise COLD or PAGEOUT, process_madvise) or
# tell which are there without a timed read (mincore, cachestat) are refused; `preadv2`
# and `pwritev2` (whose RWF_NOWAIT tells, whose RWF_DONTCACHE evicts) as missing, so the
# C library falls back to preadv and pwritev where no flag is given. File locks (flock,
# and fcntl's lock requests), which concurrent runs and the host's processes see on the
# same read-only host file, are refused too.
_SECCOMP = {
    "x86_64": (0xC000003E, (319, 447, 29, 323, 321, 298, 248, 249, 250, 101, 425, 426, 427,
                            272, 308, 165, 166, 155, 428, 429, 430, 431, 432, 433, 442, 310,
                            311, 300, 253, 254, 294, 457, 458, 467, 64, 68, 206,
                            221, 187, 27, 451, 440, 73, 213, 291),
               {"clone": 56, "clone3": 435, "sockets": [41, 53], "unsupported": [285],
                "prctl": 157, "newest": 459, "missing": [327, 328],
                "requests": [[72, 1, [1024, 1026, *_LOCKS]], [54, 1, [1]], [28, 2, _EVICT]]}),
    "aarch64": (0xC00000B7, (279, 447, 194, 282, 280, 241, 217, 218, 219, 117, 425, 426, 427,
                             97, 268, 40, 39, 41, 428, 429, 430, 431, 432, 433, 442, 270,
                             271, 262, 26, 27, 457, 458, 467, 190, 186, 0,
                             223, 213, 232, 451, 440, 32, 20),
                {"clone": 220, "clone3": 435, "sockets": [198, 199], "unsupported": [47],
                 "prctl": 167, "newest": 459, "missing": [286, 287],
                 "requests": [[25, 1, [1024, 1026, *_LOCKS]], [208, 1, [1]], [233, 2, _EVICT]]}),
}  # fmt: skip


def seccomp_filter() -> dict | None:
    """The bootstrap's seccomp filter for this machine: its audit architecture, the calls
    it refuses and the calls it looks into; None where there is none."""
    found = _SECCOMP.get(platform.machine()) if sys.platform == "linux" else None
    if not found:
        return None
    arch, denied, looked_into = found
    return {"arch": arch, "denied": list(denied), **looked_into}


@functools.cache
def dies_with_parent() -> list[str]:
    """`setpriv --pdeathsig KILL`, where it can be had: the launcher runs in a session of
    its own, so a compiler killed without cleaning up would leave it, and the run's
    namespace under it, running; with it the kernel kills the launcher, and the namespace's
    first process (which dies with the launcher) takes every other one with it."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    try:
        shown = subprocess.run([setpriv, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [setpriv, "--pdeathsig", "KILL"] if "--pdeathsig" in shown.stdout else []


def make_cgroups(memory_bytes: int, processes: int) -> list[Path]:
    """Per-run control groups bounding all the run's processes together — memory
    (shared memory and its in-memory folder included) and process count — where this
    process may make them (root, with the memory and pids controllers mounted); [] where
    it may not, and the per-process limits are what holds."""
    if sys.platform != "linux" or os.getuid() != 0:
        return []
    memory = memory_bytes
    wanted = {
        "memory": (("memory.limit_in_bytes", memory), ("memory.memsw.limit_in_bytes", memory),
                   ("memory.max", memory), ("memory.swap.max", 0)),
        "pids": (("pids.max", processes),),
    }  # fmt: skip
    made: list[Path] = []
    name = f"marshalike-{os.getpid()}-{next(_runs)}"
    for controller, knobs in wanted.items():
        base = cgroup_base(controller)
        if base is None:
            continue
        group = base / name
        try:
            group.mkdir()
        except OSError:
            continue
        set_any = False
        for knob, value in knobs:
            try:
                (group / knob).write_text(str(value))
                set_any = True
            except OSError:
                continue
        if set_any:
            made.append(group)
        else:
            remove_cgroups([group])
    # v2 has one hierarchy: the same folder may come twice.
    return list(dict.fromkeys(made))


# What unshare (util-linux before 2.39) says, exiting with status 1, when the process it
# waits for was killed by SIGKILL: it cannot take SIGKILL's action to die of it itself.
_LAUNCHER_KILLED = "unshare: sigprocmask unblock failed"
MEMORY_KILL = "the run reached its memory limit: the kernel killed its largest process"


def memory_killed(groups: Sequence[Path]) -> bool:
    """Whether the kernel's OOM killer ended a process of the run's memory cgroup (v2
    `memory.events`, v1 `memory.oom_control`; `memory.failcnt` where neither counts)."""
    for group in groups:
        counted = False
        for knob in ("memory.events", "memory.oom_control"):
            try:
                lines = (group / knob).read_text().splitlines()
            except OSError:
                continue
            for key, _, value in (line.partition(" ") for line in lines):
                if key == "oom_kill" and value.strip().isdigit():
                    counted = True
                    if int(value) > 0:
                        return True
        if not counted:
            try:
                if int((group / "memory.failcnt").read_text()) > 0:
                    return True
            except (OSError, ValueError):
                continue
    return False


def killed(groups: Sequence[Path], stderr_tail: str) -> bool:
    """Whether the run's first process was killed (SIGKILL) where its launcher exited with
    a status: by the memory cgroup's OOM killer, or as the launcher's last line says."""
    last = stderr_tail.rstrip().rpartition("\n")[2]
    return last.startswith(_LAUNCHER_KILLED) or memory_killed(groups)


def plain_stderr(text: str, groups: Sequence[Path]) -> str:
    """The run's error output without the launcher's own line on a SIGKILL, and with a
    line that says so where the memory limit killed a process of the run."""
    lines = text.splitlines()
    if lines and lines[-1].startswith(_LAUNCHER_KILLED):
        lines.pop()
    if memory_killed(groups):
        lines.append(MEMORY_KILL)
    return "\n".join(lines) + ("\n" if lines and text.endswith("\n") else "")


def remove_stale_cgroups(settle_s: float) -> list[Path]:
    """Remove the run groups of compilers that are gone (a group's name holds its
    compiler's process id) and unchanged for `settle_s` seconds; the groups removed.
    Any process still in one is a run its compiler left, and is killed."""
    removed = []
    for base in dict.fromkeys(filter(None, map(cgroup_base, ("memory", "pids")))):
        try:
            groups = [g for g in base.iterdir() if g.name.startswith("marshalike-")]
        except OSError:
            continue
        for group in groups:
            owner = group.name.split("-")[1]
            try:
                old = time.time() - group.stat().st_mtime >= settle_s
            except OSError:
                continue
            if owner.isdigit() and int(owner) != os.getpid() and old and not _alive(int(owner)):
                remove_cgroups([group])  # kills what is left in it first
                if not group.exists():
                    removed.append(group)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's: alive
    return True


def cgroup_base(controller: str) -> Path | None:
    """The folder of this process's own cgroup of `controller` (v1), or of the unified
    hierarchy where it holds that controller (v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    root = Path("/sys/fs/cgroup")
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = root / controller / path.lstrip("/")
            return folder if folder.is_dir() else None
        if number == "0" and controllers == "":
            try:
                enabled = (root / path.lstrip("/") / "cgroup.subtree_control").read_text()
            except OSError:
                continue
            if controller in enabled.split():
                return root / path.lstrip("/")
    return None


def kill_members(group: Path) -> None:
    """SIGKILL every process in a run's cgroup (as the host numbers them)."""
    try:
        members = (group / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in members:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def remove_cgroups(groups: Sequence[Path]) -> None:
    """Remove the run's cgroups once their processes are gone (the kernel frees a
    killed process a moment after the kill)."""
    for group in groups:
        for _ in range(100):
            kill_members(group)
            try:
                group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


def kill_tree(pid: int) -> None:
    """SIGKILL the launcher's process group and the children of the launcher (the PID 1 of
    the child's namespace, whose death ends every process in it)."""
    children = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    for child in children:
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
