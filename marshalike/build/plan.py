"""The plan: one unit per function, in dependency order, each with a content hash.

A function depends on another function of its module when it names it in its description
or its examples. A unit's key hashes what its generated code may depend on: its own spec
text, the module's types, its dependencies' keys, the model and the prompt templates. The
lock maps keys to verified code, so an unchanged unit costs nothing. A unit's intent hashes
the same less the examples: where only examples changed, the candidates an earlier compile
saw are tried again before the model is asked.
"""

from __future__ import annotations

import graphlib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from marshalike.language.codes import Code
from marshalike.language.diagnostics import Diagnostic
from marshalike.language.spec import Func, Module


@dataclass(frozen=True)
class Unit:
    func: Func
    deps: tuple[str, ...]
    key: str
    # What the code is asked to do apart from the examples: the signature, the description
    # and the module's types. Candidates of an earlier compile with the same intent may be
    # reused once examples are added (the lock's `alternatives`).
    intent: str = ""


@dataclass(frozen=True)
class Plan:
    units: tuple[Unit, ...]  # in dependency order
    diagnostics: tuple[Diagnostic, ...]

    def unit(self, name: str) -> Unit:
        return next(u for u in self.units if u.func.name == name)

    def closure(self, names: Iterable[str]) -> set[str]:
        """The functions named (those of the plan) and every function they call, at any
        depth."""
        known = {u.func.name for u in self.units}
        found: set[str] = set()
        pending = [name for name in names if name in known]
        while pending:
            name = pending.pop()
            if name not in found:
                found.add(name)
                pending.extend(self.unit(name).deps)
        return found


def dependencies(module: Module, func: Func) -> tuple[str, ...]:
    text = func.description + "\n" + "\n".join(e.text for e in func.examples)
    names = [f.name for f in module.funcs if f.name != func.name]
    return tuple(sorted(n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}\b", text)))


def make_plan(module: Module, *, model: str, template_version: str) -> Plan:
    graph = {f.name: dependencies(module, f) for f in module.funcs}
    order, diagnostics = _order(module, graph)
    if diagnostics:
        return Plan(units=(), diagnostics=tuple(diagnostics))
    types_text = "\n".join(t.text for t in module.types)
    keys: dict[str, str] = {}
    units = []
    for name in order:
        func = module.func(name)
        assert func is not None
        deps = graph[name]
        parts = [func.text, types_text, model, template_version, *(keys[d] for d in deps)]
        keys[name] = _hash(parts)
        intent = _hash([func.name, *(f"{p.name}: {p.type}" for p in func.params),
                        func.returns or "", func.description, types_text])  # fmt: skip
        units.append(Unit(func=func, deps=deps, key=keys[name], intent=intent))
    return Plan(units=tuple(units), diagnostics=tuple(diagnostics))


def _order(module: Module, graph: dict[str, tuple[str, ...]]) -> tuple[list[str], list[Diagnostic]]:
    sorter = graphlib.TopologicalSorter(graph)
    try:
        return list(sorter.static_order()), []
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        func = module.func(cycle[0])
        assert func is not None
        names = " -> ".join(cycle)
        diagnostic = Diagnostic(
            "error",
            Code.FUNCTION_CYCLE,
            f"functions refer to each other in a cycle ({names}); their compile order is undefined",
            func.name_span,
            path=module.path,
            hint="describe the shared logic in one function, or drop one of the references",
        )
        return [], [diagnostic]


def _hash(parts: list[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return "sha256:" + digest.hexdigest()


def callee_code(plan: Plan, name: str, codes: Mapping[str, str | None]) -> dict[str, str]:
    """The code of what function `name` calls, at any depth, where `codes` has it."""
    names = plan.closure(plan.unit(name).deps)
    return {n: code for n in sorted(names) if (code := codes.get(n)) is not None}
