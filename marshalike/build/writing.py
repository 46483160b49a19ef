"""What a compile writes: the module, its tests and the lock where every function passed,
or the lock and the best attempt (NAME.failed.py) where one failed. Nothing is written
that `vet` would refuse, and a failure never replaces the last good output."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from marshalike.build.lock import Lock, LockedUnit, lock_path, lock_text, write_lock
from marshalike.build.output import file_hash, write_atomic, write_unit
from marshalike.build.plan import Unit
from marshalike.build.results import CachedUnit, CompileJob, Compiling, SpecReport
from marshalike.build.uses import Used, module_imports
from marshalike.build.vet import vet_locked, vet_tests
from marshalike.codegen import emit, lint, module_main
from marshalike.synth import prompts
from marshalike.synth.loop import UnitOutcome


def write_outputs(
    spec: Compiling,
    source: str,
    path: Path,
    out_dir: Path,
    outcomes: dict[str, UnitOutcome | CachedUnit],
    lock: Lock,
    job: CompileJob,
    deferred: tuple[str, ...] = (),
) -> SpecReport:
    """Write what a compile of `spec` (from `source`, at `path`) gave: where every function
    passed, the module, its tests and the lock, as one unit (`write_unit`), once `vet`
    finds nothing to refuse in them; where one failed, or some were left for later, the
    lock with what did pass, and the best attempt at NAME.failed.py beside the last good
    output."""
    module, plan = spec.module, spec.plan
    uses = module_imports(module, spec.used.imports, spec.used.types)
    spec_name = path.name
    spec_hash = emit.spec_hash(source)
    ordered = tuple(outcomes[u.func.name] for u in plan.units if u.func.name in outcomes)
    code = {o.name: o.code for o in ordered if o.code is not None}
    units = dict(lock.units)
    for unit in plan.units:
        outcome = outcomes.get(unit.func.name)
        if isinstance(outcome, UnitOutcome) and outcome.status != "failed" and outcome.code:
            units[unit.func.name] = _locked(unit, outcome, job)
    units = {name: u for name, u in units.items() if module.func(name) is not None}
    failed = [o for o in ordered if o.status == "failed"]
    failed_file = out_dir / f"{module.name}.failed.py"
    if failed:  # the best attempt beside the last good output, never over it
        write_atomic(
            failed_file,
            emit.module_source(module, code, spec_name=spec_name, spec_hash=spec_hash, uses=uses),
        )
    if failed or deferred:
        # The lock keeps what did pass, with the hashes of the outputs still in place; for
        # this text, the questions and failures of what failed, and what compiled when
        # some functions were left for later (a module is written whole or not at all).
        pending = {o.name: o.questions for o in failed if o.questions}
        failures = {o.name: o.failures[:_FAILURES_KEPT] for o in failed if o.failures}
        compiled = tuple(o.name for o in ordered if o.status != "failed") if deferred else ()
        partial = replace(lock, units=units, pending=pending, pending_hash=spec_hash,
                          failures=failures, compiled=compiled)  # fmt: skip
        write_lock(lock_path(out_dir, module.name), partial)
        shown = str(failed_file) if failed else None
        return SpecReport(str(path), source, units=ordered, failed_file=shown, deferred=deferred)
    module_file = out_dir / f"{module.name}.py"
    plain = emit.module_source(module, code, spec_name=spec_name, spec_hash=spec_hash, uses=uses)
    rules = lint.broken_rules(plain, emit.model_blocks(module, code), module_file)
    module_text = emit.module_source(
        module, code, spec_name=spec_name, spec_hash=spec_hash, uses=uses, lint=rules
    )
    full_text = module_main.append_main(module_text, module) if job.main else module_text
    tests_file = out_dir / f"test_{module.name}.py"
    tests_text = emit.test_sources(
        module, spec_name=spec_name, spec_hash=spec_hash, at=tests_file,
        uses=uses,
    )[1]  # fmt: skip
    files = {f"{module.name}.py": full_text, f"test_{module.name}.py": tests_text}
    if job.main and module_main.main_block(module):  # the same text for every spec
        files[module_main.SUPPORT_FILE] = module_main.support_source()
    # Nothing is written that extraction, the examples or pytest would refuse (`vet`); the
    # test file's pytest run goes on beside the module's verification.
    codes = {name: o.code for name, o in outcomes.items()}
    taken = {o.name: o.code for o in ordered if isinstance(o, CachedUnit) and o.code}
    where = lock_path(out_dir, module.name)
    verified = [o.name for o in ordered if o.status == "verified"]
    limits = job.loop.limits
    with ThreadPoolExecutor(1) as pool:
        under_pytest = pool.submit(vet_tests, {**spec.used.files, **files}, tests_file.name,
                                   limits, spec.used.tests)  # fmt: skip
        problem = vet_locked(spec.module, spec.plan, spec.used, taken, codes, module_text,
                             where, limits, verified)  # fmt: skip
        problem = problem or under_pytest.result()
    if problem is not None:  # nothing is written: no unit is shown as if it were
        return SpecReport(str(path), source, problem=problem)
    outputs = {name: file_hash(text) for name, text in files.items()}
    new_lock = Lock(spec=spec_name, spec_hash=spec_hash, units=units, outputs=outputs, lint=rules)
    # The lock first: if the files after it are never written, the next compile finds
    # their code in it and needs no model call to write them.
    lock_name = lock_path(out_dir, module.name).name
    texts = {lock_name: lock_text(new_lock), **files}
    written = tuple(name for name in write_unit(out_dir, module.name, texts) if name in files)
    failed_file.unlink(missing_ok=True)
    exports = Used(
        imports={module.name: tuple(f.name for f in module.funcs)},
        types={t.name: module.name for t in module.types},
        code=code,
        files={**spec.used.files, f"{module.name}.py": full_text},
        tests={**spec.used.tests, tests_file.name: tests_text},
        records=(*spec.used.records, *(f"{module.name}.{t.name}" for t in module.types)),
    )
    return SpecReport(str(path), source, units=ordered, written=written, exports=exports)


_FAILURES_KEPT = 5  # of a failed function's failures, the first few go in the lock


def _locked(unit: Unit, outcome: UnitOutcome, job: CompileJob) -> LockedUnit:
    return LockedUnit(
        key=unit.key,
        code=outcome.code or "",
        status=outcome.status,
        deps=unit.deps,
        backend=job.backend_name,
        model=job.model_id,
        prompt_template=prompts.template_version(),
        sampling=job.loop.recorded(),
        attempts=outcome.attempts,
        candidates=outcome.candidates,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        seconds=round(outcome.seconds, 3),
        questions=outcome.questions,
        strength=outcome.strength,
        intent=unit.intent,
        alternatives=outcome.alternatives,
    )
