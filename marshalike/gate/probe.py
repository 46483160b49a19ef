"""The probe gate: code that passes its function's examples, run on inputs no example
covers (mutations of the examples that the description does not rule out) and turned away
when it shows a sign of having been fitted to the examples rather than to the description:
a sign visible without running it (`overfit.static_sign`), a crash or a refusal the
description does not promise (`overfit.crash`), a value that is no plain value, or a value
of another type than the declared one (`return_kinds.mistyped`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from marshalike.gate import consensus, domain, overfit, return_kinds
from marshalike.gate.mutate import mutated_calls
from marshalike.language.spec import Func, Module
from marshalike.language.typemap import ANY, annotation
from marshalike.sandbox.isolation import Limits


def probe_calls(func: Func, seed: int) -> tuple[str, ...]:
    """The extra inputs candidates run on: mutations of the examples that the description
    does not rule out (`domain`)."""
    return mutated_calls(func, seed=seed, keep=domain.admits(func))


def declared_return(module: Module, func: Func) -> str:
    """The annotation of the return type the spec states in words; ANY where it states none
    (the stub's annotation may be inferred from the examples, which promise nothing)."""
    if not func.returns:
        return ANY
    return annotation(func.returns, {t.name for t in module.types})


@dataclass(frozen=True)
class ProbeGate:
    """The gate for one function: `module_for` builds the module a piece of code is run in,
    `calls` are the probe inputs, `returns` the declared return type's annotation."""

    func: Func
    module_for: Callable[[str], str]
    module_name: str
    calls: tuple[str, ...]
    returns: str
    limits: Limits
    extra_files: Mapping[str, str] = field(default_factory=dict)
    records: tuple[str, ...] = ()

    def reason(self, code: str) -> str | None:
        """Why the gate turns `code` (which passes the examples) away; None if it does not."""
        if reason := overfit.static_sign(code, self.func):
            return reason  # no sandbox run needed
        if not self.calls:
            return None
        outcomes = consensus.probe_outcomes(
            self.module_for(code),
            module_name=self.module_name,
            calls=self.calls,
            limits=self.limits,
            extra_files=self.extra_files,
            records=self.records,
        )
        pairs = zip(self.calls, outcomes, strict=True)
        foreign = next((f"{c} returned {o.foreign}" for c, o in pairs if o.foreign), None)
        return (
            foreign
            or overfit.crash(self.func, code, self.calls, outcomes)
            or return_kinds.mistyped(self.calls, outcomes, self.returns, self.func.description)
        )
