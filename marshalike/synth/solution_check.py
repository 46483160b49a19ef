"""One given solution judged as the loop judges a candidate: first against its spec's
examples (the verifier, exact comparison, then the test file under pytest, as compile runs
it before writing), then, when it passes them all, by the probe gate on the inputs mutated
from the examples (`gate.probe`). Code known to be right that this turns away is a right
answer the compiler would throw away, so it measures the gate's price; code a person
wrote can be checked the same way.

Only a spec with one function and no `# use` is judged: elsewhere a function's test module
holds the code its dependencies compiled to, which a lone solution does not bring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from marshalike.codegen import emit
from marshalike.language.load import load_spec
from marshalike.language.spec import Module
from marshalike.sandbox.under_pytest import pytest_failure
from marshalike.sandbox.verify import verify
from marshalike.synth import judge
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.prompts import UnitContext
from marshalike.synth.verdict_text import describe

Outcome = Literal["accepted", "asked", "failing", "rejected", "unjudged"]


@dataclass(frozen=True)
class SolutionVerdict:
    """`accepted`: passes the examples and the gate; `asked`: passes the examples, and the
    gate's only objection is what it does on an input the spec is silent about, which the
    loop turns into a question and accepts; `failing`: fails an example; `rejected`: passes
    the examples, but the gate turns it away; `unjudged`: the spec is not one this can
    judge. `reason` says why for all but `accepted`."""

    outcome: Outcome
    reason: str = ""


def check_solution(spec: Path, code: str, settings: LoopSettings) -> SolutionVerdict:
    """The verdict on `code` (the function's whole definition, with any imports it needs)
    as a candidate for the only function of the spec at `spec`. `settings` decide what the
    loop would: the probe gate (`probe`), its inputs' seed, a held-back example, limits."""
    loaded = load_spec(spec)
    module = loaded.module
    if module is None or loaded.has_errors:
        return SolutionVerdict("unjudged", "the spec has errors")
    if len(module.funcs) != 1 or module.uses:
        return SolutionVerdict("unjudged", "more than one function or a # use")
    func = module.funcs[0]
    ctx = UnitContext(module=module, func=func, dependencies={})
    harness = judge.make_harness(
        ctx, settings, module_for=_module_for(spec, module), module_name=module.name
    )
    if not harness.names:
        return SolutionVerdict("unjudged", "no checkable example")
    verdict = verify(harness.module_for(code), harness.oracle)
    if not verdict.ok:
        failed = next((r for r in verdict.results if r.status != "pass"), None)
        said = describe(failed, func, settings.limits.timeout_s) if failed else None
        return SolutionVerdict("failing", verdict.problem or said or "no example ran")
    if (why := _under_pytest(spec, module, harness.module_for(code), settings)) is not None:
        return SolutionVerdict("failing", f"its test file fails under pytest ({why})")
    if not settings.probes:
        return SolutionVerdict("accepted")
    refusal = harness.gate.refusal(code) if harness.gate else None
    if refusal is None:
        return SolutionVerdict("accepted")
    return SolutionVerdict("asked" if refusal.open_call else "rejected", refusal.reason)


def _under_pytest(spec: Path, module: Module, text: str, settings: LoopSettings) -> str | None:
    """Why the test file compile would write beside the module `text` fails under plain
    pytest, as compile runs it before writing (`under_pytest`), or None."""
    tests = f"test_{module.name}.py"
    spec_hash = emit.spec_hash(module.funcs[0].text)
    test_text = emit.test_sources(
        module, spec_name=spec.name, spec_hash=spec_hash, uses={}, at=spec.parent / tests
    )[1]
    files = {f"{module.name}.py": text, tests: test_text}
    return pytest_failure(files, tests, settings.limits)


def _module_for(spec: Path, module: Module) -> judge.ModuleFor:
    """The generated module around a candidate, as the compiler writes it."""
    func = module.funcs[0]
    spec_hash = emit.spec_hash(func.text)

    def module_for(code: str) -> str:
        return emit.module_source(
            module, {func.name: code}, spec_name=spec.name, spec_hash=spec_hash
        )

    return module_for
