"""Inputs the description rules out are not probed."""

from __future__ import annotations

from marshalike.domain import admits
from marshalike.loop import probe_calls
from marshalike.mutate import mutated_calls
from marshalike.parse import parse
from marshalike.spec import Func


def func(description: str, heading: str = "f(items: list of integer, n: integer): integer") -> Func:
    result = parse(f"# func {heading}\n\n{description}\n\n* f([1, 5], 3) = 5\n", "t.mrsh")
    assert result.module is not None, result.diagnostics
    return result.module.funcs[0]


def test_a_non_empty_description_rules_out_empty_arguments() -> None:
    ok = admits(func("The largest item of a non-empty list."))
    assert not ok("f([], 3)") and not ok("f([1], '')")
    assert ok("f([1], 3)") and ok("f([1], -3)")
    at_least = admits(func("The list has at least one element."))
    assert not at_least("f([], 3)")


def test_positive_and_non_negative_numbers() -> None:
    positive = admits(func("n is a positive integer."))
    assert [positive(f"f([1], {n})") for n in (2, 0, -2)] == [True, False, False]
    assert positive("f([-1], 2)")  # list items are not arguments
    natural = admits(func("Given a non-negative number n."))
    assert [natural(f"f([1], {n})") for n in (2, 0, -2)] == [True, True, False]
    assert [natural(f"f([1], {x})") for x in (0.5, -0.5)] == [True, False]
    assert natural("f([1], True)")  # a bool is no number here


def test_words_that_name_no_input_limit_nothing() -> None:
    for description in (
        "The number multiplied by itself; the square of a negative number is positive.",
        "Return only positive numbers in the list.",  # the output, not the input
        "Empty lists give 0.",
    ):
        ok = admits(func(description))
        assert ok("f([], 0)") and ok("f([1], -1)"), description


def test_unparsable_calls_and_non_literals_are_kept() -> None:
    ok = admits(func("A non-empty list and a positive number n."))
    assert ok("f(") and ok("f(items, size)") and ok("g[0]")


def test_probe_calls_are_drawn_from_the_allowed_mutations_only() -> None:
    restricted = func("The largest item of a non-empty list; n is a positive integer.")
    plain = func("The largest item.")
    assert "f([], 3)" in mutated_calls(plain, seed=0, limit=100)
    calls = probe_calls(restricted, seed=0)
    assert calls and all("[]" not in c and "(0" not in c and ", 0)" not in c for c in calls)
    assert all(admits(restricted)(c) for c in calls)
    assert len(calls) == min(8, len(mutated_calls(restricted, seed=0, limit=100,
                                                   keep=admits(restricted))))  # fmt: skip
    assert len(mutated_calls(plain, seed=0, limit=100)) > len(
        mutated_calls(restricted, seed=0, limit=100, keep=admits(restricted))
    )
