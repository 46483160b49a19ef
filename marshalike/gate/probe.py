"""The probe gate: code that passes its function's examples, run on inputs no example
covers (mutations of the examples that the description does not rule out) and turned away
when it shows a sign of having been fitted to the examples rather than to the description:
a sign visible without running it (`overfit.static_sign`), a crash or a refusal the
description does not promise (`overfit.crash`), a value that is no plain value, or a value
of another type than the declared one (`return_kinds.mistyped`).

A crash is the one sign right code shows too: `max_element([])` raises IndexError in a
correct solution of a spec that never says whether `[]` is an input. Such a refusal, where
the description does not speak of that kind of input (`overfit.speaks_of`), keeps its
inputs (`Refusal.open_calls`), and where it is all that stands between the loop and a
verified function, the loop asks instead of failing (`synth.loop`)."""

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
        refusal = self.refusal(code)
        return refusal.reason if refusal else None

    def refusal(self, code: str) -> Refusal | None:
        """Why the gate turns `code` (which passes the examples) away, and, where that is
        behaviour on an input the spec neither allows nor rules out, the input; None if the
        gate lets it through."""
        if reason := overfit.static_sign(code, self.func):
            return Refusal(reason)  # no sandbox run needed
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
        if foreign := next((f"{c} returned {o.foreign}" for c, o in pairs if o.foreign), None):
            return Refusal(foreign)
        if crashed := list(overfit.crashes(self.func, code, self.calls, outcomes)):
            call, said = crashed[0]
            if overfit.speaks_of(self.func, call):
                return Refusal(said)
            silent = tuple((c, why) for c, why in crashed if not overfit.speaks_of(self.func, c))
            return Refusal(said, open_calls=silent)
        mistyped = return_kinds.mistyped(self.calls, outcomes, self.returns, self.func.description)
        return Refusal(mistyped) if mistyped else None


@dataclass(frozen=True)
class Refusal:
    """Why the gate turns code away. `open_calls` are set where the reason is a crash or a
    refusal on an input the spec is silent about: not proof of code fitted to the examples
    (right code crashes there too) but a question for the spec's author. They are each
    such input the code crashed on, the first the reason's, with what happened there."""

    reason: str
    open_calls: tuple[tuple[str, str], ...] = ()

    @property
    def open_call(self) -> str | None:
        """The input of the reason, where the spec is silent about it."""
        return self.open_calls[0][0] if self.open_calls else None
