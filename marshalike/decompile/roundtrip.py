"""The round trip of a decompiled spec, two ways.

- `round_trip`: the spec loads with no errors, and every example it writes holds for the
  original module, checked by the verifier (in the sandbox) with the original module as
  both the code under test and the module the expected values are computed in.
- `Recompiler` (`marshalike decompile --round-trip`): the spec is compiled as `compile`
  would compile it (its settings, its loop, its verifier), into a temporary folder, never
  beside the user's code: the compiled module has the original's name. The compiled code
  then runs in the sandbox, through the verifier, on every input the original answered
  while its examples were measured (`Measured.answers`): the spec's examples, which the
  compile verified, and the candidate inputs that were not kept. The expected values are
  the original's answers, so each case compares the two functions on one call.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from marshalike.build.compiler import CompileRun, Progress
from marshalike.build.results import SpecReport
from marshalike.build.uses import declared_records
from marshalike.codegen import emit
from marshalike.decompile.examples import Example
from marshalike.decompile.model import RunModel
from marshalike.decompile.module import Decompiled, module_name_of
from marshalike.language.load import load_spec
from marshalike.language.spec import Func, Module
from marshalike.language.typemap import annotation
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.oracle import Case, Oracle, cases_of, records_of
from marshalike.sandbox.verify import ExampleResult, verify
from marshalike.synth.redact import redact

_SHOWN = 200  # characters of a reason that did not compile


@dataclass(frozen=True)
class RoundTrip:
    errors: int  # diagnostics that stop the spec from compiling
    held: int  # examples that hold for the original module
    total: int  # checkable examples

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.held == self.total


def round_trip(spec: str, source: str, filename: str, limits: Limits | None = None) -> RoundTrip:
    """Load `spec` (decompiled from `source`, the module at `filename`) and verify its
    examples against `source`."""
    name = module_name_of(filename)
    with tempfile.TemporaryDirectory(prefix="marshalike-decompile-") as folder:
        path = Path(folder) / f"{name}.mrsh"
        path.write_text(spec, encoding="utf-8")
        loaded = load_spec(path)
    errors = sum(1 for d in loaded.diagnostics if d.is_error)
    if loaded.module is None:
        return RoundTrip(max(errors, 1), 0, 0)
    types = [t.name for t in loaded.module.types]
    cases = tuple(c for func in loaded.module.funcs for c in cases_of(func, types))
    if not cases:
        return RoundTrip(errors, 0, 0)
    oracle = Oracle(
        cases,
        source,
        module_name=name,
        limits=limits or Limits(),
        records=tuple(f"{name}.{t}" for t in types),
        keep_docstrings=True,  # the user's own module, run as it is
    )
    verdict = verify(source, oracle)
    return RoundTrip(errors, verdict.passed, len(cases))


@dataclass(frozen=True)
class Agreement:
    """How one function's compiled code answers next to the original."""

    name: str
    problem: str = ""  # why it did not compile; "" where it did
    examples: tuple[int, int] = (0, 0)  # (calls answered as the original did, calls run)
    others: tuple[int, int] = (0, 0)
    differs: str = ""  # the first call answered otherwise, with both answers

    @property
    def agrees(self) -> bool:
        return not self.problem and not self.differs

    def line(self) -> str:
        if self.problem:
            return redact(f"{self.name}: round trip: did not compile ({self.problem})")
        (held, run), (other_held, other_run) = self.examples, self.others
        said = (
            f"{self.name}: round trip: compiled, agrees with the original on {held}/{run} "
            f"example{'s' * (run != 1)} and {other_held}/{other_run} other "
            f"input{'s' * (other_run != 1)}"
        )
        return redact(said + (f" (differs at {self.differs})" if self.differs else ""))


def summary(agreements: Sequence[Agreement]) -> str:
    """The run's last line: how many functions compiled and answer as the original does."""
    compiled = [a for a in agreements if not a.problem]
    same = sum(a.agrees for a in compiled)
    return (
        f"round trip: {len(agreements)} function{'s' * (len(agreements) != 1)}: {same} "
        f"compiled and agree{'s' * (same == 1)} with the original on every input run, "
        f"{len(compiled) - same} compiled and differ{'s' * (len(compiled) - same == 1)}, "
        f"{len(agreements) - len(compiled)} did not compile"
    )


@contextmanager
def recompiler(model: RunModel, progress: Progress) -> Iterator[Recompiler]:
    """A recompiler whose outputs go in a temporary folder, removed at the end."""
    with tempfile.TemporaryDirectory(prefix="marshalike-round-trip-") as folder:
        yield Recompiler(model, Path(folder), progress)


