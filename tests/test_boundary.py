"""Edge inputs for questions: each example with one argument at an edge of its kind."""

from __future__ import annotations

from marshalike.gate.boundary import question_calls
from marshalike.gate.domain import admits
from marshalike.gate.mutate import mutated_calls
from marshalike.language.parse import parse


def _func(text: str):
    module = parse(text, "f.mrsh").module
    assert module is not None
    return module.funcs[0]


def test_edges_follow_the_probe_inputs_and_skip_what_examples_already_make() -> None:
    func = _func("# func shout(text, times): text\n\nRepeat it.\n\n* shout('hi', 2) = 'HIHI'\n")
    calls = question_calls(func, seed=0, limit=40)
    probes = mutated_calls(func, seed=0, keep=admits(func))
    assert calls[: len(probes)] == probes
    assert "shout('Ünïcödé ✓', 2)" in calls and "shout('hi', -1)" in calls
    assert "shout('hi', 2)" not in calls
    assert len(calls) == len(set(calls))
    assert len(question_calls(func, seed=0, limit=5)) == 5


def test_lists_get_empty_single_and_repeated_items_and_the_description_is_respected() -> None:
    func = _func("# func largest(list of int): int\n\nThe largest.\n\n* largest([3, 1]) = 3\n")
    assert {"largest([3])", "largest([3, 3, 3])"} <= set(question_calls(func, 0, limit=40))
    strict = _func(
        "# func largest(list of int): int\n\nThe largest of a non-empty list.\n\n"
        "* largest([3, 1]) = 3\n"
    )
    assert "largest([])" not in question_calls(strict, 0, limit=40)


def test_what_the_description_names_comes_first() -> None:
    func = _func(
        "# func largest(list of int): int\n\nThe largest of a non-empty list. The numbers may "
        "all be negative.\n\n* largest([1, 5, 3]) = 5\n"
    )
    calls = question_calls(func, seed=0, limit=40)
    assert calls[0] == "largest([-2, -6, -4])"  # named: all negative
    assert calls[1:] == question_calls(
        _func(func.text.replace(" The numbers may all be negative.", "")), 0, limit=39
    )
    said = _func(
        "# func tidy(text): text\n\nTrim the spaces, ignore case and keep unicode.\n\n"
        "* tidy('Ab') = 'ab'\n"
    )
    assert question_calls(said, 0, limit=4) == (
        "tidy('  Ab ')",
        "tidy('AB')",
        "tidy('aB')",
        "tidy('Ab Ünïcödé ✓')",
    )
    quiet = _func("# func tidy(text): text\n\nTidy it.\n\n* tidy('Ab') = 'ab'\n")
    assert "tidy('  Ab ')" not in question_calls(quiet, 0, limit=40)
