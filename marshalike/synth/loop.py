"""The verification and repair loop for one unit (one function).

Attempt 1 samples N candidates from the first prompt; each distinct, valid candidate runs the
unit's example tests in the sandbox. The loop stops at the first attempt with a candidate that
passes every checkable example. Otherwise attempt k+1 is a repair prompt carrying the best
candidate of attempt k and its failures, until the attempt budget is spent. Without
`repair`, attempt k+1 samples the first prompt again with the next seed instead.

A backend that gives each completion as it finishes (the local one) has it verified while
the others are still decoded, and an attempt's remaining candidates stop once its verdicts
settle it (`synth.attempt`).

Settings that make the loop pickier: `rank` chooses among passing candidates ("consensus":
by agreement on extra inputs, sampling again for a second opinion while attempts are left;
"shortest": the least code); `holdout` keeps the last of three or more checkable examples
out of every prompt; `temperature_step` raises the temperature with each attempt; `probe`
turns on the probe gate (`gate.probe`): a passing candidate it rejects is repaired like a
failing one, and a unit whose best candidate is such a one fails.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from marshalike.backends.base import Backend, Prompt
from marshalike.gate import consensus, questions
from marshalike.gate.boundary import question_calls
from marshalike.gate.consensus import probe_answers
from marshalike.gate.mutate import call_key
from marshalike.gate.questions import Question
from marshalike.gate.strength import Strength, measure
from marshalike.gate.typed_inputs import typed_calls
from marshalike.sandbox import channel
from marshalike.synth import prompts
from marshalike.synth.attempt import CONFIRMATIONS, judged_attempt, sample
from marshalike.synth.cancel import Cancel, raise_if_cancelled
from marshalike.synth.events import Observe, State, UnitEvent, ignore
from marshalike.synth.holdout import shown_context
from marshalike.synth.judge import (
    Candidate,
    Harness,
    ModuleFor,
    Tally,
    fingerprint,
    gated,
    judge,
    make_harness,
    passes,
    passing_codes,
    size,
)
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.prompts import UnitContext
from marshalike.synth.reuse import KEPT, passing_again

Status = Literal["verified", "unchecked", "failed"]


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
    questions: tuple[Question, ...] = ()  # inputs the examples leave open (`gate.questions`)
    strength: Strength | None = None  # how many variants of the code the examples rule out
    # Other codes that passed the examples, most sampled first (`synth.reuse`).
    alternatives: tuple[str, ...] = ()


def compile_unit(
    ctx: UnitContext,
    backend: Backend,
    settings: LoopSettings,
    *,
    module_for: ModuleFor,
    module_name: str,
    cancel: Cancel | None = None,
    prior: Sequence[str] = (),
    observe: Observe = ignore,
) -> UnitOutcome:
    """Verified (or unchecked) code for the unit, or its failure. `prior` is code an earlier
    compile wrote for the same intent (`synth.reuse`): where one passes the examples as they
    are now, it is taken without a model call."""
    start = time.monotonic()
    harness = make_harness(ctx, settings, module_for=module_for, module_name=module_name)
    names = harness.names
    shown = shown_context(ctx, harness.held_example)
    tally = Tally()
    if not names and not settings.allow_unchecked:
        failure = (
            f"unchecked: add examples — no example of {ctx.func.name} can be checked, so no "
            "code for it could be verified (--allow-unchecked compiles it unchecked)"
        )
        raise_if_cancelled(cancel)  # before any model call: a stop asked for is kept
        guesses = _unchecked_questions(ctx, shown, backend, settings, tally, harness)
        attempts = 1 if tally.candidates else 0
        outcome = _outcome(ctx, "failed", None, attempts, tally, start, ctx_failures=(failure,))
        return replace(outcome, questions=guesses)
    budget = 1 if settings.quick else settings.attempts

    def tell(state: State, attempt: int = 0) -> None:
        observe(UnitEvent(ctx.func.name, state, attempt, budget, tally.candidates,
                          len(passing_codes(tally)), tally.completion_tokens))  # fmt: skip

    if prior and names and not settings.quick:
        tell("reusing")
        if again := passing_again(ctx, shown, prior, settings, tally, harness):
            return _reused(again, ctx, settings, tally, harness, start)
    prompt = prompts.first_prompt(shown, settings.kind)
    overall: Candidate | None = None  # the best of all attempts, for the failure report
    pool: dict[str, list[Candidate]] = {}  # consensus: the passing candidates of all attempts
    for attempt in range(1, budget + 1):
        raise_if_cancelled(cancel)  # between attempts: a model call is never cut short
        tell("sampling", attempt)
        batch = judged_attempt(ctx, shown, backend, prompt, settings, attempt, tally, harness)
        tell("verifying", attempt)
        best, note, support = _best(batch, pool, settings, harness)
        if best is not None and (overall is None or best.score > overall.score):
            overall = best
        done = _finished(best, settings, names)
        if done == "verified" and 0 < support < CONFIRMATIONS:
            if attempt < budget:
                continue  # no other sample agrees yet: the same prompt again, for a second
            note = "no second candidate agreed with it on the extra inputs"
        if done is not None:
            asked: tuple[Question, ...] = ()
            if done != "verified" or settings.quick:
                return _outcome(ctx, done, best, attempt, tally, start, ctx_failures=(), note=note)
            tell("asking")
            if settings.questions:
                raise_if_cancelled(cancel)  # it may draw one more sample
                asked = _ask(ctx, shown, backend, settings, tally, harness, attempt)
            outcome = _outcome(ctx, done, best, attempt, tally, start, ctx_failures=(), note=note)
            return _with_strength(outcome, asked, ctx, settings, harness)
        if best is not None and attempt < budget and settings.repairs:
            prompt = _repair(ctx, shown, prompt, best, settings, harness.held)
    if silent := _silent(tally):
        asked = _open_questions(silent, settings, tally, harness)
        note = (
            f"verified, with an open question: the spec does not say what `{asked[0].call}` "
            "should do, and the code that passes every example fails there"
        )
        outcome = _outcome(
            ctx, "verified", silent, budget, tally, start, ctx_failures=(), note=note
        )
        return _with_strength(outcome, asked, ctx, settings, harness)
    failures = _failures(ctx, overall, settings) if overall else ("the model returned nothing",)
    return _outcome(ctx, "failed", overall, budget, tally, start, ctx_failures=failures)


def blocked_outcome(name: str, deps: Sequence[str]) -> UnitOutcome:
    """The outcome of a unit not compiled because a unit it depends on failed."""
    because = ", ".join(deps)
    failure = f"not compiled: it depends on {because}, which failed"
    return UnitOutcome(name, "failed", None, 0, 0, 0, 0, 0, 0.0, failures=(failure,))


def _unchecked_questions(
    ctx: UnitContext,
    shown: UnitContext,
    backend: Backend,
    settings: LoopSettings,
    tally: Tally,
    harness: Harness,
) -> tuple[Question, ...]:
    """For a function no example checks: what one attempt's candidates answer on inputs
    made from its declared parameter types (`gate.typed_inputs`), each a question whether
    they agree or not, so the examples to add are one answer away. No model call where the
    types give no inputs."""
    calls = typed_calls(ctx.module, ctx.func)
    if not calls or not settings.questions:
        return ()
    completions = sample(backend, prompts.first_prompt(shown, settings.kind), settings, 1)
    batch = judge(ctx, shown, completions, settings, tally, harness)  # nothing to verify
    codes = Counter(c.code for c in batch if c.code is not None and not c.problems)
    return _ask_about(codes, calls, settings, harness, agreed=True)


def _reused(
    again: list[Candidate],
    ctx: UnitContext,
    settings: LoopSettings,
    tally: Tally,
    harness: Harness,
    start: float,
) -> UnitOutcome:
    """The outcome of a unit whose earlier code passes its examples as they are now: the
    first such code, the others' disagreements as questions (no new sample is drawn)."""
    passing = passing_codes(tally)
    asked: tuple[Question, ...] = ()
    if settings.questions and len(passing) > 1:
        asked = _ask_about(passing, question_calls(ctx.func, settings.seed), settings, harness)
    note = "reused code of the last compile that passes the examples as they are now"
    outcome = _outcome(ctx, "verified", again[0], 0, tally, start, ctx_failures=(), note=note)
    return _with_strength(outcome, asked, ctx, settings, harness)


