"""The examples as the verifier runs them (`Case`), and their expected values (`Oracle`),
computed once in the sandbox by a module that holds no model-written code: the spec's types
and stubs. Where an expected value calls model-written code (`is_even(3) = not is_even(2)`,
`quadruple(3) = double(double(3))`), each such call is answered alone by that code, and its
answer stands in the expression as a literal (`expected`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from marshalike.codegen.testfile import plain_expression
from marshalike.language.spec import Func, Module
from marshalike.language.typemap import annotation
from marshalike.sandbox import channel, values
from marshalike.sandbox.channel import Answer
from marshalike.sandbox.expected import (
    Claim,
    calls_model,
    model_names,
    resolve_calls,
    trusted_module,
)
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.shapes import class_shapes

# Per case, the calls of model code its expected value makes, in the order the generated
# test makes them, each with the answer it gave alone (`Oracle.evaluate`).
Claims = dict[int, tuple[tuple[str, Answer], ...]]


def example_tests(func: Func) -> tuple[str, ...]:
    """The names emit gives the tests of `func`'s checkable examples (1-based, all examples
    counted, so a name always points at the same bullet)."""
    return tuple(case.test for case in cases_of(func))


@dataclass(frozen=True)
class Case:
    """One checkable example as the verifier runs it."""

    test: str  # test_<func>_<n>, the name of its test in the generated test file
    call: str
    outcome: Literal["returns", "raises"]
    expected: str | None  # the expected value's expression, for "returns"
    exception: str | None  # the exception's name, for "raises"
    float_ok: bool = False  # the spec declares a float: a float may stand for an int


def cases_of(func: Func, types: Sequence[str] = ()) -> tuple[Case, ...]:
    """The checkable examples of `func`; `types` are the module's declared type names (to
    read the declared return type)."""
    returns = annotation(func.returns, set(types)) if func.returns else ""
    float_ok = "float" in returns
    cases = []
    for number, example in enumerate(func.examples, start=1):
        if not example.checkable:
            continue
        outcome: Literal["returns", "raises"] = (
            "raises" if example.outcome == "raises" else "returns"
        )
        cases.append(
            Case(
                test=f"test_{func.name}_{number}",
                call=(example.call or "").strip(),
                outcome=outcome,
                expected=(example.expected or "").strip() if outcome == "returns" else None,
                exception=(example.exception or "Exception") if outcome == "raises" else None,
                float_ok=float_ok,
            )
        )
    return tuple(cases)


def records_of(module: Module, module_name: str, used: Sequence[str] = ()) -> tuple[str, ...]:
    """The classes whose instances are compared as records: the spec's declared types and
    `used`, the types the specs it uses declare ("other.Point"). No other class of a used
    module counts, whatever its name: its code is the model's."""
    return (*(f"{module_name}.{t.name}" for t in module.types), *used)


