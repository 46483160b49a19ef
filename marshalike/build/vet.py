"""The module compile writes is held to what the loop holds a model's code to, before a
byte of it is written. Code taken from the lock (a file anyone with write access can
change) must pass extraction's checks; and the module as written, every function's code
together, must pass the examples of every verified unit in the sandbox, each unit having
been verified in a module of its own code and its dependencies'. (An "unchecked" unit has
no example to run, and is reused only with --allow-unchecked.) Its test file must not fail
under plain pytest either, run in the sandbox beside it (`under_pytest`, fail-only)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from marshalike.build.plan import Plan, callee_code
from marshalike.build.uses import Used
from marshalike.language.spec import Module
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.under_pytest import pytest_failures
from marshalike.sandbox.verify import verify_module
from marshalike.synth import verdict_text
from marshalike.synth.extract import refusal

_RECOMPILE = "; delete the lock file (or that unit in it) to compile it again"


def vet_locked(
    module: Module,
    plan: Plan,
    used: Used,
    taken: Mapping[str, str],
    codes: Mapping[str, str | None],
    module_text: str,
    lock_file: Path,
    limits: Limits,
    verified: Collection[str] = (),
) -> str | None:
    """Why the module `module_text` may not be written, or None: code `taken` from the
    lock (function name to code) that extraction refuses, or the module failing the
    examples of a function `taken` or `verified` (each verified in a module of its own and
    its dependencies: in the module written, one function's helper or import can rebind a
    name another's code uses). `codes` is the code of every function compiled."""
    for name, code in taken.items():
        refused = _static_problem(module, plan, used, name, code, codes)
        if refused is not None:
            return f"{lock_file}: the code stored for {name} {refused}{_RECOMPILE}"
    judged = set(taken) | set(verified)
    if not judged:
        return None
    verdict = verify_module(
        module,
        module_text,
        module_name=module.name,
        limits=limits,
        extra_files=used.files,
        uses=used.imports,
        used_records=used.records,
        used_types=used.types,
    )
    failing = [r for r in verdict.results if r.status != "pass" and r.func in judged]
    if verdict.problem is not None and not failing:
        failing = [r for r in verdict.results if r.status != "pass"]
    if not failing:
        return None
    first = failing[0]
    func = module.func(first.func) if first.func else None
    said = (verdict_text.describe(first, func, limits.timeout_s) or "").strip()
    said = said.splitlines()[0] if said else first.status
    who = ", ".join(sorted({r.func or r.test for r in failing}))
    if any(r.func in taken for r in failing):
        return f"{lock_file}: the code stored for {who} fails its examples ({said}){_RECOMPILE}"
    return (
        f"the module made of the verified functions fails {who}'s examples ({said}): one "
        "function's code rebinds a name another's uses (a helper or an import of the same "
        "name); nothing was written"
    )


def vet_tests(
    files: Mapping[str, str],
    test_file: str,
    limits: Limits,
    used_tests: Mapping[str, str] | None = None,
) -> str | None:
    """Why the test file `test_file` of `files` (the module, its tests, the modules they
    import) may not be written, or None: it fails under plain pytest, though the verifier
    passed every example (code that breaks what pytest runs around its tests, or that is
    right only where it senses the verifier); or, run in one session with `used_tests`
    (the used specs' test files, which a user's `pytest` in the folder runs with it), one
    of them fails, before or after it: code that changes state of a used module (a table
    its own code keeps) that no example of its own reads, or a used function right only on
    its first call in a process, which the used spec's own tests make."""
    others = sorted(name for name in used_tests or {} if name != test_file)
    together = {**files, **(used_tests or {})}
    # The file first, then the others: its own run and the first of the two orders at once.
    orders = [[test_file, *others], [*others, test_file]] if others else [[test_file]]
    for order in orders:
        failures = pytest_failures(together, order, limits)
        if not failures:
            continue
        if order[0] == test_file and test_file in failures:
            return (
                f"{test_file} fails under pytest ({failures[test_file]}), though the verifier "
                "passed every example: the code changes what pytest runs around its tests, or "
                "behaves otherwise outside the verifier; nothing was written"
            )
        name, why = next(iter(failures.items()))
        return (
            f"{name} fails when run in one pytest session with {test_file} ({why}), "
            "though each passes alone: the code of the spec or of a spec it uses changes "
            "state the other's tests read, as a user's `pytest` in the folder would find; "
            "nothing was written"
        )
    return None


def _static_problem(
    module: Module,
    plan: Plan,
    used: Used,
    name: str,
    code: str,
    codes: Mapping[str, str | None],
) -> str | None:
    func = module.func(name)
    if func is None:
        return None
    # The names the loop's extraction knew for this unit: a copy of one is dropped there.
    deps = callee_code(plan, name, codes)
    known = {t.name for t in module.types} | set(used.code) | set(deps)
    why = refusal(code, func, known, local_modules=tuple(used.imports))
    return None if why is None else "is refused: " + why