def _with_strength(
    outcome: UnitOutcome,
    asked: tuple[Question, ...],
    ctx: UnitContext,
    settings: LoopSettings,
    harness: Harness,
) -> UnitOutcome:
    """The verified outcome with how strong its examples are (`gate.strength`): the share of
    small variants of its code they rule out. After the questions the candidates raised,
    within the setting's number: each input no example covers where the code crashes with
    a programming error, then each surviving variant's distinguishing input."""
    calls = question_calls(ctx.func, settings.seed)
    source = harness.module_for(outcome.code or "")

    @functools.cache
    def accepted() -> tuple[channel.Answer, ...]:
        """The code's answers on `calls`, run once for the variants and the crashes."""
        return probe_answers(
            source,
            module_name=harness.module_name,
            calls=calls,
            limits=settings.limits,
            extra_files=settings.support_files,
            records=harness.oracle.records,
        )

    strength, more = measure(
        outcome.code or "",
        module_for=harness.module_for,
        oracle=harness.oracle,
        calls=calls,
        jobs=settings.jobs,
        seed=settings.seed,
        accepted=accepted,
    )
    room = max(0, settings.questions - len(asked))
    crashed: tuple[Question, ...] = ()
    if room and outcome.code:
        crashed = questions.crash_questions(calls, accepted(), 1)
    seen = {call_key(q.call) for q in asked}
    extra = []
    for question in (*crashed, *more):
        if call_key(question.call) not in seen:
            seen.add(call_key(question.call))
            extra.append(question)
    return replace(outcome, questions=asked + tuple(extra[:room]), strength=strength)


