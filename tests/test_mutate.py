"""Extra inputs by mutation of the examples' literal arguments."""

from __future__ import annotations

from marshalike.gate.mutate import mutated_calls
from marshalike.language.parse import parse
from marshalike.language.spec import Func


def func(text: str) -> Func:
    result = parse(text, "t.mrsh")
    assert result.module is not None, result.diagnostics
    return result.module.funcs[0]


def test_each_literal_type_keeps_its_type() -> None:
    calls = mutated_calls(
        func("# func f(n: int, s: str): int\n\nx.\n\n* f(3, 'Ab') = 1\n"), seed=0, limit=100
    )
    assert calls == (
        "f(4, 'Ab')",
        "f(2, 'Ab')",
        "f(0, 'Ab')",
        "f(-3, 'Ab')",
        "f(3, '')",
        "f(3, 'bA')",
        "f(3, 'aB')",
        "f(3, ' Ab ')",
    )


def test_lists_dicts_tuples_sets_floats_and_bools() -> None:
    text = (
        "# func f(a: any): int\n\nx.\n\n* f([1, 2], {'k': 1, 'j': 2}, (1, 2), {3}, 1.5, True) = 1\n"
    )
    calls = mutated_calls(func(text), seed=0, limit=100)
    rest = "{'k': 1, 'j': 2}, (1, 2), {3}, 1.5, True"
    assert calls[:4] == (
        f"f([], {rest})",
        f"f([1], {rest})",
        f"f([2, 1], {rest})",
        f"f([1, 2, 1, 2], {rest})",
    )
    assert "f([1, 2], {}, (1, 2), {3}, 1.5, True)" in calls
    assert "f([1, 2], {'k': 1}, (1, 2), {3}, 1.5, True)" in calls
    assert "f([1, 2], {'k': 1, 'j': 2}, (2, 1), {3}, 1.5, True)" in calls
    assert "f([1, 2], {'k': 1, 'j': 2}, (1, 2), set(), 1.5, True)" in calls
    assert "f([1, 2], {'k': 1, 'j': 2}, (1, 2), {3}, -1.5, True)" in calls
    assert "f([1, 2], {'k': 1, 'j': 2}, (1, 2), {3}, 1.5, False)" in calls


def test_non_literals_and_keywords() -> None:
    text = "# type P\nname\nJoe\n\n# func f(p: P, n: int): int\n\nx.\n\n* f(P('Joe'), n=1) = 1\n"
    calls = mutated_calls(func(text), seed=0, limit=100)
    assert calls == ("f(P('Joe'), n=2)", "f(P('Joe'), n=0)", "f(P('Joe'), n=-1)")


def test_calls_the_examples_make_are_not_repeated() -> None:
    text = "# func f(n: int): int\n\nx.\n\n* f(1) = 1\n* f(2) = 2\n* f(0) raises ValueError\n"
    assert mutated_calls(func(text), seed=0, limit=100) == ("f(-1)", "f(3)", "f(-2)")


def test_a_seed_picks_the_same_bounded_subset_in_order() -> None:
    text = "# func f(s: str, t: str): int\n\nx.\n\n* f('ab', 'cd') = 1\n* f('x', 'Y') = 2\n"
    everything = mutated_calls(func(text), seed=0, limit=100)
    picked = mutated_calls(func(text), seed=7, limit=5)
    assert len(everything) > 5 and len(picked) == 5
    assert picked == mutated_calls(func(text), seed=7, limit=5)
    assert list(picked) == [c for c in everything if c in picked]  # the original order
    assert any(mutated_calls(func(text), seed=s, limit=5) != picked for s in range(5))


def test_examples_of_other_functions_and_informal_ones_are_ignored() -> None:
    text = "# func f(n: int): int\n\nx.\n\n* len(f(1)) = 1\n* f(2) = about two\n"
    assert mutated_calls(func(text), seed=0) == ()
