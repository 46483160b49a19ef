"""Ctrl-C in a command that runs to its end (compile, check, decompile, clarify and the
rest): "marshalike: interrupted" and exit status 130 within a moment (README, "Exit
status"), whatever a model server or a sandboxed run is doing at the time.

The first SIGINT asks a running compile to stop (`cancel`, the token watch mode uses too)
and raises KeyboardInterrupt in the main thread, so its `finally` blocks run: a spec's
output lock is released and staged temp files are removed. Two things could then hold the
process: a write of outputs in progress, which is left to finish (stopped half-way, a
module and its lock could disagree), and the thread pools' joins on their workers, which
wait for a model's answer (up to `request_timeout`) or a test run. A helper thread signals
the main thread again every `_KICK_S`; each of those raises KeyboardInterrupt only where
the main thread waits on workers. Once the main thread is back in `main`, the process ends
without joining the workers (`os._exit`), which closes their connections to the model
server; sandboxed runs, which lead process groups of their own that a terminal's Ctrl-C
does not reach, are killed first. Should the main thread still be busy after `_GRACE_S`,
outside a write, the helper ends the process itself.

`watch` and `serve` install handlers of their own while they run (they stop with 0).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from marshalike.synth.cancel import Cancel

MESSAGE = "marshalike: interrupted"
STATUS = 130
_KICK_S = 0.1  # how often the main thread is signalled again while it unwinds
_GRACE_S = 1.5  # how long it may take before the helper ends the process itself
# The module that writes outputs, stages them and holds a spec's output lock: a frame of it
# on the main thread's stack means a write is in progress (all but `_WAITING`).
_WRITES = os.path.join("marshalike", "build", "output.py")
_WAITING = frozenset({"_acquire"})  # waiting for another compile's lock: no write yet
# Frames of the standard library's thread pools: the main thread waits on workers there.
_POOLS = os.path.join("concurrent", "futures", "")


class _State:
    """One installation's interruption: requested, told, and the process's end claimed."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.lock = threading.Lock()
        self.told = False
        self.ending = False
        self.main = threading.main_thread().ident


_current: _State | None = None


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """SIGINT and SIGTERM handled as this module says, for the block (the main thread's
    whole run)."""
    global _current
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a signal handler
        return
    state = _State()
    previous = signal.signal(signal.SIGINT, _handle)
    # SIGTERM (a CI runner, docker or systemd stopping the job) ends it the same way.
    previous_term = signal.signal(signal.SIGTERM, _handle)
    _current = state
    try:
        yield
    finally:
        with state.lock:
            state.ending = True  # the helper thread stops
        _current = None
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)


def requested() -> bool:
    """Whether Ctrl-C was pressed while `handled` is in force."""
    return _current is not None and _current.requested.is_set()


def cancel() -> Cancel | None:
    """A token that a compile sees set once Ctrl-C was pressed; None outside `handled`."""
    from marshalike.synth.cancel import Cancel

    return None if _current is None else Cancel(_current.requested)


def tell() -> None:
    """Write the message on stderr, once however many paths reach it."""
    state = _current
    if state is not None:
        with state.lock:
            if state.told:
                return
            state.told = True
    click.echo(MESSAGE, err=True)


def end() -> None:
    """End the process with status 130, without joining worker threads that may wait on
    a model server; called by `main` once the main thread has unwound."""
    state = _current
    if state is None or not state.requested.is_set():
        sys.exit(STATUS)
    with state.lock:
        state.ending = True
    tell()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    _stop_children()
    os._exit(STATUS)


def _handle(signum: int, frame: FrameType | None) -> None:
    state = _current
    if state is None or state.ending:
        return
    first = not state.requested.is_set()
    if first:
        state.requested.set()
        threading.Thread(
            target=_kick, args=(state,), name="marshalike-interrupt", daemon=True
        ).start()
    if _writing(frame):
        return  # the write finishes; a later signal, or the compile's token, stops it after
    if first or _waiting_on_workers(frame):
        raise KeyboardInterrupt


def _kick(state: _State) -> None:
    """Signal the main thread until it has unwound; past the grace period, outside a
    write, end the process from here."""
    started = time.monotonic()
    while True:
        time.sleep(_KICK_S)
        with state.lock:
            if state.ending:
                return
            if time.monotonic() - started > _GRACE_S and not _writing(_main_frame(state)):
                state.ending = True
                untold, state.told = not state.told, True
                break
        if signal.getsignal(signal.SIGINT) is _handle and state.main is not None:
            with contextlib.suppress(OSError):
                signal.pthread_kill(state.main, signal.SIGINT)
    if untold:  # os.write: the main thread may hold sys.stderr's buffer
        os.write(2, (MESSAGE + "\n").encode())
    _stop_children()
    os._exit(STATUS)


def _main_frame(state: _State) -> FrameType | None:
    return sys._current_frames().get(state.main) if state.main is not None else None


def _stack(frame: FrameType | None) -> Iterator[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back


def _writing(frame: FrameType | None) -> bool:
    """Whether the stack holds a write of outputs (or the release of a spec's lock)."""
    writes = [f for f in _stack(frame) if f.f_code.co_filename.endswith(_WRITES)]
    return bool(writes) and not any(f.f_code.co_name in _WAITING for f in writes)


def _waiting_on_workers(frame: FrameType | None) -> bool:
    return any(_POOLS in f.f_code.co_filename for f in _stack(frame))


def _stop_children() -> None:
    """Kill the process groups led by this process's children: the sandboxed runs (each
    starts a session of its own, which a terminal's Ctrl-C does not reach)."""
    me = os.getpid()
    for entry in _children(me):
        with contextlib.suppress(OSError):
            if os.getpgid(entry) == entry:
                os.killpg(entry, signal.SIGKILL)


def _children(parent: int) -> list[int]:
    """The process ids whose parent is `parent`, from /proc (none where there is none)."""
    found = []
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            stat = (folder / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        # "PID (COMMAND) STATE PPID ...": the command may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[1] == str(parent):
            found.append(int(folder.name))
    return found
