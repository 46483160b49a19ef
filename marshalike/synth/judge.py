"""How the loop judges what the model returns for one unit: each completion extracted into
code, each distinct code run once against the unit's examples in the sandbox (`verify`) and,
with the probe gate on, judged by it (`gate.probe`). The tally keeps every distinct code seen
in the unit, its verdicts and how often it was sampled, so a code sampled again is never run
again.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from marshalike.backends.base import Completion
from marshalike.codegen import emit
from marshalike.gate.probe import ProbeGate, Refusal, declared_return, probe_calls
from marshalike.language.naming import parse_or_none
from marshalike.language.spec import Example
from marshalike.sandbox.oracle import Oracle, cases_of, example_tests, records_of
from marshalike.sandbox.verify import Verdict, verify
from marshalike.synth import prompts
from marshalike.synth.extract import extract
from marshalike.synth.holdout import held_out, shown_context, test_name
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.prompts import UnitContext


@dataclass(frozen=True)
class Candidate:
    completion: Completion
    code: str | None
    problems: tuple[str, ...]
    verdict: Verdict | None
    fragile: str | None = None  # why the probe gate rejects it, though it passes
    # The inputs the spec is silent about where it crashed, with what happened, where that
    # is why (`Refusal.open_calls`).
    open_calls: tuple[tuple[str, str], ...] = ()

    @property
    def score(self) -> tuple[bool, int, bool]:
        passed = self.verdict.passed if self.verdict else 0
        return (self.code is not None and not self.problems, passed, self.fragile is None)


# Builds the module a candidate is tested in: the module's types, the verified code of the
# unit's dependencies and the candidate itself.
ModuleFor = Callable[[str], str]


@dataclass(frozen=True)
class Harness:
    """Where candidates are tested: their module, the unit's tests and what they run."""

    module_for: ModuleFor
    oracle: Oracle  # the unit's examples and their expected values
    module_name: str
    names: tuple[str, ...]  # the tests of the unit's checkable examples
    held_example: Example | None  # the example no prompt shows, if one is held back
    held: str | None  # its test
    # The probe gate, its inputs drawn from the examples the prompts show (None: off).
    gate: ProbeGate | None
    rank_calls: tuple[str, ...]  # consensus inputs from all the examples


@dataclass
class Tally:
    candidates: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seen: dict[str, Candidate] = field(default_factory=dict)
    fragile: dict[str, Refusal | None] = field(default_factory=dict)  # the probe gate's verdicts
    samples: Counter[str] = field(default_factory=Counter)  # how often each code was sampled


def make_harness(
    ctx: UnitContext,
    settings: LoopSettings,
    *,
    module_for: ModuleFor,
    module_name: str,
) -> Harness:
    """Where the unit's candidates are tested, with the example held back (if any) and the
    probe inputs the settings ask for. The expected values come from the module with a
    stub in place of the unit's function (`oracle.Oracle`)."""
    held = held_out(ctx.func) if settings.holds_out else None
    shown = shown_context(ctx, held)
    types = [t.name for t in ctx.module.types]
    oracle = Oracle(
        cases_of(ctx.func, types),
        module_for(emit.stub_source(ctx.module, ctx.func)),
        module_name=module_name,
        limits=settings.limits,
        records=records_of(ctx.module, module_name, settings.support_records),
        extra_files=settings.support_files,
        used_types=settings.support_types,
        # Expected values are computed without the dependencies' code: its helpers and
        # imports could rebind a name an expected value reads (`sum`).
        trusted_source=emit.module_source(
            ctx.module, {}, spec_name="", spec_hash="", uses=settings.support_imports
        ),
    )
    gate = ProbeGate(
        ctx.func,
        module_for,
        module_name,
        calls=probe_calls(shown.func, settings.seed),
        returns=declared_return(ctx.module, ctx.func),
        limits=settings.limits,
        extra_files=settings.support_files,
        records=oracle.records,
    )
    return Harness(
        module_for,
        oracle,
        module_name,
        example_tests(ctx.func),
        held_example=held,
        held=test_name(ctx.func, held),
        gate=gate if settings.probes else None,
        rank_calls=probe_calls(ctx.func, settings.seed) if settings.rank == "consensus" else (),
    )


def judge(
    ctx: UnitContext,
    shown: UnitContext,
    completions: Sequence[Completion],
    settings: LoopSettings,
    tally: Tally,
    harness: Harness,
) -> list[Candidate]:
    """One attempt's completions as candidates: extracted, verified against the examples
    (each distinct code once) and, with the probe gate, judged by it."""
    batch = [_candidate(ctx, shown, c, settings, tally) for c in completions]
    if harness.names:
        batch = _verify_all(batch, settings, tally, harness)
    if harness.gate is not None:
        batch = _gate(batch, harness.gate, settings, tally)
    return batch


