"""Inputs for a function from its declared parameter types alone, for a function no example
can check: with nothing to mutate, the signature is all there is to ask about.

Each parameter's type phrase goes through the type mapper (`typemap.annotation`), and each
annotation it knows has a few plain values: a typical one first, then edge values (zero,
a negative, empty text and collections, one item). The first call passes every parameter
its typical value; each further call changes one parameter to one of its other values, so
every question differs from the first in one place. Parameters of a declared record type,
or of a type with no plain literal (a date, `Any`), give no calls: a value made up for
them would say more about this module than about the spec.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from marshalike.gate.mutate import render_call
from marshalike.language.spec import Func, Module
from marshalike.language.typemap import annotation

DEFAULT_LIMIT = 6

_SCALARS: dict[str, list[Any]] = {
    "int": [3, 0, -2, 10],
    "float": [2.5, 0.0, -1.5],
    "str": ["hello world", "", "a", "Ünïcödé ✓"],
    "bool": [True, False],
    "bytes": [b"abc", b""],
}


def typed_calls(module: Module, func: Func, limit: int = DEFAULT_LIMIT) -> tuple[str, ...]:
    """Up to `limit` calls of `func` built from its parameters' declared types; none when a
    parameter's type has no plain values."""
    known = {t.name for t in module.types}
    choices = [values_of(annotation(p.type, known)) for p in func.params]
    if any(not values for values in choices):
        return ()
    typical = [values[0] for values in choices]
    calls = [_call(func.name, typical)]
    for i, values in enumerate(choices):
        for value in values[1:]:
            calls.append(_call(func.name, [*typical[:i], value, *typical[i + 1 :]]))
    return tuple(dict.fromkeys(calls))[:limit]


def values_of(annotation_source: str) -> list[Any]:
    """Plain values of the annotation's type, the typical one first; empty for a type this
    cannot make values of."""
    try:
        node = ast.parse(annotation_source, mode="eval").body
    except SyntaxError:
        return []
    return _values(node)


def _values(node: ast.expr) -> list[Any]:
    if isinstance(node, ast.Name):
        return list(_SCALARS.get(node.id, []))
    if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Name):
        return []
    kind = node.value.id
    inner = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    items = [_values(n) for n in inner if not (isinstance(n, ast.Constant) and n.value is ...)]
    if not items or any(not values for values in items):
        return []
    try:
        return _built(kind, inner, items)
    except TypeError:  # an unhashable key or member: a list in a set, say
        return []


def _built(kind: str, inner: Sequence[ast.expr], items: list[list[Any]]) -> list[Any]:
    if kind == "list":
        first = items[0]
        return [first[:3], [], first[:1], [first[0], first[0]]]
    if kind == "set":
        return [set(items[0][:2]), set()]
    if kind == "tuple" and len(inner) == 2 and isinstance(inner[1], ast.Constant):
        return [tuple(items[0][:2]), ()]  # tuple[X, ...]
    if kind == "tuple":
        return [tuple(values[0] for values in items)]
    if kind == "dict" and len(items) == 2:
        keys, values = items
        return [{keys[0]: values[0]}, {}]
    return []


def _call(name: str, values: Sequence[Any]) -> str:
    return render_call(name, [repr(v) for v in values], [])
