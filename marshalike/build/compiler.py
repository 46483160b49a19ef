"""Compile one spec: load, plan, reuse what the lock has, run the loop for the rest in
dependency order (independent units concurrently), then write the module, its tests and the
lock (`writing`). Only code that passed its examples reaches NAME.py; a failure leaves the
last good output alone and writes the best attempt to NAME.failed.py."""

from __future__ import annotations

import graphlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from marshalike.backends.base import Backend, Completion, Prompt, Sampling, each_completion
from marshalike.build.lock import LockedUnit, lock_path, read_lock
from marshalike.build.output import (
    OutputError,
    cannot_write,
    claim_outputs,
    edited_output,
    ensure_writable,
    foreign_output,
    name_problem,
    spec_lock,
)
from marshalike.build.plan import Plan, Unit, callee_code, make_plan
from marshalike.build.results import CachedUnit, CompileJob, Compiling, SpecReport
from marshalike.build.shadows import hides_installed, shadow, stranger
from marshalike.build.uses import Used, module_imports, not_compiled, scoped_types
from marshalike.build.writing import write_outputs
from marshalike.codegen import emit
from marshalike.codegen.module_main import SUPPORT_MODULE
from marshalike.language.graph import SpecGraph
from marshalike.language.load import load_spec
from marshalike.language.spec import Module
from marshalike.synth import prompts
from marshalike.synth.cancel import Cancel, raise_if_cancelled
from marshalike.synth.events import SpecObserve, UnitEvent, for_module
from marshalike.synth.loop import UnitOutcome, blocked_outcome, compile_unit
from marshalike.synth.prompts import UnitContext, used_types_shown

Progress = Callable[[str], None]


@dataclass
class SharedBackend:
    """The one backend of a compile, created on first need: a local model loads once."""

    job: CompileJob
    _backend: Backend | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # As a Backend itself, it creates the backend at the first model call, not before: a
    # unit that reuses an earlier candidate never loads a model.
    name: str = field(init=False)
    model: str = field(init=False)

    def __post_init__(self) -> None:
        self.name, self.model = self.job.backend_name, self.job.model_id

    def backend(self) -> Backend:
        with self._lock:
            if self._backend is None:
                self._backend = self.job.backend_factory()
            return self._backend

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        return self.backend().generate(prompt, sampling)

    def generate_each(self, prompt: Prompt, sampling: Sampling) -> Iterable[tuple[int, Completion]]:
        """As the backend gives them (`each_completion`): a list when all come at once."""
        return each_completion(self.backend(), prompt, sampling)


class CompileRun:
    """One compile of some specs: each spec, and each spec they use, compiles at most once
    in a run, a used spec before its users. The run holds its reports and reads specs
    through its graph, so a new run (watch mode starts one per batch) compiles every spec
    it is asked for again; the lock makes the unchanged units free."""

    def __init__(
        self,
        job: CompileJob,
        progress: Progress,
        shared: SharedBackend | None = None,
        graph: SpecGraph | None = None,
        observe: SpecObserve | None = None,
    ) -> None:
        self.job = job
        self.progress = progress
        self.observe = observe
        self.shared = shared or SharedBackend(job)
        self.graph = graph or SpecGraph()
        self.reports: dict[Path, SpecReport] = {}
        self.outputs: dict[Path, Path] = {}  # each output file -> the spec writing it

    def claim(self, path: Path, out_dir: Path, module_name: str) -> str | None:
        """Why the spec at `path` may not write its outputs: another spec of this run
        writes one of them (`a/x.mrsh` and `b/x.mrsh` into one folder, or `x.mrsh` and
        `test_x.mrsh`, which both write `test_x.py`); None once they are its own."""
        return claim_outputs(self.outputs, self.graph.key(path), out_dir, module_name)

    def compile(
        self, path: Path, *, cancel: Cancel | None = None, only: frozenset[str] = frozenset()
    ) -> SpecReport:
        """Compile the spec at `path` (and, first, the specs it uses) unless this run has.
        Setting `cancel` while it runs makes it raise `Cancelled` at the next unit or
        attempt, having written nothing. With `only`, just those functions of it and what
        they call (the editor's "Compile this function"); the rest that need the model wait
        for a compile of the whole spec (`SpecReport.deferred`)."""
        key = self.graph.key(path)
        if key not in self.reports:
            self.reports[key] = _compile_spec(path, self, cancel, only)
        return self.reports[key]