def _silent(tally: Tally) -> Candidate | None:
    """Of the codes that pass every example but that the probe gate turned away only for
    what they do on an input the spec is silent about (`ProbeGate.refusal`), the most
    sampled; None when there is none. Right code fails there too, so the spec's author is
    asked instead of the function failing."""
    found = [
        (tally.samples[fp], gated(cand, tally))
        for fp, cand in tally.seen.items()
        if cand.code is not None and cand.verdict is not None and cand.verdict.ok
    ]
    silent = [(n, cand) for n, cand in found if cand.open_calls and not cand.problems]
    return max(silent, key=lambda pair: pair[0])[1] if silent else None


def _open_questions(
    cand: Candidate, settings: LoopSettings, tally: Tally, harness: Harness
) -> tuple[Question, ...]:
    """A question for each input the spec is silent about where `cand` crashed, the
    setting's number of them (at least the first, which is why the code was accepted so):
    each such crash may be right code's as much as code fitted to the examples."""
    silent = [
        (call, said.removeprefix(call).strip() if said.startswith(call) else said)
        for call, said in cand.open_calls[: max(1, settings.questions)]
    ]
    return questions.open_questions(
        harness.module_for(cand.code or ""),
        tally.samples[fingerprint(cand.code or "")],
        silent,
        module_name=harness.module_name,
        limits=settings.limits,
        extra_files=settings.support_files,
        records=harness.oracle.records,
    )


def _ask(
    ctx: UnitContext,
    shown: UnitContext,
    backend: Backend,
    settings: LoopSettings,
    tally: Tally,
    harness: Harness,
    attempt: int,
) -> tuple[Question, ...]:
    """The questions the passing candidates raise by disagreeing on inputs no example
    covers (the probe inputs and edge values: `gate.boundary`). Where only one code has
    passed, one more sample of the first prompt (the next attempt's seed) looks for another
    reading of the spec before it is called unambiguous."""
    passing = passing_codes(tally)
    if len(passing) < 2:
        more = sample(backend, prompts.first_prompt(shown, settings.kind), settings, attempt + 1)
        judge(ctx, shown, more, settings, tally, harness)
        passing = passing_codes(tally)
    calls = question_calls(ctx.func, settings.seed)
    return _ask_about(passing, calls, settings, harness)


def _ask_about(
    codes: Mapping[str, int],
    calls: Sequence[str],
    settings: LoopSettings,
    harness: Harness,
    *,
    agreed: bool = False,
) -> tuple[Question, ...]:
    """`questions.ask` of the unit's codes (each with how often it was sampled), each run in
    the module the unit's candidates are run in."""
    return questions.ask(
        [harness.module_for(code) for code in codes],
        list(codes.values()),
        calls,
        module_name=harness.module_name,
        limits=settings.limits,
        extra_files=settings.support_files,
        records=harness.oracle.records,
        jobs=settings.jobs,
        keep=settings.questions,
        agreed=agreed,
    )


