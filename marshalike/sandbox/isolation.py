"""How isolated a run of untrusted, model-written Python is: the level this machine gives
(`isolation()`), the limits a run gets (`Limits`), and the command that starts a child at
that level (`launch_command`); `child.Child` is the process it starts.

Every run gets a fresh temporary folder, a child whose environment is built from nothing
(no API key, token or other variable of the compiler's reaches it), stdin closed unless the
caller talks to the child over a pipe, and resource limits set before any untrusted code
is imported: address space, CPU seconds, file size, no core dumps, open files, processes.
What else it gets depends on the platform (`isolation()` says which level is in force):

- **Linux, `namespaces`** (the default wherever `unshare` from util-linux can create
  namespaces: as root, or as any user where unprivileged user namespaces are enabled).
  The child runs in new PID, mount, network, IPC and UTS namespaces. Its filesystem is a
  fresh read-only root holding only the system's program folders (/usr, /bin, /lib ...),
  the Python installation and its site-packages (read-only), /dev/null, /dev/zero and
  /dev/urandom, and the run's own folder at /sandbox: a memory filesystem of
  `Limits.disk_mb`, holding a copy of the run's files, the only place it can write (/tmp
  points there), gone when the run ends. The compiler's folders, the spec, the home
  folder and /proc are not there; the old root is detached (pivot_root), so no path leads
  back to it. It has no
  network interface but a loopback that is down. Run as root, the child then drops to an
  unprivileged user id of its own before the untrusted code starts, with no capabilities
  and no_new_privs, so RLIMIT_NPROC binds; run by another user, it stays the root of its
  own user namespace (no power outside it) and its process count is bounded by that
  namespace's RLIMIT_NPROC. The child is PID 1 of its namespace: when the run ends, the
  kernel kills every process it started, including those that called setsid().
- **Linux without namespaces** (a container that forbids them). Run as root, the child
  drops to an unprivileged user id when the Python installation is readable by others, so
  it cannot read the compiler's /proc entries (its environment) and RLIMIT_NPROC binds;
  otherwise Python's own process-creating functions are replaced by ones that refuse.
  Files readable by every user stay readable, world-writable folders (/tmp) stay
  writable, the network is reachable, and a process that leaves the process group with
  setsid() can outlive the run.
- **macOS and other POSIX systems**: the resource limits, the scrubbed environment, the
  private working folder and a process-group kill, nothing more: files readable by the
  user are readable, the network is reachable.
- **Windows**: the resource module does not exist; sandboxed runs are not supported.

What no level protects against: a kernel exploit; reading what the system's program
folders and the Python installation hold (they are world-readable anyway); spending the
whole CPU time and memory budget the limits allow. The threat model is in
docs/security.md.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from marshalike.sandbox import confine, leftovers, scripts, startup, view
from marshalike.sandbox.environment import scrubbed_env
from marshalike.settings import default

Isolation = Literal["namespaces", "unprivileged user", "process limits"]
SANDBOX_DIR = "/sandbox"  # the run's own folder, as the child sees it with namespaces
_UID_BASE, _UID_SPAN = 200_000, 60_000  # unprivileged user ids the root-run child takes
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}


@dataclass(frozen=True)
class Limits:
    timeout_s: float = default("timeout")
    startup_s: float = 15.0  # interpreter and harness start-up, on top of the timeouts
    memory_mb: int = 2048
    max_procs: int = 64
    file_mb: int = 64  # the largest file the child may write
    disk_mb: int = 64  # all it may write, with namespaces (its folder is in memory)
    files: int = 4096  # how many files and folders it may make there
    output_bytes: int = 256_000


def processes_refused(level: Isolation | None = None) -> bool:
    """Whether sandboxed code may start no process at all: root without namespaces, where
    the kernel cannot bound the process count (scripts/refuser.py)."""
    return (level or isolation()) == "process limits" and os.getuid() == 0


def isolation() -> Isolation:
    """The isolation level sandboxed runs get on this machine (see the module docstring).
    MARSHALIKE_SANDBOX=no-namespaces leaves namespaces out, to test the fallbacks."""
    if os.environ.get("MARSHALIKE_SANDBOX") != "no-namespaces" and _namespaces_work():
        return "namespaces"
    if os.name == "posix" and os.getuid() == 0 and view.python_readable_by_others():
        if startup.unmapped_ids(_UID_BASE, _UID_SPAN) is None:
            return "unprivileged user"
    return "process limits"


def home_of(level: Isolation, base: Path) -> str:
    """The run's folder as the child sees it."""
    return SANDBOX_DIR if level == "namespaces" else str(base / "work")


