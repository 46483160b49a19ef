"""Inputs at the edges of a function's parameter types, for questions: each example call
with one argument replaced by an edge value of that argument's kind (zero, a negative, an
empty or one-item or repeated collection, an empty or non-ASCII text). The probe inputs
(`mutate`) stay what the gate is judged on; these only widen where candidates are asked to
disagree. Values the description rules out (`domain`) are left out."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import Any

from marshalike.gate.domain import admits
from marshalike.gate.mutate import call_key, call_of, mutated_calls, render_call
from marshalike.language.spec import Func

DEFAULT_LIMIT = 12
_TEXT = "Ünïcödé ✓"


def question_calls(func: Func, seed: int, limit: int = DEFAULT_LIMIT) -> tuple[str, ...]:
    """The probe inputs, then edge inputs no example and no probe input makes, in a fixed
    order, at most `limit` in all."""
    keep = admits(func)
    probes = mutated_calls(func, seed=seed, keep=keep)
    seen = {call_key(call) for call in probes}
    seen |= {call_key(e.call) for e in func.examples if e.call}
    found = list(probes)
    for example in func.examples:
        if not (example.checkable and example.call and example.func == func.name):
            continue
        for call in _edges_of(example.call, keep):
            key = call_key(call)
            if key not in seen and len(found) < limit:
                seen.add(key)
                found.append(call)
    return tuple(found[:limit])


def _edges_of(call: str, keep: Callable[[Any], bool]) -> Iterator[str]:
    tree = call_of(call)
    if tree is None:
        return
    callee = ast.unparse(tree.func)
    args = [ast.unparse(a) for a in tree.args]
    keywords = [(k.arg, ast.unparse(k.value)) for k in tree.keywords]
    for i, node in enumerate(tree.args):
        for edge in _edges(node):
            if keep(edge):
                yield render_call(callee, [*args[:i], repr(edge), *args[i + 1 :]], keywords)


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
