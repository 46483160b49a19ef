"""The "Compile this spec" and "Compile this function" commands' work, run in a thread of
its own (`Compiles`, which `shutdown` and `exit` stop): the compile of `marshalike compile`
(the same settings, the same lock and outputs), its progress as messages for `$/progress`,
and a one-line outcome for the editor to show. A function's compile asks the model for
that function and what it calls; the lock keeps the result, and the module is written once
no function of the spec is left over."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from marshalike.build.compiler import CompileRun
from marshalike.build.job import make_job
from marshalike.build.results import SpecReport
from marshalike.build.watch import describe
from marshalike.errors import MarshalikeError
from marshalike.language.files import read_spec
from marshalike.lsp.project import output_folder
from marshalike.settings import resolve
from marshalike.synth.cancel import Cancel
from marshalike.synth.events import UnitEvent

Note = Callable[[str], None]
R = TypeVar("R")


class Compiles:
    """The compiles running, each in a daemon thread of its own, which the process does
    not wait for as it ends (`stdio.end`): a compile may wait minutes on a model server."""

    def __init__(self) -> None:
        self._running: dict[Cancel, threading.Thread] = {}
        self._lock = threading.Lock()

    async def run(self, work: Callable[[], R], cancel: Cancel) -> R:
        """What `work` returns, run in a thread; `cancel` (which `work` watches) is set
        where the awaiting request is cancelled, as `shutdown` cancels it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()

        def settle(result: R | None, error: Exception | None) -> None:
            if done.done():
                return  # the request was cancelled
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(cast(R, result))

        def target() -> None:
            result, error = None, None
            try:
                result = work()
            except Exception as exc:
                error = exc
            finally:
                with self._lock:
                    self._running.pop(cancel, None)
            with contextlib.suppress(RuntimeError):  # the loop has closed: no one waits
                loop.call_soon_threadsafe(settle, result, error)

        thread = threading.Thread(target=target, name="marshalike-lsp-compile", daemon=True)
        with self._lock:
            self._running[cancel] = thread
        thread.start()
        try:
            return await done
        except asyncio.CancelledError:
            cancel.set()
            raise

    def stop(self) -> None:
        """Tell every compile running to stop at its next unit or attempt."""
        with self._lock:
            running = list(self._running)
        for cancel in running:
            cancel.set()

    def threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self._running.values())


def unsaved(path: Path, text: str) -> str | None:
    """Why the spec cannot be compiled as the editor has it (the compile reads the file):
    unsaved changes, or no file at all; None when the file holds the text."""
    try:
        saved = read_spec(path).text
    except OSError:
        return f"{path.name} is not saved: save it to compile it"
    if saved != text:
        return f"{path.name} has unsaved changes: save it to compile it"
    return None


def compile_spec(
    path: Path,
    flags: Mapping[str, Any],
    *,
    quick: bool,
    main: bool,
    note: Note,
    only: str | None = None,
    cancel: Cancel | None = None,
) -> SpecReport:
    """Compile the spec at `path` as `marshalike compile` would, or only its function
    `only` (and what it calls); MarshalikeError (a bad setting, a backend that cannot
    start, `Cancelled` once `cancel` is set) propagates with its one-line message."""
    settings = resolve(flags, start=path.parent)
    job = make_job(settings, quick=quick, main=main)
    job = dataclasses.replace(job, out=output_folder(path, flags))

    def observe(module: str, event: UnitEvent) -> None:
        note(f"{module}.{event.unit}: {event.shown()}")

    chosen = frozenset((only,)) if only else frozenset()
    return CompileRun(job, note, observe=observe).compile(path, cancel=cancel, only=chosen)


def outcome(report: SpecReport, path: Path) -> tuple[bool, str]:
    """Whether the compile succeeded, and its status line."""
    return report.ok, describe(report, path.name)[0]


def failure(exc: MarshalikeError) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