class Recompiler:
    """Compiles decompiled specs with the run's model and settings, the specs of each
    folder into a folder of their own under `folder` (a `# use` needs the used spec's
    module beside its user's; two folders may hold modules of the same name), and compares
    each compiled function with the original."""

    def __init__(self, model: RunModel, folder: Path, progress: Progress) -> None:
        self._model = model
        self._folder = folder
        self._progress = progress
        self._runs: dict[Path, CompileRun] = {}

    def check(self, spec: Path, done: Decompiled) -> list[Agreement]:
        """Compile the spec at `spec` (decompiled as `done`) and compare each of its
        functions with the original's answers. Raises what the compile raises where it
        cannot start or reach its model."""
        run = self._run(spec.parent)
        report = run.compile(spec)
        others = {
            f.name: f.measured.others() for f in done.functions if f.measured and not f.refused
        }
        module = load_spec(spec, run.graph).module
        problem = _spec_problem(report)
        if problem or module is None:
            return [Agreement(name, problem or "the spec has errors") for name in others]
        failed = {u.name: _one_line(u.failures) for u in report.units if u.status == "failed"}
        compiled = [f for f in module.funcs if f.name in others and f.name not in failed]
        out = run.job.out
        assert out is not None  # `_run` set it: never beside the user's code
        used = declared_records(run.graph, spec)
        found = _compare(module, compiled, others, out, run.job.loop.limits, used)
        return [Agreement(name, failed[name]) if name in failed else found[name] for name in others]

    def _run(self, folder: Path) -> CompileRun:
        key = folder.resolve()
        if key not in self._runs:
            out = self._folder / str(len(self._runs))
            job = replace(self._model.job(), out=out)
            self._runs[key] = CompileRun(job, self._progress, self._model.shared())
        return self._runs[key]


def _compare(
    module: Module,
    funcs: Sequence[Func],
    answers: dict[str, tuple[Example, ...]],
    out: Path,
    limits: Limits,
    used_records: Sequence[str] = (),
) -> dict[str, Agreement]:
    """Each compiled function of `funcs` run on the spec's examples and on the other
    calls the original answered (`answers`), the expected values the original's answers."""
    types = [t.name for t in module.types]
    examples = {f.name: cases_of(f, types) for f in funcs}
    others = {f.name: _cases(f, answers[f.name], types) for f in funcs}
    cases = [c for f in funcs for c in (*examples[f.name], *others[f.name])]
    if not cases:
        return {f.name: Agreement(f.name) for f in funcs}
    compiled = _compiled(out, module.name)
    if compiled is None:
        return {f.name: Agreement(f.name, "no module was written") for f in funcs}
    source, extra = compiled
    oracle = Oracle(
        cases,
        emit.module_source(module, {}, spec_name=f"{module.name}.mrsh", spec_hash=""),
        module_name=module.name,
        limits=limits,
        records=records_of(module, module.name, used_records),
        extra_files=extra,
        keep_docstrings=True,  # the user's own module, run as it is
    )
    results = iter(verify(source, oracle).results)
    found: dict[str, Agreement] = {}
    for func in funcs:
        mine = [(c, next(results)) for c in examples[func.name]]
        theirs = [(c, next(results)) for c in others[func.name]]
        differs = [_difference(c, r) for c, r in [*mine, *theirs] if r.status != "pass"]
        found[func.name] = Agreement(
            func.name, "", _tally(mine), _tally(theirs), differs[0] if differs else ""
        )
    return found


def _cases(func: Func, answers: Sequence[Example], types: Sequence[str]) -> list[Case]:
    """The cases of the original's `answers`, numbered after the spec's examples."""
    float_ok = "float" in annotation(func.returns, set(types)) if func.returns else False
    found: list[Case] = []
    for answer in answers:
        test = f"test_{func.name}_{len(func.examples) + len(found) + 1}"
        raised = answer.expected.removeprefix("raises ")
        if raised != answer.expected:
            found.append(Case(test, answer.call, "raises", None, raised, float_ok))
        else:
            found.append(Case(test, answer.call, "returns", answer.expected, None, float_ok))
    return found


def _compiled(out: Path, name: str) -> tuple[str, dict[str, str]] | None:
    """The compiled module (its best attempt where a function of it failed and no module
    was written) and the other modules compiled beside it, which it may import."""
    written = out / f"{name}.py"
    path = written if written.is_file() else out / f"{name}.failed.py"
    if not path.is_file():
        return None
    extra = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(out.glob("*.py"))
        if p.name != written.name and not p.name.startswith("test_")
        and not p.name.endswith(".failed.py")
    }  # fmt: skip
    return path.read_text(encoding="utf-8"), extra


def _spec_problem(report: SpecReport) -> str:
    """Why no function of the spec compiled, if none did."""
    if report.problem:
        return _one_line([report.problem])
    errors = [d.message for d in report.diagnostics if d.is_error]
    return f"the spec has errors: {_one_line(errors)}" if errors else ""


def _tally(pairs: Sequence[tuple[Case, ExampleResult]]) -> tuple[int, int]:
    return sum(r.status == "pass" for _, r in pairs), len(pairs)


def _difference(case: Case, result: ExampleResult) -> str:
    """`call: what the compiled code did, not what the original did`."""
    original = case.expected if case.outcome == "returns" else f"raises {case.exception}"
    if result.status == "fail":
        did = result.actual or "?"
    elif result.status == "timeout":
        did = "did not finish in time"
    elif result.error_type == "Failed":  # it returned where the original raised
        did = result.actual or "returned"
    elif result.error_type in ("CollectionError", "ProcessDied", "InvalidExample"):
        did = _one_line([result.message or result.error_type])
    else:
        did = f"raises {result.error_type}"
    return f"{case.call}: {did}, not {original}"


def _one_line(reasons: Sequence[str]) -> str:
    """The first reason, on one line and cut short."""
    text = " ".join((reasons[0] if reasons else "it failed").split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
