"""Questions for a spec's author: inputs no example covers, on which code that passes every
example gives different answers.

Every passing candidate runs on the same inputs (in the sandbox, through the verdict
channel, as the examples do). Where two candidates disagree, the examples do not decide
what the function should do there, so that input is a question. A question whose answers
split the candidates evenly says the most about the spec, so questions are ranked by how
evenly they split (Gini impurity of the weighted answers), then by the order of the inputs.
Each distinct answer keeps how many candidates gave it (a candidate sampled k times counts
k times) and, where it can be one, the text an example bullet writes after `=`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from marshalike.gate import overfit
from marshalike.gate.consensus import probe_answers
from marshalike.sandbox import channel, values
from marshalike.sandbox.isolation import Limits

DEFAULT_KEPT = 3  # questions kept per function
_LONGEST_ANSWER = 500  # characters of an answer written into an example bullet


@dataclass(frozen=True)
class Reply:
    """One distinct answer to a question."""

    shown: str  # as a person reads it: `-1`, `raises ValueError`, `no answer in time`
    support: int  # candidates (weighted by samples) that gave it
    expected: str | None  # what an example bullet writes after `=`; None: it cannot be one

    def to_json(self) -> dict[str, Any]:
        return {"shown": self.shown, "support": self.support, "expected": self.expected}


@dataclass(frozen=True)
class Question:
    """An input the examples leave open, with the candidates' distinct answers, the most
    supported first."""

    call: str
    replies: tuple[Reply, ...]
    # What the code did that made the input a question where the candidates did not
    # disagree: "raised IndexError: list index out of range" (`open_questions`).
    why: str = ""

    @property
    def spread(self) -> float:
        """How evenly the answers split the candidates: 0 when all agree, near 1 when each
        gives its own."""
        total = sum(r.support for r in self.replies)
        return 1.0 - sum((r.support / total) ** 2 for r in self.replies) if total else 0.0

    def shown(self) -> str:
        """`largest([-3, -1])`: `-1` (2 candidates) or `0` (1 candidate)"""
        said = [
            f"`{r.shown}` ({r.support} candidate{'s' * (r.support != 1)})" for r in self.replies
        ]
        if self.why:
            return (
                f"`{self.call}` {self.why}: is it a valid input, and if so, what should it "
                f"return? The code that passes the examples: " + " or ".join(said)
            )
        return f"`{self.call}`: " + " or ".join(said)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"call": self.call, "replies": [r.to_json() for r in self.replies]}
        return data | ({"why": self.why} if self.why else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Question:
        """The inverse of `to_json`; ValueError where `data` is not one."""
        try:
            replies = tuple(
                Reply(str(r["shown"]), int(r["support"]), _optional_str(r["expected"]))
                for r in data["replies"]
            )
            return cls(str(data["call"]), replies, str(data.get("why", "")))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a question: {exc}") from None


def ask(
    sources: Sequence[str],
    weights: Sequence[int],
    calls: Sequence[str],
    *,
    module_name: str,
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    records: Sequence[str] = (),
    jobs: int = 4,
    keep: int = DEFAULT_KEPT,
    agreed: bool = False,
) -> tuple[Question, ...]:
    """The inputs among `calls` on which the candidate modules in `sources` (each standing
    for `weights[i]` samples) disagree, best first, at most `keep`. With `agreed`, inputs
    on which they all agree are questions too (after those they disagree on): for code no
    example checks, even one answer is a guess to confirm."""
    if len(sources) < (1 if agreed else 2) or not calls or keep <= 0:
        return ()

    def run(source: str) -> tuple[channel.Answer, ...]:
        return probe_answers(
            source,
            module_name=module_name,
            calls=calls,
            limits=limits,
            extra_files=extra_files,
            records=records,
        )

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(run, sources))
    found = []
    for i, call in enumerate(calls):
        groups: dict[str, Reply] = {}
        for answers, weight in zip(runs, weights, strict=True):
            key, reply = reply_of(answers[i], weight)
            known = groups.get(key)
            groups[key] = reply if known is None else _more(known, weight)
        if len(groups) > 1 or agreed:
            replies = sorted(groups.values(), key=lambda r: -r.support)
            found.append(Question(call, tuple(replies)))
    ranked = sorted(enumerate(found), key=lambda pair: (-pair[1].spread, pair[0]))
    return tuple(question for _, question in ranked[:keep])


def open_questions(
    source: str,
    weight: int,
    silent: Sequence[tuple[str, str]],
    *,
    module_name: str,
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    records: Sequence[str] = (),
) -> tuple[Question, ...]:
    """The questions inputs the spec is silent about raise, `silent` being each input and
    what the code (standing for `weight` samples) did there, which right code might do as
    well as code fitted to the examples: its answer, run as the examples run (one run for
    all of them), is each one's reply."""
    answers = probe_answers(
        source,
        module_name=module_name,
        calls=[call for call, _ in silent],
        limits=limits,
        extra_files=extra_files,
        records=records,
    )
    return tuple(
        Question(call, (reply_of(answer, weight)[1],), why)
        for (call, why), answer in zip(silent, answers, strict=True)
    )


def crash_questions(
    calls: Sequence[str], answers: Sequence[channel.Answer], weight: int
) -> tuple[Question, ...]:
    """A question for each of `calls` (inputs no example covers) on which the code, whose
    `answers` on them these are, crashes with a programming error (`overfit.is_bug`): the
    spec is silent there, and whether the input is valid, and what it gives, is for its
    author to say, even where an answer about another input (`throws an error`) lets the
    gate take such crashes."""
    found = []
    for call, answer in zip(calls, answers, strict=True):
        raised = answer.raised
        if raised is not None and overfit.is_bug(raised.type, raised.message):
            _, reply = reply_of(answer, weight)
            why = f"raised {raised.type}" + (f": {raised.message}" if raised.message else "")
            found.append(Question(call, (reply,), why))
    return tuple(found)


def _more(reply: Reply, weight: int) -> Reply:
    return Reply(reply.shown, reply.support + weight, reply.expected)


def reply_of(answer: channel.Answer, weight: int) -> tuple[str, Reply]:
    """The answer's grouping key and its reply."""
    if answer.kind == "timeout":
        return "timeout", Reply("no answer in time", weight, None)
    if answer.raised is not None:
        said = f"raises {answer.raised.type}"
        return said, Reply(said, weight, said if answer.raised.module == "builtins" else None)
    if answer.value is None:
        return "no output", Reply("no answer (the process ended)", weight, None)
    key = "value " + values.canonical(answer.value)
    shown = values.render(answer.value)
    if answer.value[0] == "object":
        return key, Reply(shown, weight, None)
    full = values.render(answer.value, limit=_LONGEST_ANSWER + 1)
    return key, Reply(shown, weight, full if _writable(full) else None)


def _writable(source: str) -> bool:
    """Whether `source` can stand after `=` in an example bullet: one line of printable
    characters (no line or paragraph separator, which some readers of the spec split
    lines at, no bidirectional or zero-width control), a Python expression, not too
    long."""
    if len(source) > _LONGEST_ANSWER or not source.isprintable():
        return False
    try:
        ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