class Oracle:
    """The expected values of some cases, computed once (in the sandbox, from a module
    without the code under test) and shared by every candidate verified against them."""

    def __init__(
        self,
        cases: Sequence[Case],
        reference_source: str,
        *,
        module_name: str,
        limits: Limits,
        records: Sequence[str] = (),
        extra_files: Mapping[str, str] | None = None,
        keep_docstrings: bool = False,
        trusted_source: str | None = None,
        used_types: Mapping[str, str] | None = None,
    ) -> None:
        """`reference_source` is the module whose code answers the claims of model code
        the candidate does not define (dependencies'); `trusted_source`, the module of
        the spec's types and stubs alone that expected values are computed with (by
        default `reference_source`, where that holds no model code); `used_types`, the
        used specs' types the examples may build, by name to module."""
        self.cases = tuple(cases)
        # The dotted exceptions the examples name, which the runner takes by identity.
        self.exceptions = tuple(sorted({e for c in cases if "." in (e := c.exception or "")}))
        # The expected values, which the generated tests compute after a call, in its
        # process: it must leave the standard modules they name as they were.
        self.expected_texts = tuple(c.expected for c in cases if c.expected is not None)
        # Docstrings kept (`channel.run_calls`) for a user's own code, never code judged.
        self.keep_docstrings, self.module_name, self.limits = keep_docstrings, module_name, limits
        self.records, self.extra_files = tuple(records), dict(extra_files or {})
        self._reference = reference_source
        self.declared = class_shapes(reference_source, self.records, module_name)
        local = {name[:-3] for name in self.extra_files if name.endswith(".py")}
        # The callables whose code the model wrote, and of those the candidate's own (the
        # reference's stubs); expected values are written by a module with none of it.
        trusted = reference_source if trusted_source is None else trusted_source
        read = model_names(reference_source, local)
        self._model, self._own = read.names, read.stubs
        if trusted is not reference_source:
            self._model = model_names(trusted, local).names
        self._trusted = trusted_module(trusted)
        # The names a call reads from the module under test: the spec's (`channel.run_calls`);
        # those of a used spec from that spec's module, as the test file imports them.
        own = {r.rpartition(".")[2] for r in self.records if r.startswith(f"{module_name}.")}
        # A used spec's type an example builds, from its module, as the test file imports
        # it: one of the records (compared by its full name), and no code of the model's.
        built = {
            name: where
            for name, where in (used_types or {}).items()
            if f"{where}.{name}" in self.records and name not in self._model | own
        }
        self._built = built
        self.names = tuple(sorted(self._model | own | built.keys()))
        self.imported = {**built, **read.imported}
        self._trusted_files = {
            name: trusted_module(text) if name.endswith(".py") else text
            for name, text in self.extra_files.items()
        }
        # Whether each case can run at all (its call and expected value are expressions a
        # test can hold), decided once for every candidate verified against them.
        self.runnable = tuple(
            plain_expression(c.call) is not None
            and (c.expected is None or plain_expression(c.expected) is not None)
            for c in self.cases
        )
        self._lock = threading.Lock()
        self._expected: tuple[Answer | None, ...] | None = None
        self._problem: str | None = None
        self._claims: Claims = {}

    def expected(self) -> tuple[tuple[Answer | None, ...], str | None]:
        """Per case, the expected value's answer (None for a "raises" case, or where the
        expected value calls the function under test: the candidate computes it), and
        the reason the reference module could not be imported, if it could not."""
        with self._lock:
            if self._expected is None:
                self._expected, self._problem = self._compute()
            return self._expected, self._problem

    def claims(self) -> Claims:
        """The calls of model code the expected values of `expected` make (a dependency's,
        answered by the reference module), per case, as `evaluate` gives them."""
        self.expected()
        return dict(self._claims)

    def _compute(self) -> tuple[tuple[Answer | None, ...], str | None]:
        # An expected value that calls the candidate's own function waits for a candidate
        # (`verify`); any other call of model code is resolved here, once.
        texts = {
            i: c.expected
            for i, c in enumerate(self.cases)
            if c.expected and not calls_model(c.expected, self._own)
        }
        found, problem, self._claims = self.evaluate(texts, None)
        return tuple(found.get(i) for i in range(len(self.cases))), problem

    def evaluate(
        self, texts: Mapping[int, str], candidate: str | None
    ) -> tuple[dict[int, Answer], str | None, Claims]:
        """The answer of each expected value (keyed as given): its calls of model code
        replaced by their claims (the candidate's own functions answered by `candidate`,
        the rest by the reference module), each call alone in a fresh process and folder,
        then the rest computed together by a module without model code (`expected`).
        With them, the calls each value made and their answers (`Claims`)."""
        done: dict[int, Answer] = {}
        claims: Claims = {}
        groups: list[dict[int, str]] = [{}]  # computed together: those no claim went into
        problem: str | None = None
        # The module's own types, which its trusted module defines by these names, and the
        # used specs' types the examples build, by their full names to the names they are
        # bound to there (`origin()` claims a `geometry.Point`, written `Point(x=0, y=0)`).
        own = [r.removeprefix(f"{self.module_name}.") for r in self.records]
        named = {n: n for n in own if "." not in n}
        named |= {f"{where}.{name}": name for name, where in self._built.items()}
        for index, text in texts.items():
            claimed = bool(calls_model(text, self._model))
            answers: dict[str, Answer] = {}  # call text -> its answer alone
            claim = partial(self._claim, candidate=candidate, answers=answers)
            made = resolve_calls(text, self._model, claim, named)
            claims[index] = tuple((call, answers[call]) for call in made.calls if call in answers)
            written, why = made.text, made.why
            if written is None:
                done[index] = Answer("unwritten", detail=values.clean(why))
            elif claimed:  # a process of its own: nothing of one claim reaches another value
                groups.append({index: written})
            else:
                groups[0][index] = written
        for group in (g for g in groups if g):
            computed, failed = run(self._trusted, list(group.values()), self, self._trusted_files)
            done.update(zip(group, computed, strict=True))
            problem = problem or failed
        return done, problem, claims

    def _claim(
        self, name: str, call: str, candidate: str | None, answers: dict[str, Answer]
    ) -> Claim:
        """What the code that defines `name` answers to `call`, in a process of its own;
        its answer is kept in `answers`, for `_together` (not where the module found no
        import or the call no time: its example fails anyway)."""
        source = candidate if name in self._own else self._reference
        if source is None:
            return Claim(None, "it is the code under test")
        (answer,), problem = run(source, [call], self)
        if problem is None and answer.kind != "timeout":
            answers[call] = answer
        if problem is not None:
            return Claim(None, problem)
        if answer.value is not None:
            return Claim(answer.value)
        if answer.raised is not None:
            return Claim(None, f"{answer.raised.type}: {answer.raised.message}")
        return Claim(None, "it did not finish in time" if answer.kind == "timeout"
                              else answer.detail or "it gave no answer")  # fmt: skip


def run(
    module_source: str,
    calls: Sequence[str],
    oracle: Oracle,
    files: Mapping[str, str] | None = None,
    limits: Limits | None = None,
) -> tuple[tuple[Answer, ...], str | None]:
    """The calls run against `module_source` as the oracle runs them, with the oracle's
    used modules (or `files`: their versions without model code), and its limits (or
    `limits`, the same for every call of the run)."""
    limits = limits or oracle.limits
    return channel.run_calls(
        module_source,
        calls,
        module_name=oracle.module_name,
        limits=limits,
        per_call_s=limits.timeout_s,
        records=oracle.records,
        extra_files=oracle.extra_files if files is None else files,
        keep_docstrings=oracle.keep_docstrings,
        exceptions=oracle.exceptions,
        names=oracle.names,
        imported=oracle.imported,
        watched=oracle.expected_texts,
    )