def _best(
    batch: list[Candidate],
    pool: dict[str, list[Candidate]],
    settings: LoopSettings,
    harness: Harness,
) -> tuple[Candidate | None, str | None, int]:
    """The attempt's best candidate, a note on how it was chosen, and how many samples
    support it (0 when that was not asked). Ranked first, the first with the best score;
    by consensus, once one has passed, the one that most passing candidates of all attempts
    so far (`pool`, added to here) agree with, even in an attempt where none passed;
    shortest, of those with the best score the one with the fewest syntax nodes (the
    simplest reading of the examples: a wrong candidate that passes them usually adds a
    condition they do not exercise)."""
    if settings.rank == "shortest":
        best = max(batch, key=lambda c: (c.score, -size(c.code)), default=None)
    else:
        best = max(batch, key=lambda c: c.score, default=None)
    for cand in batch if settings.rank == "consensus" else ():
        if passes(cand) and cand.code is not None:
            pool.setdefault(fingerprint(cand.code), []).append(cand)
    if not pool:  # ranked first, or nothing has passed yet
        return best, None, 0
    groups = list(pool.values())
    calls = harness.rank_calls
    if len(groups) < 2 or not calls:
        heaviest = max(groups, key=len)
        return heaviest[0], None, len(heaviest)
    ranking = consensus.rank(
        [harness.module_for(group[0].code or "") for group in groups],
        [len(group) for group in groups],
        calls,
        module_name=harness.module_name,
        limits=settings.limits,
        extra_files=settings.support_files,
        records=harness.oracle.records,
        jobs=settings.jobs,
    )
    note = (
        f"chosen by agreement on {len(calls)} extra inputs: {ranking.support} of "
        f"{ranking.total} passing candidates agree"
    )
    return groups[ranking.chosen][0], note, ranking.support


def _finished(
    best: Candidate | None, settings: LoopSettings, names: Sequence[str]
) -> Status | None:
    if best is None or best.code is None or best.problems:
        return None
    if not names:
        return "unchecked"
    return "verified" if passes(best) else None


def _repair(
    ctx: UnitContext,
    shown: UnitContext,
    prompt: Prompt,
    best: Candidate,
    settings: LoopSettings,
    held: str | None,
) -> Prompt:
    """The repair prompt shows the failures of the examples the prompts show; a failing
    held-out example is only said to exist, so its expected value stays unseen."""
    verdict = best.verdict
    results = tuple(r for r in verdict.results if r.test != held) if verdict else ()
    shown_verdict = replace(verdict, results=results) if verdict else None
    failures = _failures(ctx, replace(best, verdict=shown_verdict), settings) if verdict else ()
    held_failed = verdict is not None and any(
        r.test == held and r.status != "pass" for r in verdict.results
    )
    return prompts.repair_prompt(
        shown,
        prompt,
        code=best.code or best.completion.text,
        problems=best.problems,
        failures=() if best.fragile else failures,
        total=len(results),
        held_out_failed=held_failed,
        probe_failure=best.fragile,
    )


def _failures(ctx: UnitContext, best: Candidate, settings: LoopSettings) -> tuple[str, ...]:
    if best.problems:
        return best.problems
    if best.fragile:
        return (best.fragile,)
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
    tally: Tally,
    start: float,
    *,
    ctx_failures: tuple[str, ...],
    note: str | None = None,
) -> UnitOutcome:
    if status == "unchecked":
        note = "unchecked: none of its examples can be checked (--allow-unchecked)"
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
        alternatives=_alternatives(tally, best.code if best else None),
    )


def _alternatives(tally: Tally, chosen: str | None) -> tuple[str, ...]:
    """The other codes of the unit that passed its examples (the probe gate may have turned
    them away: it judges them again when they are reused), most sampled first."""
    ranked = sorted(
        (
            (-tally.samples[fp], cand.code)
            for fp, cand in tally.seen.items()
            if cand.code and cand.code != chosen and cand.verdict and cand.verdict.ok
        ),
    )
    return tuple(code for _, code in ranked[:KEPT])
