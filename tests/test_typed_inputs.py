"""Inputs made from declared parameter types, for functions no example checks."""

from __future__ import annotations

from marshalike.gate.typed_inputs import typed_calls, values_of
from marshalike.language.parse import parse


def calls(text: str, limit: int = 6) -> tuple[str, ...]:
    module = parse(text, "t.mrsh").module
    assert module is not None
    return typed_calls(module, module.funcs[0], limit)


def test_one_typical_call_then_one_parameter_changed_at_a_time() -> None:
    text = "# func pad(text: string, width: integer): string\n\nPad it.\n"
    assert calls(text, limit=10) == (
        "pad('hello world', 3)",
        "pad('', 3)",
        "pad('a', 3)",
        "pad('Ünïcödé ✓', 3)",
        "pad('hello world', 0)",
        "pad('hello world', -2)",
        "pad('hello world', 10)",
    )
    assert len(calls(text, limit=2)) == 2


def test_collections_get_their_edges() -> None:
    assert values_of("list[int]") == [[3, 0, -2], [], [3], [3, 3]]
    assert values_of("dict[str, int]") == [{"hello world": 3}, {}]
    assert values_of("tuple[int, str]") == [(3, "hello world")]
    assert values_of("tuple[int, ...]") == [(3, 0), ()]
    assert values_of("set[list[int]]") == []  # a list cannot be a member of a set
    assert values_of("Any") == [] and values_of("datetime.date") == []
    assert values_of("not python (") == []


def test_a_record_or_untyped_parameter_gives_no_calls() -> None:
    text = (
        "# type Point\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n"
        "# func norm(p: Point): float\n\nIts length.\n"
    )
    module = parse(text, "t.mrsh").module
    assert module is not None
    norm = module.func("norm")
    assert norm is not None
    assert typed_calls(module, norm) == ()
    assert calls("# func f(anything): string\n\nSomething.\n") == ()
