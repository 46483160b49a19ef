"""A sandboxed child process: started in a fresh folder at the isolation level this
machine gives (`isolation`, whose docstring says what each level protects against), talked
to over its stdin and stdout, and killed with everything it started when it ends.
`run_module` runs a module in one, to its end."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from marshalike.errors import VerificationError
from marshalike.sandbox import confine, leftovers
from marshalike.sandbox.environment import scrubbed_env
from marshalike.sandbox.isolation import Limits, home_of, isolation, launch_command, sandbox_uid

# `python -I -m` leaves the working folder off sys.path; the run's modules are there.
_RUN_MODULE = (
    "import os, runpy, sys; sys.argv = sys.argv[1:]; sys.path.insert(0, os.getcwd()); "
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


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
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"


class Child:
    """A sandboxed Python process that runs `argv` (after `python -I`) in a fresh folder
    holding `files`, and talks over its stdin and stdout; its stderr goes to a file.

    Use as a context manager: leaving it kills the child and everything it started and
    removes its folder."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        files: Mapping[str, str],
        limits: Limits,
        cpu_seconds: float,
        env: Mapping[str, str] | None = None,
        pipes: bool = True,
    ) -> None:
        leftovers.sweep_once()
        with contextlib.ExitStack() as undo:  # what is made so far, if the rest fails
            try:
                self._tmp = tempfile.TemporaryDirectory(prefix=leftovers.PREFIX)
                undo.callback(self._tmp.cleanup)
                base = Path(self._tmp.name)
                self._held = leftovers.hold(base)
                undo.callback(leftovers.release, self._held)
                self.workdir = base / "work"
                self.workdir.mkdir()
                for name, text in files.items():
                    (self.workdir / name).write_text(text, encoding="utf-8")
                level = isolation()
                uid = sandbox_uid() if level != "process limits" and os.getuid() == 0 else None
                if uid is not None and level != "namespaces":
                    os.chmod(base, 0o711)  # the child's user passes through to its own folder
                    _give(self.workdir, uid)
                memory = (limits.memory_mb + limits.disk_mb) * 1024 * 1024
                self._cgroups = confine.make_cgroups(memory, limits.max_procs + 2)
                undo.callback(confine.remove_cgroups, self._cgroups)
                command = launch_command(
                    level, base, limits=limits, cpu_seconds=cpu_seconds, argv=argv, env=env,
                    uid=uid, cgroups=self._cgroups,
                )  # fmt: skip
                home = home_of(level, base)
                self._stderr = undo.enter_context(open(base / "stderr", "wb"))
                self._stdout = None if pipes else undo.enter_context(open(base / "stdout", "wb"))
                self.started = time.monotonic()
                self._proc = subprocess.Popen(
                    command,
                    cwd=self.workdir,
                    env=scrubbed_env(home),
                    stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                    stdout=subprocess.PIPE if pipes else self._stdout,
                    stderr=self._stderr,
                    start_new_session=True,
                )
            except OSError as exc:  # a full disk, no processes left: the machine's, not the code's
                raise VerificationError(f"a sandboxed run could not start: {exc}") from exc
            undo.pop_all()  # close() undoes it all from here on
        self._buffer = b""
        self._closed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    def send(self, message: Mapping[str, object], deadline: float) -> bool:
        """Write one JSON line to the child by `deadline` (monotonic); False if it no
        longer listens, or has not taken the line by then: a child that stops reading,
        with its pipe full (or made smaller), cannot hold the compiler in a write."""
        assert self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        data = memoryview(json.dumps(message).encode() + b"\n")
        try:
            os.set_blocking(fd, False)
            while data:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                _, ready, _ = select.select([], [fd], [], left)
                if ready:
                    try:
                        data = data[os.write(fd, data) :]
                    except BlockingIOError:  # the pipe filled between select and write
                        continue
        except (OSError, ValueError):
            return False
        return True

    def receive(self, deadline: float, limit: int) -> bytes | None:
        """One line from the child (without its newline) by `deadline` (monotonic), of at
        most `limit` bytes; None when the child closed its end, ran out of time or sent a
        longer line."""
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line if len(line) <= limit else None

    def wait(self, timeout: float) -> bool:
        """Wait for the child to exit by itself; False if it is still running."""
        try:
            self._proc.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        return True

    @property
    def returncode(self) -> int | None:
        """The launcher's exit status, or -SIGKILL where the run's first process was
        killed (by its memory limit) and the launcher exited with one of its own."""
        code = self._proc.poll()
        if code and confine.killed(self._cgroups, self._stderr_tail()):
            return -signal.SIGKILL
        return code

    def stderr(self, limit: int) -> str:
        self._stderr.flush()
        return confine.plain_stderr(_read_bounded(Path(self._stderr.name), limit), self._cgroups)

    def _stderr_tail(self) -> str:
        try:
            self._stderr.flush()
            with open(self._stderr.name, "rb") as handle:
                handle.seek(max(os.fstat(handle.fileno()).st_size - 200, 0))
                return handle.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def stdout_file(self, limit: int) -> str:
        if self._stdout is not None:
            self._stdout.flush()
        return _read_bounded(Path(self._tmp.name) / "stdout", limit)

    def kill(self) -> None:
        """Kill the child and every process it started."""
        confine.kill_tree(self._proc.pid)
        for group in self._cgroups:
            confine.kill_members(group)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.kill()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()
        if self._stdout is not None:
            self._stdout.close()
        confine.remove_cgroups(self._cgroups)
        self._tmp.cleanup()
        leftovers.release(self._held)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_module(
    module: str,
    args: Sequence[str],
    *,
    files: Mapping[str, str],
    limits: Limits,
    wall_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> RunResult:
    """Write `files` into a fresh folder, run `python -I -m module args` there in the
    sandbox under `limits`, and return how it ended and what it printed.

    `wall_s` (default `limits.timeout_s`) bounds the whole run; `env` adds variables of our
    own choosing to the scrubbed environment."""
    wall = limits.timeout_s if wall_s is None else wall_s
    with Child(
        ["-c", _RUN_MODULE, module, *args],
        files=files,
        limits=limits,
        cpu_seconds=wall,
        env=env,
        pipes=False,
    ) as child:
        timed_out = not child.wait(wall)
        child.kill()
        seconds = time.monotonic() - child.started
        code = child.returncode
        result = RunResult(
            returncode=None if timed_out else code,
            stdout=child.stdout_file(limits.output_bytes),
            stderr=child.stderr(limits.output_bytes),
            timed_out=timed_out,
            seconds=seconds,
        )
    return result


def _give(folder: Path, uid: int) -> None:
    os.chown(folder, uid, uid)
    for entry in folder.iterdir():
        os.chown(entry, uid, uid, follow_symlinks=False)


def _read_bounded(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > limit else "")
