"""Run untrusted, model-written Python in a child process with limits.

What it does: the child is `python -I` (no user site, no PYTHON* variables), started in a
fresh temporary directory as its working directory, in its own session and process group,
with stdin closed and an environment built from nothing (PATH, LANG and HOME/TMPDIR pointing
into the temp dir: no API keys, tokens or secrets of ours reach it). Inside the child, before
any untrusted code is imported, a bootstrap sets resource limits (address space, CPU seconds,
file size, no core dumps, and a process count: RLIMIT_NPROC at the user's current count plus
`max_procs`). Root ignores RLIMIT_NPROC, so when we run as root the bootstrap instead refuses
process creation through Python's own APIs (os.fork, os.system, subprocess, ...). A wall-clock
timeout kills the whole process group; the group is killed after a normal exit too, so
stragglers do not outlive the run. Output is written to files, and only a bounded amount of it
is read back.

What it does NOT protect against: code that deliberately escapes (it is not a container, a
seccomp filter or a VM); reading world-readable files on this machine; network access;
processes that call setsid() to leave the process group before the timeout; a process made
as root through a raw system call (ctypes) rather than Python's APIs; sandboxes running at
once share the user's process-count budget; and tampering with the
test harness that runs inside the same child process. The threat it is built for is a model
that writes infinite loops, huge allocations, fork loops or code that reads the environment,
not an adversary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Runs inside the child before anything untrusted: limits first, then drop privileges.
_BOOTSTRAP = r"""
import json, os, resource, runpy, sys
cfg = json.loads(sys.argv[1])
def cap(kind, value):
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))
cap(resource.RLIMIT_AS, cfg["memory_bytes"])
cap(resource.RLIMIT_CPU, cfg["cpu_seconds"])
cap(resource.RLIMIT_FSIZE, cfg["file_bytes"])
cap(resource.RLIMIT_CORE, 0)
if cfg["nproc"] is not None:
    cap(resource.RLIMIT_NPROC, cfg["nproc"])
else:
    def refuse(*args, **kwargs):
        raise PermissionError("creating processes is not allowed in the marshalike sandbox")
    import subprocess
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen"):
        if hasattr(os, name):
            setattr(os, name, refuse)
    subprocess.Popen._execute_child = refuse
sys.argv = [cfg["module"]] + cfg["args"]
sys.path.insert(0, os.getcwd())
runpy.run_module(cfg["module"], run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    startup_s: float = 15.0  # interpreter and harness start-up, on top of the timeouts
    memory_mb: int = 2048
    max_procs: int = 256
    file_mb: int = 64
    output_bytes: int = 256_000


@dataclass(frozen=True)
class RunResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float

    @property
    def signal_name(self) -> str | None:
        if self.returncode is None or self.returncode >= 0:
            return None
        return signal.Signals(-self.returncode).name


def scrubbed_env(workdir: Path) -> dict[str, str]:
    """A fresh environment: nothing of ours is inherited except a safe PATH and locale."""
    return {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "PYTHONIOENCODING": "utf-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def run_module(
    module: str,
    args: Sequence[str],
    *,
    files: Mapping[str, str],
    limits: Limits,
    wall_s: float | None = None,
    env: Mapping[str, str] | None = None,
    collect: Sequence[str] = (),
) -> tuple[RunResult, dict[str, str]]:
    """Write `files` into a fresh temp dir, run `python -I -m module args` there under
    `limits`, and return the result plus the text of the files named in `collect`.

    `wall_s` (default `limits.timeout_s`) bounds the whole run; `env` adds variables of our
    own choosing to the scrubbed environment."""
    wall = limits.timeout_s if wall_s is None else wall_s
    with tempfile.TemporaryDirectory(prefix="marshalike-sandbox-") as tmp:
        workdir = Path(tmp)
        for name, text in files.items():
            (workdir / name).write_text(text, encoding="utf-8")
        config = {
            "module": module,
            "args": list(args),
            "memory_bytes": limits.memory_mb * 1024 * 1024,
            "cpu_seconds": max(int(wall) + 1, 1),
            "file_bytes": limits.file_mb * 1024 * 1024,
            "nproc": _process_budget(limits.max_procs),
        }
        argv = [sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(config)]
        environment = {**scrubbed_env(workdir), **(env or {})}
        result = _run(argv, workdir, environment, wall, limits.output_bytes)
        collected = {
            name: _read_bounded(workdir / name, 4 * limits.output_bytes) for name in collect
        }
    return result, collected


def _run(
    argv: list[str], workdir: Path, env: dict[str, str], wall: float, output: int
) -> RunResult:
    out_path, err_path = workdir / ".stdout", workdir / ".stderr"
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc.pid)
            proc.wait()
    seconds = time.monotonic() - start
    return RunResult(
        returncode=None if timed_out else proc.returncode,
        stdout=_read_bounded(out_path, output),
        stderr=_read_bounded(err_path, output),
        timed_out=timed_out,
        seconds=seconds,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_bounded(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return ""
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > limit else "")


def _process_budget(max_procs: int) -> int | None:
    """RLIMIT_NPROC counts every task of the user, so allow what runs now plus max_procs.
    None for root, which the kernel exempts from the limit."""
    uid = os.getuid()
    if uid == 0:
        return None
    return _tasks_of(uid) + max_procs


def _tasks_of(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count