def launch_command(
    level: Isolation,
    base: Path,
    *,
    limits: Limits,
    cpu_seconds: float,
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    uid: int | None,
    cgroups: Sequence[Path],
) -> list[str]:
    """The command that starts a child at `level` in `base` (which holds `work/`): the
    launcher, then the bootstrap with its settings, which runs `python -I -B argv`."""
    home = home_of(level, base)
    if level == "namespaces":
        (base / "root").mkdir()
    config = {
        "namespaces": level == "namespaces",
        "root": str(base / "root"),
        "workdir": str(base / "work"),
        "home": home,
        "read_only": view.read_only_paths() if level == "namespaces" else [],
        "pivot_root": _PIVOT_ROOT.get(platform.machine(), -1),
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "cpu_seconds": max(int(cpu_seconds) + 1, 1),
        "file_bytes": limits.file_mb * 1024 * 1024,
        "disk_bytes": limits.disk_mb * 1024 * 1024,
        "inodes": limits.files,
        "cgroups": [str(group / "cgroup.procs") for group in cgroups],
        "seccomp": confine.seccomp_filter(),
        "uid": uid,
        "nproc": limits.max_procs if level != "process limits" else _process_budget(limits),
        "refuse_processes": processes_refused(level),
        "refuser": scripts.source("refuser"),
        "argv": list(argv),
        "env": {**scrubbed_env(home), **(env or {})},
        "python": view.interpreter() if level == "namespaces" else sys.executable,
    }
    launch = [
        *_launcher(level),
        sys.executable,
        "-I",
        "-S",
        "-c",
        startup.guarded(scripts.source("bootstrap")),
    ]
    return [*launch, json.dumps(config)]


# A namespaced child that only says where it runs, to learn whether namespaces work here.
_PROBE_LIMITS = Limits(memory_mb=1024, file_mb=1, disk_mb=1, files=64)


def _launcher(level: Isolation) -> list[str]:
    if level != "namespaces":
        return []
    unshare = shutil.which("unshare") or "unshare"
    spaces = ["--pid", "--fork", "--kill-child", "--mount", "--net", "--ipc", "--uts"]
    user = [] if os.getuid() == 0 else ["--user", "--map-root-user"]
    return [*confine.dies_with_parent(), unshare, *user, *spaces, "--"]


_probe_lock = threading.Lock()


def weaker_isolation() -> str | None:
    """On Linux, why runs get less than namespaces here (one line for a warning); None
    where they get namespaces, or where the platform has none to give."""
    if sys.platform != "linux" or isolation() == "namespaces":
        return None
    if os.environ.get("MARSHALIKE_SANDBOX") == "no-namespaces":
        return "MARSHALIKE_SANDBOX=no-namespaces is set"
    return _namespaces_problem() or "namespaces cannot be created here"


def _namespaces_work() -> bool:
    return _namespaces_problem() is None


@functools.cache
def _namespaces_problem() -> str | None:
    """Why a namespaced child does not start and run Python here, or None if it does
    (tried once per process)."""
    if sys.platform != "linux" or _PIVOT_ROOT.get(platform.machine()) is None:
        return f"no namespaces on {sys.platform} {platform.machine()}"
    if shutil.which("unshare") is None:
        return "`unshare` (util-linux) is not installed"
    root = os.getuid() == 0  # the probe takes a user id as the real runs do
    if root and (unmapped := startup.unmapped_ids(_UID_BASE, _UID_SPAN)) is not None:
        return unmapped
    with _probe_lock, tempfile.TemporaryDirectory(prefix=leftovers.PREFIX) as tmp:
        base = Path(tmp)
        (base / "work").mkdir()
        command = launch_command(
            "namespaces", base, limits=_PROBE_LIMITS, cpu_seconds=10,
            argv=["-c", "import os; print(os.getcwd())"], env=None,
            uid=sandbox_uid() if root else None, cgroups=(),
        )  # fmt: skip
        try:
            done = subprocess.run(
                command,
                env=scrubbed_env(SANDBOX_DIR),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`unshare` did not run: {exc}"
    if done.returncode == 0 and done.stdout.strip() == SANDBOX_DIR.encode():
        return None
    said = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"`unshare` failed: {said[-1] if said else f'exit status {done.returncode}'}"


def sandbox_uid() -> int:
    """An unprivileged user id for one run, drawn at random, so runs at the same time
    rarely share a process budget (the per-run cgroup bounds each run anyway)."""
    return _UID_BASE + secrets.randbelow(_UID_SPAN)


def _process_budget(limits: Limits) -> int | None:
    """Without namespaces, RLIMIT_NPROC counts every process of the user, so allow what
    runs now plus max_procs. None for root, which the kernel exempts from the limit."""
    if os.name != "posix" or os.getuid() == 0:
        return None
    count = 0
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == os.getuid():
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count + limits.max_procs
