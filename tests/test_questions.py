"""Questions from disagreement: inputs on which code that passes the examples differs."""

from __future__ import annotations

import pytest

from marshalike.gate.questions import Question, Reply, ask
from marshalike.sandbox.isolation import Limits

LIMITS = Limits(timeout_s=1.0, startup_s=20.0)
MAX_BUILTIN = "def largest(xs):\n    return max(xs)\n"
SEEDED_ZERO = (
    "def largest(xs):\n"
    "    best = 0\n"
    "    for x in xs:\n"
    "        best = max(best, x)\n"
    "    return best\n"
)
CALLS = ("largest([1, 2])", "largest([-3, -1])", "largest([])")


def _ask(sources: list[str], weights: list[int], **kw: int) -> tuple[Question, ...]:
    return ask(sources, weights, CALLS, module_name="m", limits=LIMITS, jobs=2, **kw)


def test_candidates_that_disagree_make_questions_with_each_answer_and_its_support() -> None:
    questions = _ask([MAX_BUILTIN, SEEDED_ZERO], [2, 1])
    assert [q.call for q in questions] == ["largest([-3, -1])", "largest([])"]
    negative, empty = questions
    assert negative.replies == (Reply("-1", 2, "-1"), Reply("0", 1, "0"))
    assert negative.shown() == "`largest([-3, -1])`: `-1` (2 candidates) or `0` (1 candidate)"
    assert empty.replies == (
        Reply("raises ValueError", 2, "raises ValueError"),
        Reply("0", 1, "0"),
    )


def test_the_most_even_split_comes_first_and_only_the_best_few_are_kept() -> None:
    three_way = "def largest(xs):\n    return len(xs) and -7\n"
    questions = _ask([MAX_BUILTIN, SEEDED_ZERO, three_way], [1, 1, 1], keep=1)
    assert len(questions) == 1
    # On [] the three say ValueError, 0 and 0; on [-3, -1] they say -1, 0 and -7.
    assert questions[0].call == "largest([-3, -1])"
    assert questions[0].spread == pytest.approx(2 / 3)


def test_agreement_or_a_single_candidate_asks_nothing() -> None:
    assert _ask([MAX_BUILTIN, MAX_BUILTIN], [1, 1]) == ()
    assert _ask([SEEDED_ZERO], [3]) == ()


def test_an_answer_that_is_no_value_cannot_become_an_example() -> None:
    slow = "def largest(xs):\n    while not xs:\n        pass\n    return max(xs)\n"
    opaque = "class Box:\n    pass\n\n\ndef largest(xs):\n    return Box() if not xs else max(xs)\n"
    (question,) = _ask([slow, opaque], [1, 1])
    assert question.call == "largest([])"
    assert {r.shown: r.expected for r in question.replies} == {
        "no answer in time": None,
        "<m.Box object>": None,
    }


def test_questions_round_trip_through_json_and_refuse_what_is_not_one() -> None:
    question = Question("f(0)", (Reply("1", 2, "1"), Reply("no answer in time", 1, None)))
    assert Question.from_json(question.to_json()) == question
    with pytest.raises(ValueError, match="not a question"):
        Question.from_json({"call": "f(0)"})
