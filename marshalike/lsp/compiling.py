"""The "Compile this spec" and "Compile this function" commands' work, run in a thread of
its own: the compile of `marshalike compile` (the same settings, the same lock and
outputs), its progress as messages for `$/progress`, and a one-line outcome for the editor
to show. A function's compile asks the model for that function and what it calls; the lock
keeps the result, and the module is written once no function of the spec is left over."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from marshalike.build.compiler import CompileRun, SpecReport
from marshalike.build.job import make_job
from marshalike.build.watch import describe
from marshalike.errors import MarshalikeError
from marshalike.language.files import read_spec
from marshalike.lsp.project import output_folder
from marshalike.settings import resolve
from marshalike.synth.events import UnitEvent

Note = Callable[[str], None]


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
) -> SpecReport:
    """Compile the spec at `path` as `marshalike compile` would, or only its function
    `only` (and what it calls); MarshalikeError (a bad setting, a backend that cannot
    start) propagates with its one-line message."""
    settings = resolve(flags, start=path.parent)
    job = make_job(settings, quick=quick, main=main)
    job = dataclasses.replace(job, out=output_folder(path, flags))

    def observe(module: str, event: UnitEvent) -> None:
        note(f"{module}.{event.unit}: {event.shown()}")

    chosen = frozenset((only,)) if only else frozenset()
    return CompileRun(job, note, observe=observe).compile(path, only=chosen)


def outcome(report: SpecReport, path: Path) -> tuple[bool, str]:
    """Whether the compile succeeded, and its status line."""
    return report.ok, describe(report, path.name)[0]


def failure(exc: MarshalikeError) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
