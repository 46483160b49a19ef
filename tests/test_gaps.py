"""What no example pins down (gaps.unpinned), read from parameter types and the description."""

from __future__ import annotations

import pytest

from marshalike.language.gaps import listed, promised_exceptions, unpinned
from marshalike.language.parse import parse


def gaps(text: str, types: frozenset[str] = frozenset()) -> list[str]:
    result = parse(text, "t.mrsh")
    assert result.module is not None, result.diagnostics
    return unpinned(result.module.funcs[0], set(types))


def test_each_kind_of_parameter() -> None:
    text = (
        "# func f(items: list of int, n: int, x: float, s: str, d: dict of str to int, "
        "tags: set of str, flag: bool, o: optional int, pair: tuple of int and int): int\n\n"
        "Something.\n\n"
        "* f([1], 2, 0.5, 'a', {'k': 1}, {'t'}, True, 3, (1, 2)) = 1\n"
    )
    assert gaps(text) == [
        "no example with an empty list for `items`",
        "no example with zero or a negative number for `n`",
        "no example with zero or a negative number for `x`",
        "no example with an empty string for `s`",
        "no example with an empty dict for `d`",
        "no example with an empty set for `tags`",
        "no example with False for `flag`",
        "no example with None for `o`",
        "no example with zero or a negative number for `o`",
    ]


def test_examples_that_cover_the_edges_leave_nothing() -> None:
    text = (
        "# func f(items: list of int, n: int, s: str): int\n\nSomething.\n\n"
        "* f([], 0, 'a') = 1\n* f([1], -2, s='') = 1\n"
    )
    assert gaps(text) == []


def test_zero_and_negative_are_told_apart() -> None:
    only_zero = "# func f(n: int): int\n\nx.\n\n* f(0) = 1\n"
    only_negative = "# func f(n: int): int\n\nx.\n\n* f(-1) = 1\n"
    assert gaps(only_zero) == ["no example with a negative number for `n`"]
    assert gaps(only_negative) == ["no example with zero for `n`"]


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("a positive integer", []),
        ("a non-negative integer", ["no example with zero for `n`"]),
        ("integer", ["no example with zero or a negative number for `n`"]),
    ],
)
def test_the_type_phrase_can_rule_out_negatives(phrase: str, expected: list[str]) -> None:
    assert gaps(f"# func f(n: {phrase}): int\n\nx.\n\n* f(3) = 1\n") == expected


def test_marsha_parameters_are_named_by_position() -> None:
    text = "# func f(list of int, string): int\n\nx.\n\n* f([1], 'a') = 1\n"
    assert gaps(text) == [
        "no example with an empty list for the first argument",
        "no example with an empty string for the second argument",
    ]


def test_arguments_that_are_not_literals_cover_nothing() -> None:
    text = "# type P\nname\nJoe\n\n# func f(people: list of P): int\n\nx.\n\n* f([P('Joe')]) = 1\n"
    assert gaps(text, frozenset({"P"})) == ["no example with an empty list for `people`"]


def test_raised_errors_the_description_names() -> None:
    base = "# func f(n: int): int\n\n{}\n\n* f(0) = 1\n* f(-1) = 1\n"
    assert gaps(base.format("Raises ValueError for big n; throws a KeyError too.")) == [
        "the description says it raises ValueError but no example shows it",
        "the description says it raises KeyError but no example shows it",
    ]
    assert gaps(base.format("Throws an error on bad input.")) == [
        "the description says it raises an error but no example shows it"
    ]
    assert gaps(base.format("It never raises an error.")) == []


def test_an_example_that_raises_covers_what_it_raises() -> None:
    text = (
        "# func f(n: int): int\n\nRaises ValueError for 0, raises KeyError for 1.\n\n"
        "* f(0) = 1\n* f(-1) raises ValueError\n"
    )
    assert gaps(text) == ["the description says it raises KeyError but no example shows it"]
    marsha = text.replace("raises ValueError\n", "= throws an error\n")
    assert gaps(marsha) == []


def test_listed_cuts_long_lists() -> None:
    assert listed(["a", "b"]) == "a; b"
    assert listed(["a", "b", "c"], most=2) == "a; b; and 1 more"


def test_a_default_counts_for_the_examples_that_leave_the_parameter_out() -> None:
    text = "# func f(xs: list of int, flag: bool = True): int\n\nx.\n\n* f([]) = 1\n"
    assert gaps(text) == ["no example with False for `flag`"]


def test_promised_exceptions_in_order_without_the_negated_ones() -> None:
    text = ("Raises ValueError for a negative count; it never raises an error otherwise, but "
            "throws KeyError for an unknown name and raises ValueError again.")  # fmt: skip
    assert promised_exceptions(text) == ["ValueError", "KeyError"]
    assert promised_exceptions("It raises an exception when empty.") == ["an error"]
    assert promised_exceptions("The sum of the numbers.") == []
