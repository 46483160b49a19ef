"""Questions from disagreement: inputs on which code that passes the examples differs."""

from __future__ import annotations

import pytest

from marshalike.gate.questions import Question, Reply, ask, asks_about, example_answer
from marshalike.language.parse import parse
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


# A reply a lock file may hold, that would run code wherever the spec's tests run once
# written into the spec as an example's answer.
EVIL = (
    "49 if __import__('os').path.isdir('/sandbox') else "
    "len(__import__('pathlib').Path('/tmp/x/PWNED').write_text('x'))*0+49"
)


@pytest.mark.parametrize(
    "text",
    [
        EVIL,
        "__import__('os').system('true')",
        "open(file='/tmp/x', mode='w')",  # a builtin called like a record
        "exec('1')",
        "[print(1)]",
        "Decimal(print(1))",
        "(1).__class__",
        "x",
        "1 + 2",
        "raises os.system",
        "1\n2",
    ],
)
def test_a_reply_from_a_lock_that_is_no_plain_value_is_never_an_example(text: str) -> None:
    assert not example_answer(text)
    data = {"call": "square(7)", "replies": [{"shown": "49", "support": 1, "expected": text}]}
    (reply,) = Question.from_json(data).replies
    assert reply.expected is None  # read as an answer that cannot be an example


@pytest.mark.parametrize(
    "text",
    [
        "49", "-1.5", "(1-2j)", "'a'", "b'\\x00'", "bytearray(b'x')",
        "None", "[1, (2,), {3: 'x'}]", "set()", "frozenset({1})", "Point(x=1, y=[2])",
        "datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)",
        "Decimal('1.5')", "Fraction(1, 3)", "UUID('12345678-1234-5678-1234-567812345678')",
        "Counter({'a': 2})", "OrderedDict({1: [2]})", "raises ValueError",
    ],
)  # fmt: skip
def test_a_plain_value_as_the_sandbox_renders_one_reads_back_from_a_lock(text: str) -> None:
    data = {"call": "f(0)", "replies": [{"shown": text, "support": 1, "expected": text}]}
    assert Question.from_json(data).replies[0].expected == text


@pytest.mark.parametrize(
    "text", ["inf", "-nan", "-infj", "[1.0, nan]", "Counter({'a': print(1)})", "ChainMap({})"]
)
def test_a_value_the_tests_would_not_read_as_it_shows_is_no_example(text: str) -> None:
    """NaN equals no value, and a test has no `inf`; a dict type's call is a value of a
    plain dict only, and only as the sandbox writes one: written after `=`, such an answer
    could never pass, or would run code (and no spec of decompile's holds one)."""
    assert not example_answer(text)
    data = {"call": "f(0)", "replies": [{"shown": text, "support": 1, "expected": text}]}
    assert Question.from_json(data).replies[0].expected is None


@pytest.mark.parametrize(
    "reply",
    [
        {"shown": "1", "support": float("inf"), "expected": "1"},
        {"shown": "1", "support": 1.5, "expected": "1"},
        {"shown": "1", "support": True, "expected": "1"},
        {"shown": "1", "support": -1, "expected": "1"},
        {"shown": "1", "support": 10**400, "expected": "1"},
        {"shown": ["1"], "support": 1, "expected": "1"},
        {"shown": "1", "support": 1, "expected": 1},
        {"shown": "1", "support": 1},
        "1",
    ],
)
def test_a_reply_of_the_wrong_shape_is_not_a_question(reply: object) -> None:
    with pytest.raises(ValueError, match="not a question"):
        Question.from_json({"call": "f(0)", "replies": [reply]})


def test_a_call_from_a_lock_must_be_one_a_compile_could_ask() -> None:
    text = "# func square(an integer): its square\n\nThe square.\n\n* square(-3) = 9\n"
    module = parse(text, "square.mrsh").module
    assert module is not None
    (func,) = module.funcs
    assert asks_about("square(7)", func) and asks_about("square(-3)", func)
    for call in ("square(__import__('os').getpid())", "print(7)", "square(x)", "square(7)\n"):
        assert not asks_about(call, func), call
