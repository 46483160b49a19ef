"""The verification and repair loop for one unit (one function).

Attempt 1 samples N candidates from the first prompt; each distinct, valid candidate runs the
unit's example tests in the sandbox. The loop stops at the first attempt with a candidate that
passes every checkable example. Otherwise attempt k+1 is a repair prompt carrying the best
candidate of attempt k and its failures, until the attempt budget is spent.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from marshalike import prompts
from marshalike.backends.base import Backend, Completion, Prompt, PromptKind, Sampling
from marshalike.extract import extract
from marshalike.prompts import UnitContext
from marshalike.sandbox import Limits
from marshalike.verify import Verdict, example_tests, verify

Status = Literal["verified", "unverified", "failed"]


@dataclass(frozen=True)
class LoopSettings:
    kind: PromptKind
    candidates: int = 4
    attempts: int = 3
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0
    quick: bool = False
    jobs: int = 4
    limits: Limits = field(default_factory=Limits)
    # Modules the unit's code may import (the generated modules of `# use`d specs).
    support_files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    completion: Completion
    code: str | None
    problems: tuple[str, ...]
    verdict: Verdict | None

    @property
    def score(self) -> tuple[int, int]:
        passed = self.verdict.passed if self.verdict else 0
        return (self.code is not None and not self.problems, passed)


@dataclass(frozen=True)
class UnitOutcome:
    name: str
    status: Status
    code: str | None
    attempts: int
    candidates: int
    distinct: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    failures: tuple[str, ...] = ()
    note: str | None = None


# Builds the module a candidate is tested in: the module's types, the verified code of the
# unit's dependencies and the candidate itself.
ModuleFor = Callable[[str], str]


@dataclass
class _Tally:
    candidates: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seen: dict[str, Candidate] = field(default_factory=dict)


def compile_unit(
    ctx: UnitContext,
    backend: Backend,
    settings: LoopSettings,
    *,
    module_for: ModuleFor,
    test_source: str,
    module_name: str,
) -> UnitOutcome:
    start = time.monotonic()
    names = example_tests(ctx.func)
    tally = _Tally()
    prompt = prompts.first_prompt(ctx, settings.kind)
    budget = 1 if settings.quick else settings.attempts
    overall: Candidate | None = None  # the best of all attempts, for the failure report
    for attempt in range(1, budget + 1):
        completions = _sample(backend, prompt, settings, attempt)
        batch = [_candidate(ctx, c, settings, tally) for c in completions]
        if not settings.quick and names:
            batch = _verify_all(batch, settings, tally, module_for, test_source, module_name, names)
        best = max(batch, key=lambda c: c.score, default=None)
        if best is not None and (overall is None or best.score > overall.score):
            overall = best
        done = _finished(best, settings, names)
        if done is not None:
            return _outcome(ctx, done, best, attempt, tally, start, ctx_failures=())
        if best is not None and attempt < budget:
            prompt = _repair(ctx, prompt, best, settings)  # attempt k's best, not the overall
    failures = _failures(ctx, overall, settings) if overall else ("the model returned nothing",)
    return _outcome(ctx, "failed", overall, budget, tally, start, ctx_failures=failures)


def _sample(backend: Backend, prompt: Prompt, settings: LoopSettings, attempt: int) -> list:
    sampling = Sampling(
        n=1 if settings.quick else settings.candidates,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_tokens,
        stop=prompts.stops(prompt.kind),
        seed=settings.seed + attempt - 1,
    )
    return backend.generate(prompt, sampling)


def _candidate(
    ctx: UnitContext, completion: Completion, settings: LoopSettings, tally: _Tally
) -> Candidate:
    tally.candidates += 1
    tally.prompt_tokens += completion.prompt_tokens
    tally.completion_tokens += completion.completion_tokens
    stub = prompts.completion_stub(ctx) if settings.kind == "completion" else None
    # The module already defines its types and the unit's dependencies: a candidate's own
    # copies of them are dropped rather than allowed to shadow the real ones.
    known = {t.name for t in ctx.module.types} | set(ctx.dependencies)
    result = extract(
        completion.text, ctx.func, prompt_kind=settings.kind, stub=stub, known_names=known
    )
    code = result.code if result.code else None
    if code is not None and settings.kind == "completion":
        code = prompts.with_header_imports(code)
    return Candidate(completion, code, tuple(result.problems), None)


def _verify_all(
    batch: list[Candidate],
    settings: LoopSettings,
    tally: _Tally,
    module_for: ModuleFor,
    test_source: str,
    module_name: str,
    names: tuple[str, ...],
) -> list[Candidate]:
    """Verify each distinct valid candidate once; identical code reuses its verdict."""
    todo: dict[str, str] = {}
    for cand in batch:
        if cand.code is not None and not cand.problems:
            todo.setdefault(_fingerprint(cand.code), cand.code)
    todo = {fp: code for fp, code in todo.items() if fp not in tally.seen}

    def run(code: str) -> Verdict:
        source = module_for(code)
        return verify(
            source,
            test_source,
            module_name=module_name,
            expected_tests=names,
            limits=settings.limits,
            extra_files=settings.support_files,
        )

    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        verdicts = dict(zip(todo, pool.map(run, todo.values()), strict=True))
    out = []
    for cand in batch:
        if cand.code is None or cand.problems:
            out.append(cand)
            continue
        fp = _fingerprint(cand.code)
        if fp in verdicts:
            tally.seen[fp] = Candidate(cand.completion, cand.code, (), verdicts[fp])
        out.append(tally.seen[fp])
    return out


def _fingerprint(code: str) -> str:
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return code


def _finished(
    best: Candidate | None, settings: LoopSettings, names: Sequence[str]
) -> Status | None:
    if best is None or best.code is None or best.problems:
        return None
    if settings.quick or not names:
        return "unverified"
    return "verified" if best.verdict is not None and best.verdict.ok else None


def _repair(ctx: UnitContext, prompt: Prompt, best: Candidate, settings: LoopSettings) -> Prompt:
    verdict = best.verdict
    total = len(verdict.results) if verdict else 0
    failures = _failures(ctx, best, settings) if verdict else ()
    return prompts.repair_prompt(
        ctx,
        prompt,
        code=best.code or best.completion.text,
        problems=best.problems,
        failures=failures,
        total=total,
    )


def _failures(ctx: UnitContext, best: Candidate, settings: LoopSettings) -> tuple[str, ...]:
    if best.problems:
        return best.problems
    if best.verdict is None:
        return ()
    lines = [
        prompts.describe_failure(r, ctx.func, settings.limits.timeout_s)
        for r in best.verdict.results
    ]
    problem = (best.verdict.problem,) if best.verdict.problem else ()
    return problem + tuple(line for line in lines if line)


def _outcome(
    ctx: UnitContext,
    status: Status,
    best: Candidate | None,
    attempts: int,
    tally: _Tally,
    start: float,
    *,
    ctx_failures: tuple[str, ...],
) -> UnitOutcome:
    note = None
    if status == "unverified":
        note = "not verified (--quick)" if best and best.verdict is None else None
        if not any(e.checkable for e in ctx.func.examples):
            note = "not verified: the function has no checkable examples"
    return UnitOutcome(
        name=ctx.func.name,
        status=status,
        code=best.code if best else None,
        attempts=attempts,
        candidates=tally.candidates,
        distinct=len(tally.seen),
        prompt_tokens=tally.prompt_tokens,
        completion_tokens=tally.completion_tokens,
        seconds=time.monotonic() - start,
        failures=ctx_failures,
        note=note,
    )