def _candidate(
    ctx: UnitContext,
    shown: UnitContext,
    completion: Completion,
    settings: LoopSettings,
    tally: Tally,
) -> Candidate:
    tally.candidates += 1
    tally.prompt_tokens += completion.prompt_tokens
    tally.completion_tokens += completion.completion_tokens
    stub = prompts.completion_stub(shown) if settings.kind == "completion" else None
    # The module already defines its types and the unit's dependencies: a candidate's own
    # copies of them are dropped rather than allowed to shadow the real ones.
    known = {t.name for t in ctx.module.types} | set(ctx.dependencies)
    # The used specs' modules may be imported (`from geometry import Point`), as the
    # generated module imports their functions.
    result = extract(
        completion.text, ctx.func, prompt_kind=settings.kind, stub=stub, known_names=known,
        local_modules=tuple(settings.support_imports),
    )  # fmt: skip
    code = result.code if result.code else None
    if code is not None and settings.kind == "completion":
        code = prompts.with_header_imports(code)
        if shown is not ctx:  # the generated docstring lists every example again
            code = code.replace(stub or "", prompts.completion_stub(ctx), 1)
    return Candidate(completion, code, tuple(result.problems), None)


def _verify_all(
    batch: list[Candidate], settings: LoopSettings, tally: Tally, harness: Harness
) -> list[Candidate]:
    """Verify each distinct valid candidate once; identical code reuses its verdict."""
    todo: dict[str, str] = {}
    for cand in batch:
        if cand.code is not None and not cand.problems:
            todo.setdefault(fingerprint(cand.code), cand.code)
    todo = {fp: code for fp, code in todo.items() if fp not in tally.seen}

    def run(code: str) -> Verdict:
        return verify(harness.module_for(code), harness.oracle)

    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        verdicts = dict(zip(todo, pool.map(run, todo.values()), strict=True))
    out = []
    for cand in batch:
        if cand.code is None or cand.problems:
            out.append(cand)
            continue
        fp = fingerprint(cand.code)
        if fp in verdicts and fp not in tally.seen:  # the text verified: the first one's
            tally.seen[fp] = Candidate(cand.completion, cand.code, (), verdicts[fp])
        tally.samples[fp] += 1
        out.append(tally.seen[fp])
    return out


def _gate(
    batch: list[Candidate], gate: ProbeGate, settings: LoopSettings, tally: Tally
) -> list[Candidate]:
    """Mark the passing candidates the probe gate rejects; each distinct code is judged
    once. The probe inputs come from the examples the prompts show, since a repair prompt
    may quote them."""
    todo: dict[str, str] = {}
    for cand in batch:
        if passes(cand) and cand.code is not None:
            todo.setdefault(fingerprint(cand.code), cand.code)
    todo = {fp: code for fp, code in todo.items() if fp not in tally.fragile}

    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        tally.fragile.update(zip(todo, pool.map(gate.refusal, todo.values()), strict=True))
    return [gated(c, tally) if passes(c) and c.code else c for c in batch]


def gated(cand: Candidate, tally: Tally) -> Candidate:
    """`cand` with the probe gate's verdict on its code, if the gate judged it."""
    refusal = tally.fragile.get(fingerprint(cand.code or ""))
    if refusal is None:
        return replace(cand, fragile=None, open_calls=())
    return replace(cand, fragile=refusal.reason, open_calls=refusal.open_calls)


def fingerprint(code: str) -> str:
    tree = parse_or_none(code, mode="exec")
    return code if tree is None else ast.dump(tree)


def size(code: str | None) -> int:
    """Syntax nodes in ``code`` (its length where it does not parse)."""
    tree = parse_or_none(code or "", mode="exec")
    return len(code or "") if tree is None else sum(1 for _ in ast.walk(tree))


def passes(cand: Candidate) -> bool:
    """Passes every checkable example and, with the probe gate, is not rejected by it."""
    ok = cand.verdict is not None and cand.verdict.ok
    return ok and not cand.problems and cand.fragile is None


def passing_codes(tally: Tally) -> dict[str, int]:
    """Each distinct code that passes the examples (and the probe gate), with how often it
    was sampled."""
    return {
        cand.code: tally.samples[fp]
        for fp, cand in tally.seen.items()
        if cand.code is not None and passes(gated(cand, tally))
    }