def compile_path(
    path: Path,
    job: CompileJob,
    progress: Progress,
    shared: SharedBackend | None = None,
    *,
    cancel: Cancel | None = None,
) -> SpecReport:
    """Compile the spec at `path` (and the specs it uses) in a run of its own."""
    return CompileRun(job, progress, shared).compile(path, cancel=cancel)


def _compile_spec(
    path: Path, run: CompileRun, cancel: Cancel | None, only: frozenset[str]
) -> SpecReport:
    job, progress, shared = run.job, run.progress, run.shared
    loaded = load_spec(path, run.graph)
    if loaded.module is None or loaded.has_errors:
        return SpecReport(str(path), loaded.source, loaded.diagnostics)
    module = loaded.module
    out_dir = job.out or path.parent
    clash = name_problem(module.name) or hides_installed(out_dir, module.name)
    if clash is not None:
        return SpecReport(str(path), loaded.source, loaded.diagnostics, problem=clash)
    ensure_writable(out_dir)  # before any model is asked for anything
    problem = run.claim(path, out_dir, module.name) or foreign_output(out_dir, module.name)
    # What `import NAME` of the outputs would run in their place, and a module of the
    # folder that the tests would import in an installed one's place.
    names = _generated_names(run.graph, path, module)
    for name in sorted(names):
        if problem is None and (why := shadow(out_dir, name, rewritten=name == module.name)):
            problem = f"{why}; then compile again"
    if problem is None and (why := stranger(out_dir, names)) is not None:
        problem = f"{why}; then compile again"
    if problem is not None:
        return SpecReport(str(path), loaded.source, loaded.diagnostics, problem=problem)
    used, problem = _compile_uses(path, module, out_dir, run, cancel)
    if problem is not None:
        return SpecReport(str(path), loaded.source, loaded.diagnostics, problem=problem)
    used = replace(used, types=scoped_types(module, used.imports, used.types))
    # Settings that change what a prompt shows change the key: holding an example back
    # gives the model a different prompt.
    kind = job.loop.kind + job.loop.prompt_variant
    version = f"{prompts.template_version()}:{kind}:{used.fingerprint}"
    plan = make_plan(module, model=job.model_id, template_version=version)
    diagnostics = loaded.diagnostics + plan.diagnostics
    if plan.diagnostics:
        return SpecReport(str(path), loaded.source, diagnostics)

    def waiting() -> None:
        progress(f"{module.name}: waiting for another compile of it to finish")

    # From reading the lock to writing it, one compile of this spec at a time: the second
    # then finds the first one's work in the lock.
    with spec_lock(out_dir, module.name, waiting):
        spec = Compiling(module, plan, used, cancel, for_module(run.observe, module.name), only)
        report = _compile_locked(spec, path, loaded.source, out_dir, job, progress, shared)
    return replace(report, diagnostics=diagnostics)


def _generated_names(graph: SpecGraph, path: Path, module: Module) -> set[str]:
    """The modules compile writes that the spec's tests import: its own, the support
    module, and those of the specs it uses at any depth."""
    used = (graph.file(reached.path).module for reached in graph.reached(path))
    return {module.name, SUPPORT_MODULE} | {u.name for u in used if u is not None}


def _compile_locked(
    spec: Compiling,
    path: Path,
    source: str,
    out_dir: Path,
    job: CompileJob,
    progress: Progress,
    shared: SharedBackend,
) -> SpecReport:
    lock = read_lock(lock_path(out_dir, spec.module.name), path.name)
    if (edited := edited_output(out_dir, spec.module.name, lock.outputs)) is not None:
        return SpecReport(str(path), source, problem=edited)  # before any model call
    need_verified = not job.loop.allow_unchecked
    cached = {
        u.func.name: lock.hit(u.func.name, u.key, need_verified=need_verified)
        for u in spec.plan.units
    }
    todo = [u.func.name for u in spec.plan.units if cached[u.func.name] is None]
    if todo and job.frozen:
        return SpecReport(str(path), source, stale=tuple(todo))
    earlier = {u.func.name: lock.earlier(u.func.name, u.intent) for u in spec.plan.units}
    deferred = _deferred(spec.plan, todo, spec.only)
    outcomes = _run_units(spec, cached, earlier, job, shared, progress, deferred)
    raise_if_cancelled(spec.cancel)  # the last moment: from here on the outputs are written
    try:
        return write_outputs(spec, source, path, out_dir, outcomes, lock, job, deferred)
    except OSError as exc:
        raise OutputError(cannot_write(exc)) from None


