"""Inputs the description rules out are not probed."""

from __future__ import annotations

from marshalike.gate.domain import admits
from marshalike.gate.mutate import mutated_calls
from marshalike.gate.probe import probe_calls
from marshalike.language.parse import parse
from marshalike.language.spec import Func


def func(
    description: str,
    heading: str = "f(items: list of integer, n: integer): integer",
    example: str = "f([1, 5], 3) = 5",
) -> Func:
    result = parse(f"# func {heading}\n\n{description}\n\n* {example}\n", "t.mrsh")
    assert result.module is not None, result.diagnostics
    return result.module.funcs[0]


def test_a_non_empty_description_rules_out_empty_values() -> None:
    ok = admits(func("The largest item of a non-empty list."))
    assert not ok([]) and not ok("") and not ok({}) and not ok(())
    assert ok([1]) and ok(3) and ok(-3) and ok(0)
    at_least = admits(func("The list has at least one element."))
    assert not at_least([])


def test_a_smallest_size_rules_out_shorter_values() -> None:
    two = admits(func("From a supplied list of numbers (of length at least two) select two."))
    assert [two(v) for v in ([], [1.0], [1.0, 2.0], "a", "ab", 1)] == [
        False, False, True, False, True, True
    ]  # fmt: skip
    three = admits(func("Given at least 3 numbers, the median."))
    assert not three([1, 2]) and three([1, 2, 3])
    assert admits(func("A list with at least one word, and non-empty."))(["a"])
    assert admits(func("Returns the pairs: a list, possibly empty."))([])


def test_positive_and_non_negative_numbers() -> None:
    positive = admits(func("n is a positive integer."))
    assert [positive(n) for n in (2, 0, -2)] == [True, False, False]
    assert positive([-1])  # a list's items are not judged
    natural = admits(func("Given a non-negative number n."))
    assert [natural(n) for n in (2, 0, -2)] == [True, True, False]
    assert [natural(x) for x in (0.5, -0.5)] == [True, False]
    assert natural(False) and positive(False)  # a bool is no number here


def test_words_that_name_no_input_limit_nothing() -> None:
    for description in (
        "The number multiplied by itself; the square of a negative number is positive.",
        "Return only positive numbers in the list.",  # the output, not the input
        "Empty lists give 0.",
    ):
        ok = admits(func(description))
        assert ok([]) and ok(0) and ok(-1), description


def test_probe_calls_are_drawn_from_the_allowed_mutations_only() -> None:
    restricted = func("The largest item of a non-empty list; n is a positive integer.")
    plain = func("The largest item.")
    assert "f([], 3)" in mutated_calls(plain, seed=0, limit=100)
    everything = mutated_calls(restricted, seed=0, limit=100, keep=admits(restricted))
    assert everything == ("f([1], 3)", "f([5, 1], 3)", "f([1, 5, 1, 5], 3)",
                          "f([1, 5], 4)", "f([1, 5], 2)")  # fmt: skip
    calls = probe_calls(restricted, seed=0)
    assert len(calls) == 5 and set(calls) == set(everything)
    assert len(mutated_calls(plain, seed=0, limit=100)) > len(everything)


def test_an_argument_an_example_gives_is_not_judged() -> None:
    # The example calls f with [] itself: that input is meant, whatever the prose says, so
    # mutations of the other argument keep it.
    spec = func("A non-empty list, or so it says.", example="f([], 3) = 0")
    calls = mutated_calls(spec, seed=0, limit=100, keep=admits(spec))
    assert calls == ("f([], 4)", "f([], 2)", "f([], 0)", "f([], -3)")
