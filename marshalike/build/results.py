"""What a compile takes and gives: its job (`CompileJob`, which `job.make_job` builds from
the settings), a spec while it is compiled (`Compiling`), a function taken unchanged from
the lock (`CachedUnit`), and each spec's report (`SpecReport`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marshalike.backends.base import Backend
from marshalike.build.plan import Plan
from marshalike.build.uses import Used
from marshalike.gate.questions import Question
from marshalike.gate.strength import Strength
from marshalike.language.diagnostics import Diagnostic
from marshalike.language.spec import Module
from marshalike.synth.cancel import Cancel
from marshalike.synth.events import Observe, ignore
from marshalike.synth.loop import UnitOutcome
from marshalike.synth.loop_settings import LoopSettings


@dataclass(frozen=True)
class CompileJob:
    """What the CLI resolved: how to get a backend, which model id keys the lock."""

    backend_factory: Callable[[], Backend]
    backend_name: str
    model_id: str
    loop: LoopSettings
    out: Path | None = None
    frozen: bool = False
    main: bool = True  # append the module's own command line (python -m NAME FUNC ARGS)


@dataclass(frozen=True)
class SpecReport:
    path: str
    source: str
    diagnostics: tuple[Diagnostic, ...] = ()
    units: tuple[UnitOutcome | CachedUnit, ...] = ()
    written: tuple[str, ...] = ()
    failed_file: str | None = None
    stale: tuple[str, ...] = ()  # units that --frozen refused to compile
    problem: str | None = None  # a reason the spec could not be compiled at all
    # Functions a compile of some functions (`CompileRun.compile`'s `only`) left for
    # later: the lock took what it did compile, and the outputs wait for the whole spec.
    deferred: tuple[str, ...] = ()
    exports: Used = field(default_factory=Used)  # what a spec that uses this one gets

    @property
    def ok(self) -> bool:
        return (
            not self.stale
            and self.problem is None
            and not any(d.is_error for d in self.diagnostics)
            and all(u.status != "failed" for u in self.units)
        )


@dataclass(frozen=True)
class CachedUnit:
    name: str
    status: str
    code: str
    attempts: int = 0
    candidates: int = 0
    distinct: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    failures: tuple[str, ...] = ()
    note: str | None = "unchanged (from the lock)"
    questions: tuple[Question, ...] = ()
    strength: Strength | None = None


@dataclass(frozen=True)
class Compiling:
    """A spec being compiled: its AST, its plan and what its `# use`s provide."""

    module: Module
    plan: Plan
    used: Used
    cancel: Cancel | None = None
    observe: Observe = ignore  # what the loop reports of each unit while it works
    only: frozenset[str] = frozenset()  # the functions to compile, when not all
