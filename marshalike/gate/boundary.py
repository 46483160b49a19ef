"""Inputs for questions beyond the examples: first those the description names, then the
probe inputs, then the edges of each parameter's kind.

Named: a description that speaks of negative numbers, zero, duplicates, spaces, letter case
or non-ASCII text gets, for each example call, the call with one argument turned into that
kind of value ("The numbers may all be negative": `largest([-1, -5, -3])`), since a spec
that names a case and gives no example of it leaves exactly that open. Edges: each example
call with one argument replaced by an edge value of that argument's kind (zero, a negative,
an empty or one-item or repeated collection, an empty or non-ASCII text). The probe inputs
(`mutate`) stay what the gate is judged on; these only widen where candidates are asked to
disagree. Values the description rules out (`domain`) are left out."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from typing import Any

from marshalike.gate.domain import admits
from marshalike.gate.mutate import call_key, mutated_calls, one_replaced
from marshalike.language.spec import Func

DEFAULT_LIMIT = 12
_TEXT = "Ünïcödé ✓"


def question_calls(func: Func, seed: int, limit: int = DEFAULT_LIMIT) -> tuple[str, ...]:
    """The probe inputs, then edge inputs no example and no probe input makes, in a fixed
    order, at most `limit` in all."""
    keep = admits(func)
    calls = [e.call for e in func.examples if e.checkable and e.call and e.func == func.name]
    seen = {call_key(e.call) for e in func.examples if e.call}
    named = _named(func.description)
    found: list[str] = []
    candidates = [
        *(c for call in calls for c in _replaced(call, keep, lambda n: _named_values(n, named))),
        *mutated_calls(func, seed=seed, keep=keep),
        *(c for call in calls for c in _replaced(call, keep, _edges)),
    ]
    for call in candidates:
        key = call_key(call)
        if key not in seen and len(found) < limit:
            seen.add(key)
            found.append(call)
    return tuple(found)


def _replaced(
    call: str, keep: Callable[[Any], bool], values: Callable[[ast.expr], list[Any]]
) -> Iterator[str]:
    """`call` with one positional argument replaced by each of `values` of it that `keep`
    accepts."""

    def sources(node: ast.expr) -> Iterator[str]:
        return (repr(value) for value in values(node) if keep(value))

    return one_replaced(call, sources, keywords=False)


# The kinds of value a description may name, and the words that name them.
_NAMED = {
    "negative": re.compile(r"\b(negative|below zero|less than zero)\b", re.IGNORECASE),
    "zero": re.compile(r"\b(zero|zeros|zeroes)\b", re.IGNORECASE),
    "duplicates": re.compile(r"\b(duplicates?|duplicated|repeated|repeats?|twice)\b", re.I),
    "spaces": re.compile(r"\b(spaces?|whitespace|blanks?|padded|trim\w*|strip\w*)\b", re.I),
    "case": re.compile(r"\b(upper|lower|capital\w*|case)\b", re.IGNORECASE),
    "unicode": re.compile(r"\b(unicode|non-?ascii|accent\w*|emoji)\b", re.IGNORECASE),
}


def _named(description: str) -> set[str]:
    return {kind for kind, words in _NAMED.items() if words.search(description)}


def _named_values(node: ast.expr, named: set[str]) -> list[Any]:
    """Values of the literal's own kind of each kind the description names."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return []
    out: list[Any] = []
    numbers = isinstance(value, list) and value and all(_is_number(v) for v in value)
    if "negative" in named and _is_number(value):
        out.append(-abs(value) - 1)
    if "negative" in named and numbers:
        out.append([-abs(v) - 1 for v in value])
    if "zero" in named and _is_number(value):
        out.append(type(value)(0))
    if "zero" in named and numbers:
        out.append([type(v)(0) for v in value])
    if "duplicates" in named and isinstance(value, list) and value:
        out.append([*value, value[0]])
    if isinstance(value, str) and value:
        if "spaces" in named:
            out.append(f"  {value} ")
        if "case" in named:
            out.extend([value.upper(), value.swapcase()])
        if "unicode" in named:
            out.append(value + " " + _TEXT)
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _edges(node: ast.expr) -> list[Any]:
    """Edge values of the literal's own kind; none for what is not a literal."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return []
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [0, -1, 1]
    if isinstance(value, float):
        return [0.0, -1.5]
    if isinstance(value, str):
        return ["", " ", _TEXT]
    if isinstance(value, list):
        return [[], value[:1], value[:1] * 3] if value else [[]]
    if isinstance(value, tuple | set | dict):
        return [type(value)()]
    return []
