"""The declared return type as the probe gate's oracle: probe values of another kind."""

from __future__ import annotations

import pytest

from marshalike.gate.consensus import NO_OUTPUT, ProbeOutcome
from marshalike.gate.return_kinds import accepted, mistyped, output_kind


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ("None", "none"), ("True", "boolean"), ("False", "boolean"), ("'a b'", "string"),
        ('"it\'s"', "string"), ("list[1,2]", "list"), ("tuple[]", "tuple"), ("set{1}", "set"),
        ("dict{'a':1}", "dict"), ("0", "integral"), ("-12", "integral"), ("2.5", "fractional"),
        ("-0.125", "fractional"), ("1e+20", "fractional"), ("inf", "fractional"),
        ("nan", "fractional"), ("Person('Ann',3)", None), ("Decimal('1.5')", None),
        ("raises ValueError", None), ("timeout", None), (NO_OUTPUT, None),
    ],
)  # fmt: skip
def test_output_kinds(output: str, kind: str | None) -> None:
    assert output_kind(output) == kind


@pytest.mark.parametrize(
    ("annotation", "kinds"),
    [
        ("int", {"integral"}),
        ("float", {"integral", "fractional"}),  # 2.0 reads as 2
        ("str | None", {"string", "none"}),
        ("list[int | None]", {"list"}),  # the `|` inside brackets is the element's
        ("dict[str, int]", {"dict"}),
        ("frozenset[str]", {"set"}),
        ("Person", None),  # a record: the text does not say
        ("Any", None),
        ("int | Person", None),
    ],
)  # fmt: skip
def test_accepted_kinds(annotation: str, kinds: set[str] | None) -> None:
    assert accepted(annotation) == kinds


def outcomes(*outputs: str) -> tuple[ProbeOutcome, ...]:
    return tuple(ProbeOutcome(o) for o in outputs)


def test_the_first_value_of_another_type_is_reported() -> None:
    calls = ["add(1, 2)", "add(-3, 5)", "add(0, 0)"]
    assert mistyped(calls, outcomes("3", "None", "0"), "int", "The sum.") == (
        "add(-3, 5) returned None, not an int as the spec declares"
    )
    assert mistyped(calls, outcomes("3", "2.5", "False"), "int", "The sum.") == (
        "add(-3, 5) returned 2.5, not an int as the spec declares"
    )
    assert mistyped(calls, outcomes("3", "raises TypeError", "timeout"), "int", "") is None
    assert mistyped(calls, outcomes("3", "2", "0"), "int", "") is None


def test_none_is_allowed_where_the_description_says_it() -> None:
    calls = ["first([])"]
    assert mistyped(calls, outcomes("None"), "int", "The first item, or None if empty.") is None
    assert mistyped(calls, outcomes("None"), "int | None", "The first item.") is None
    assert mistyped(calls, outcomes("None"), "int", "The first item.") is not None


def test_long_outputs_are_named_by_kind_and_unknown_types_promise_nothing() -> None:
    long = "'" + "x" * 100 + "'"
    assert mistyped(["f(1)"], outcomes(long), "list[str]", "") == (
        "f(1) returned a string, not a list[str] as the spec declares"
    )
    assert mistyped(["f(1)"], outcomes("None"), "Person", "") is None
    assert mistyped(["f(1)"], outcomes("'1'"), "Any", "") is None