def _compile_uses(
    path: Path, module: Module, out_dir: Path, run: CompileRun, cancel: Cancel | None
) -> tuple[Used, str | None]:
    """What the specs `module` uses give it, each compiled in `run` first. A used spec
    compiles only once a spec that uses it has loaded clean, so a spec with errors costs
    no model call for the specs it uses."""
    used = Used()
    for use in module.uses:
        target = run.graph.target(path, use)
        report = run.compile(target, cancel=cancel)
        if not report.ok:
            return used, f"the used spec {use.path} did not compile{not_compiled(report)}"
        where = run.job.out or target.parent
        if where.resolve() != out_dir.resolve():
            return used, (
                f"the used spec {use.path} compiles into {where}, not {out_dir}: its module "
                "would not be importable; put the specs in one folder or pass --out DIR"
            )
        used = used.merged(report.exports)
    return used, None


def _deferred(plan: Plan, todo: list[str], only: frozenset[str]) -> tuple[str, ...]:
    """The functions needing the model that a compile of `only` leaves for later: all but
    those named and what they call."""
    if not only:
        return ()
    scope = plan.closure(only)
    return tuple(name for name in todo if name not in scope)


def _run_units(
    spec: Compiling,
    cached: dict[str, LockedUnit | None],
    earlier: dict[str, tuple[str, ...]],
    job: CompileJob,
    shared: SharedBackend,
    progress: Progress,
    deferred: tuple[str, ...] = (),
) -> dict[str, UnitOutcome | CachedUnit]:
    """The outcome of each unit but the deferred ones (whose callers are deferred too)."""
    module, plan = spec.module, spec.plan
    results: dict[str, UnitOutcome | CachedUnit] = {}
    sorter = graphlib.TopologicalSorter({u.func.name: u.deps for u in plan.units})
    sorter.prepare()
    with ThreadPoolExecutor(max_workers=max(1, job.loop.jobs)) as pool:
        running: dict[Future, str] = {}
        while sorter.is_active():
            raise_if_cancelled(spec.cancel)
            for name in sorter.get_ready():
                if name in deferred:
                    sorter.done(name)
                    continue
                hit = cached[name]
                if hit is not None:
                    results[name] = CachedUnit(
                        name, hit.status, hit.code, questions=hit.questions, strength=hit.strength
                    )
                    spec.observe(UnitEvent(name, "done", status="unchanged"))
                    sorter.done(name)
                    continue
                blocked = [d for d in plan.unit(name).deps if results[d].status == "failed"]
                if blocked:
                    results[name] = blocked_outcome(name, blocked)
                    sorter.done(name)
                    continue
                progress(f"{module.name}.{name}: compiling")
                spec.observe(UnitEvent(name, "queued"))
                unit = plan.unit(name)
                prior = earlier.get(name, ())
                running[pool.submit(_compile_one, spec, unit, results, prior, job, shared)] = name
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            raise_if_cancelled(spec.cancel)  # before a finished unit is reported
            for future in finished:
                name = running.pop(future)
                results[name] = future.result()
                progress(f"{module.name}.{name}: {results[name].status}")
                spec.observe(UnitEvent(name, "done", status=results[name].status))
                sorter.done(name)
    return results


def _compile_one(
    spec: Compiling,
    unit: Unit,
    results: dict[str, UnitOutcome | CachedUnit],
    prior: tuple[str, ...],
    job: CompileJob,
    shared: SharedBackend,
) -> UnitOutcome:
    module = spec.module
    deps = callee_code(spec.plan, unit.func.name, {n: r.code for n, r in results.items()})
    built = used_types_shown(module, unit.func, spec.used.types, spec.used.files)
    ctx = UnitContext(
        module=module, func=unit.func, dependencies={**spec.used.code, **built, **deps}
    )
    hash_ = emit.spec_hash(unit.func.text)
    spec_name = f"{module.name}.mrsh"
    imports = module_imports(module, spec.used.imports, spec.used.types)

    def module_for(code: str) -> str:
        code_map = {**deps, unit.func.name: code}
        return emit.module_source(
            module, code_map, spec_name=spec_name, spec_hash=hash_, uses=imports
        )

    return compile_unit(
        ctx,
        shared,
        replace(
            job.loop,
            support_files=dict(spec.used.files),
            support_records=spec.used.records,
            support_imports=dict(spec.used.imports),
            support_types=dict(spec.used.types),
        ),
        module_for=module_for,
        module_name=module.name,
        cancel=spec.cancel,
        prior=prior,
        observe=spec.observe,
    )
