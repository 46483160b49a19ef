"""What the compiler last made of a spec: its output folder, its lock, and each function's
state (verified, unchecked, stale, failed, not compiled), as `marshalike check` and the
lock tell it, without running anything.

The output folder is `[tool.marshalike] out` of the nearest `pyproject.toml` (relative to
that file's folder) or the spec's own folder; the environment's `MARSHALIKE_OUT` counts
too, as it does for `compile`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshalike.build.lock import Lock, LockedUnit, lock_path, read_lock
from marshalike.build.results import SpecReport
from marshalike.codegen import emit
from marshalike.errors import MarshalikeError
from marshalike.gate.questions import Question
from marshalike.language.spec import Example, Func, Module
from marshalike.settings import resolve


@dataclass(frozen=True)
class Outputs:
    """A spec's outputs on disk, as of now."""

    folder: Path
    module: Module
    spec_hash: str  # of the text as the editor has it
    lock: Lock | None  # None: no lock yet, or one that cannot be read (`problem`)
    problem: str | None = None
    failed_attempt: bool = False  # NAME.failed.py holds a failed compile of this very text
    report: SpecReport | None = None  # this session's last compile of the spec, if any

    @property
    def module_file(self) -> Path:
        return self.folder / f"{self.module.name}.py"

    @property
    def current(self) -> bool:
        """The lock was written for the text as it is now."""
        return self.lock is not None and self.lock.spec_hash == self.spec_hash

    def waiting(self, name: str) -> bool:
        """Function `name` compiled for the text as it is now, and its module waits for
        the rest of the spec ("Compile this function")."""
        lock = self.lock
        return lock is not None and lock.pending_hash == self.spec_hash and name in lock.compiled

    def unit(self, name: str) -> LockedUnit | None:
        return self.lock.units.get(name) if self.lock is not None else None

    def questions(self, name: str) -> tuple[Question, ...]:
        """The open questions about function `name`: its lock entry's, and those a failed
        compile of it left pending."""
        unit = self.unit(name)
        found = unit.questions if unit is not None else ()
        pending = self.lock.pending.get(name, ()) if self.lock is not None else ()
        return (*found, *pending)

    def failures(self, name: str) -> tuple[str, ...] | None:
        """Why function `name` failed in the last compile of this text (this session's, or
        the one whose lock says so); None when it did not fail there (or there was none)."""
        report = self.report
        if report is not None and emit.spec_hash(report.source) == self.spec_hash:
            for unit in report.units:
                if unit.name == name and unit.status == "failed":
                    return unit.failures or ("no candidate passed every example",)
            return None
        lock = self.lock
        if lock is not None and lock.pending_hash == self.spec_hash and name in lock.failures:
            return lock.failures[name]
        return None


def output_folder(spec: Path, flags: Mapping[str, Any]) -> Path:
    """Where compile writes the outputs of the spec at `spec`, given the server's flags."""
    try:
        settings = resolve(flags, start=spec.parent)
    except MarshalikeError:
        return spec.parent
    if not settings.out:
        return spec.parent
    out = Path(settings.out).expanduser()
    return out if out.is_absolute() else Path.cwd() / out


def outputs(
    spec: Path,
    module: Module,
    text: str,
    report: SpecReport | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Outputs:
    folder = output_folder(spec, flags or {})
    current = emit.spec_hash(text)
    failed = _read(folder / f"{module.name}.failed.py") or ""
    attempt = f"# spec-hash: {current}\n" in failed
    lock_file = lock_path(folder, module.name)
    lock: Lock | None = None
    problem = None
    if lock_file.exists():
        try:
            lock = read_lock(lock_file, spec.name)
        except MarshalikeError as exc:
            problem = str(exc)
    return Outputs(folder, module, current, lock, problem, attempt, report)


def func_state(out: Outputs, func: Func) -> tuple[str, str | None]:
    """One line on the state of `func`'s code, and the code to show under it."""
    checkable = sum(1 for e in func.examples if e.checkable)
    unit = out.unit(func.name)
    code = unit.code if unit is not None and unit.code else None
    failures = out.failures(func.name)
    if failures is not None:
        return "**failed** in the last compile: " + "; ".join(failures[:3]), code
    if out.problem is not None:
        return out.problem, None
    if out.lock is None:
        return "**not compiled yet**: run *Compile this spec*", None
    if (out.current or out.waiting(func.name)) and unit is not None:
        later = (
            "; its module is written once the whole spec compiles (*Compile this spec*)"
            if not out.current
            else ""
        )
        if unit.status == "verified":
            n = _plural(checkable, "example")
            tried = _plural(unit.attempts, "attempt")
            return f"**verified** with {n} ({unit.model}, {tried}){later}", code
        return "**unchecked**: no example of it could be checked" + later, code
    if out.failed_attempt and (unit is None or func.name in out.lock.pending):
        attempt = f"{out.module.name}.failed.py"
        return f"**failed** in the last compile (its best attempt is in {attempt})", None
    if out.current or unit is None:
        return "**not compiled yet**: run *Compile this spec*", None
    return "**stale**: the spec changed since it was compiled", code


def example_state(out: Outputs, func: Func, example: Example) -> str:
    """Whether `example`'s test passes, as far as the outputs say."""
    if not example.checkable:
        return "**informal**: shown to the model, never a test"
    failures = out.failures(func.name)
    if failures is not None:
        mine = [f for f in failures if example.call and example.call in f]
        return "**fails**: " + mine[0] if mine else "**not passed**: the function failed"
    unit = out.unit(func.name)
    current = out.current or out.waiting(func.name)
    if current and unit is not None and unit.status == "verified":
        return "**passes**: the compiled code passed it at the last compile"
    if out.lock is None or unit is None:
        return "**not checked yet**: the function is not compiled"
    return "**not checked yet**: the spec changed since the last compile"


def generated_line(path: Path, name: str, kind: str) -> int | None:
    """The 0-based line of `def name(` (kind "def") or `class name` in a generated file."""
    text = _read(path)
    if text is None:
        return None
    pattern = re.compile(rf"^(?:async )?{kind} {re.escape(name)}\b", re.MULTILINE)
    match = pattern.search(text)
    return None if match is None else text.count("\n", 0, match.start())


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
