"""Verification: run a candidate module on its examples' calls in the sandbox and decide,
outside the sandbox, a verdict per example (pass, fail with expected/actual, error, timeout).

The candidate's process gets the examples' calls and nothing else (`channel`). The
expected values are computed apart, in a sandboxed process that imports no model-written
code (`oracle`). Values are compared by exact type and value (`values.same`).
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from marshalike.codegen import emit
from marshalike.language.spec import Module
from marshalike.sandbox import values
from marshalike.sandbox.channel import Answer
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.oracle import Case, Claims, Oracle, cases_of, records_of, run
from marshalike.sandbox.shapes import redefined_types

Status = Literal["pass", "fail", "error", "timeout", "not_run"]
DEFAULT_LIMITS = Limits()
_TEST_NAME = re.compile(r"^test_(?P<func>\w+)_(?P<index>\d+)$")


@dataclass(frozen=True)
class ExampleResult:
    test: str
    status: Status
    expected: str | None = None
    actual: str | None = None
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None

    @property
    def func(self) -> str | None:
        match = _TEST_NAME.match(self.test)
        return match["func"] if match else None

    @property
    def index(self) -> int | None:
        match = _TEST_NAME.match(self.test)
        return int(match["index"]) if match else None


@dataclass(frozen=True)
class Verdict:
    results: tuple[ExampleResult, ...]
    problem: str | None
    seconds: float

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.results)

    @property
    def ok(self) -> bool:
        return self.problem is None and bool(self.results) and self.passed == len(self.results)


def verify(module_source: str, oracle: Oracle) -> Verdict:
    """Run every case of `oracle` against `module_source` in the sandbox; one result per
    case, in order. A case whose call did not run gets a non-pass status, so a verdict can
    never pass by running fewer examples than it should."""
    start = time.monotonic()
    if (changed := redefined_types(module_source, oracle.declared)) is not None:
        said = f"the module {changed}: the spec's types are the compiler's, not the code's"
        failed = tuple(
            ExampleResult(c.test, "error", error_type="TypeRedefined", message=said)
            for c in oracle.cases
        )
        return Verdict(failed, said, time.monotonic() - start)
    expected_answers, reference_problem = oracle.expected()
    calls: list[str] = []
    where: list[int | None] = []  # per case: its call's place in `calls`
    calls_own: list[int] = []  # cases whose expected value calls the candidate's code
    problem: str | None = None
    for index, (case, want, runnable) in enumerate(
        zip(oracle.cases, expected_answers, oracle.runnable, strict=True)
    ):
        where.append(len(calls) if runnable else None)
        if runnable and case.outcome == "returns" and want is None:
            calls_own.append(index)
        elif runnable:
            calls.append(case.call)
    owns: dict[int, tuple[Answer, Answer]] = {}  # case -> its call's and expected's answers
    claims = oracle.claims()
    order = [i for i, at in enumerate(where) if at is not None]
    if calls_own:
        # The claims and the example's own call, each in a fresh process and folder: no
        # history (in memory or in a file) can tell the two sides apart.
        alone = {i: run(module_source, [oracle.cases[i].call], oracle) for i in calls_own}
        texts = {i: oracle.cases[i].expected or "" for i in calls_own}
        wanted, own_problem, own_claims = oracle.evaluate(texts, module_source)
        claims.update(own_claims)
        reference_problem = reference_problem or own_problem
        for i, ((answer,), first) in alone.items():
            owns[i] = (answer, wanted[i])
            problem = problem or first
        # Every call alone too, as the claims were: a call that knows what ran before it in
        # its process could answer an example one way and a claim on the same call another.
        alone_calls = [run(module_source, [call], oracle) for call in calls]
        answers = tuple(a for (a,), _ in alone_calls)
        batch_problem = next((p for _, p in alone_calls if p is not None), None)
    else:
        # One process, as the test file makes the calls: the examples' answers are judged
        # as they come, and a claim that answers otherwise than alone fails its example.
        batch, stateful, batch_problem = _together(module_source, oracle, order, {}, claims)
        answers = tuple(batch[i] for i in order)
    firsts = {i: owns[i][0] if i in owns else answers[where[i] or 0] for i in order}
    if calls_own:
        # And all in one process, as the test file makes them: does an answer change there?
        _, stateful, _ = _together(module_source, oracle, order, firsts, claims)
    problem = batch_problem or problem
    whole: dict[int, ExampleResult] = {}  # cases the test file's own computation fails
    if problem is None and any(claims.get(i) or _computed(oracle.cases[i]) for i in order):
        expected_of: dict[int, Answer | None] = {
            i: owns[i][1] if i in owns else expected_answers[i] for i in order
        }
        whole, problem = _as_the_test_file(
            module_source, oracle, order, firsts, expected_of, claims
        )
    results = []
    for index, (case, want, at) in enumerate(
        zip(oracle.cases, expected_answers, where, strict=True)
    ):
        if at is None:
            results.append(
                ExampleResult(case.test, "error", error_type="InvalidExample",
                              message="the example is not a valid Python expression")
            )  # fmt: skip
            continue
        if problem is not None:
            results.append(
                ExampleResult(case.test, "error", error_type="CollectionError", message=problem)
            )
            continue
        got, reference = owns[index] if index in owns else (answers[at], want)
        judged = _judge(case, got, reference, reference_problem)
        if index in stateful and judged.status == "pass":  # but not as the test file runs
            said = "it answers otherwise after other calls: the code keeps state between calls"
            judged = ExampleResult(case.test, "error", error_type="Stateful", message=said)
        elif index in whole and judged.status == "pass":
            judged = whole[index]
        results.append(judged)
    return Verdict(tuple(results), _problem(problem), time.monotonic() - start)


def _together(
    module_source: str,
    oracle: Oracle,
    order: Sequence[int],
    firsts: Mapping[int, Answer],
    claims: Claims,
) -> tuple[dict[int, Answer], set[int], str | None]:
    """The calls the generated test file makes, in its order, in one process: each case's
    call (`actual = CALL`), then, where that call returned, the calls of model code its
    expected value makes (`expected = ...`). Gives each case's call's answer there, the
    cases where a call answered otherwise than alone (`firsts` for the cases' calls,
    `claims` for the rest), and the import problem, if any."""
    steps: list[tuple[int, str, Answer | None]] = []  # (case, call, its answer alone)
    for i in order:
        case, first = oracle.cases[i], firsts.get(i)
        steps.append((i, case.call, first))
        if case.outcome == "returns" and (first is None or first.kind == "returned"):
            steps.extend((i, call, answer) for call, answer in claims.get(i, ()))
    got, problem = run(module_source, [call for _, call, _ in steps], oracle)
    calls: dict[int, Answer] = {}
    changed: set[int] = set()
    for (i, _, first), answer in zip(steps, got, strict=True):
        calls.setdefault(i, answer)  # a case's first step is its own call
        if first is not None and not first.same_as(answer):
            changed.add(i)
    return calls, changed, problem


def _computed(case: Case) -> bool:
    """Whether the case's expected value is computed, not a literal: its test computes it in
    the code's process, after the calls before it, through state a call can reach past
    every watch (a module's cache inside its C code, `struct`'s; the codecs' registry that
    `'hi'.encode('cp500')` reads; the ABCs' registry that `Fraction(...)` asks)."""
    if not case.expected:
        return False
    try:
        ast.literal_eval(case.expected)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return True
    return False


def _as_the_test_file(
    module_source: str,
    oracle: Oracle,
    order: Sequence[int],
    firsts: Mapping[int, Answer],
    wanted: Mapping[int, Answer | None],
    claims: Claims,
) -> tuple[dict[int, ExampleResult], str | None]:
    """The test file computes an expected value that calls model code from the objects
    that code returns in its process; the oracle, from their written values (a set the
    code returned is written as the literal of its members, which can iterate in another
    order: `list(spread(2))`); and what such a value does to those objects (`items(3).pop()`
    on a list the code hands out again) the calls after it see. Any expected value that is
    not a literal it computes after the calls before it, in their process. So
    the examples' calls and those expected values, whole, in the test file's order, in one
    process, every case
    judged there as its test judges it (against its expected value computed there, or the
    oracle's where that calls no model code): gives the cases that fail there, and the
    run's problem, if any. Code in that process can only fail a case here, never pass one:
    the oracle's verdict stands beside it. An answer there that is no value (a call that
    changed what other code shares, ran out of time or ended its process) fails its case.
    Every call has the time of the most calls an expected value makes, so a value that
    makes several is not cut short where each alone was not."""
    steps: list[str] = []
    at: dict[int, int] = {}  # case -> its call's step
    whole: dict[int, int] = {}  # case -> its expected value's step
    for i in order:
        case = oracle.cases[i]
        at[i] = len(steps)
        steps.append(case.call)
        if firsts[i].kind == "returned" and (claims.get(i) or _computed(case)):
            whole[i] = len(steps)
            steps.append(case.expected or "")
    most = max(len(claims.get(i, ())) for i in order)
    limits = replace(oracle.limits, timeout_s=oracle.limits.timeout_s * (1 + most))
    got, problem = run(module_source, steps, oracle, limits=limits)
    failed: dict[int, ExampleResult] = {}
    for i in order:
        case = oracle.cases[i]
        want = got[whole[i]] if i in whole else wanted[i]
        if case.outcome == "returns" and want is None:
            continue  # no expected value to judge by: the oracle's verdict fails it
        judged = _judge(case, got[at[i]], want, None)
        if judged.status != "pass":
            there = f"{judged.message} (expected {judged.expected}, actual {judged.actual})"
            said = (
                "run as its test runs, after the tests before it, with its expected value "
                "computed from the objects the code returns, it fails: "
                f"{there if judged.status == 'fail' else judged.message}"
            )
            failed[i] = ExampleResult(
                case.test, "error", error_type="AsTheTestFile", message=said,
                expected=judged.expected, actual=judged.actual,
            )  # fmt: skip
    return failed, problem


def verify_module(
    module: Module,
    module_source: str,
    *,
    module_name: str,
    limits: Limits = DEFAULT_LIMITS,
    extra_files: Mapping[str, str] | None = None,
    uses: Mapping[str, Sequence[str]] | None = None,
    used_records: Sequence[str] = (),
    used_types: Mapping[str, str] | None = None,
) -> Verdict:
    """Verify a whole generated module (every function's examples) against its spec:
    what `check` and a compile that takes code from the lock do. `uses` maps the module
    of each `# use`d spec to the names imported from it; `used_records`, the types those
    specs declare ("other.Point"); `used_types`, those examples build, by name to module."""
    types = [t.name for t in module.types]
    cases = tuple(c for func in module.funcs for c in cases_of(func, types))
    reference = emit.module_source(
        module, {}, spec_name=f"{module_name}.mrsh", spec_hash="", uses=uses
    )
    oracle = Oracle(
        cases,
        reference,
        module_name=module_name,
        limits=limits,
        records=records_of(module, module_name, used_records),
        extra_files=extra_files,
        used_types=used_types,
    )
    return verify(module_source, oracle)


def _judge(
    case: Case, got: Answer, want: Answer | None, reference_problem: str | None
) -> ExampleResult:
    if got.kind == "timeout":
        return ExampleResult(case.test, "timeout", message="the call did not finish in time")
    if got.kind == "died":
        return ExampleResult(case.test, "error", error_type="ProcessDied", message=got.detail)
    if case.outcome == "raises":
        named = case.exception or "Exception"
        if got.raised is not None:
            if not got.raised.left(case.call):
                return ExampleResult(
                    case.test,
                    "error",
                    error_type=got.raised.type,
                    message="it came out of computing an argument, not out of the call "
                    f"itself: {got.raised.message}",
                    traceback=got.raised.traceback,
                )
            if got.raised.is_a(named):
                return ExampleResult(case.test, "pass")
            return _error(case, got)
        return ExampleResult(
            case.test,
            "error",
            error_type="Failed",
            message=f"DID NOT RAISE {named}",
            actual=values.render(got.value) if got.value is not None else None,
        )
    if got.raised is not None:
        return _error(case, got)
    assert got.value is not None
    if want is None or want.value is None:
        return _broken(case, want, reference_problem)
    why = values.mismatch(got.value, want.value, int_as_float=case.float_ok)
    if why is None:
        return ExampleResult(case.test, "pass")
    return ExampleResult(
        case.test,
        "fail",
        expected=values.render(want.value),
        actual=values.render(got.value),
        message=why,
    )


def _error(case: Case, got: Answer) -> ExampleResult:
    raised = got.raised
    assert raised is not None
    return ExampleResult(
        case.test,
        "error",
        error_type=raised.type,
        message=raised.message,
        traceback=raised.traceback,
    )


def _broken(case: Case, want: Answer | None, reference_problem: str | None) -> ExampleResult:
    """The example's own expected value could not be computed: the spec's fault."""
    if reference_problem is not None:
        said = reference_problem
    elif want is not None and want.raised is not None:
        said = f"{want.raised.type}: {want.raised.message}"
    elif want is not None and want.kind == "timeout":
        said = "it did not finish in time"
    else:
        said = want.detail if want is not None else "it has no value"
    return ExampleResult(
        case.test,
        "error",
        error_type="InvalidExample",
        message=f"the expected value {case.expected} could not be computed: {said}",
    )


def _problem(problem: str | None) -> str | None:
    if problem is None:
        return None
    return problem if problem.startswith("the module") else f"the module: {problem}"
