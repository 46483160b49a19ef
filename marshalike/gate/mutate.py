"""Extra inputs for a function, derived from its examples by mutation.

Candidates that all pass the examples can still disagree elsewhere; running them on inputs
near the examples' (an integer one off, an empty list, a reversed string) shows where. Each
mutation changes one literal argument of one example call and keeps its type, so the new
call is one the spec's author could have written. Arguments that are not literals (a
constructed record, a name) are kept as written. The choice among the mutations is random
but seeded, so one seed always gives the same inputs.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from marshalike.language.spec import Func

DEFAULT_LIMIT = 8
# A mutated value whose source is longer than this is dropped: doubling a long list again
# and again would only make the probe slow.
_MAX_SOURCE = 2_000


def mutated_calls(
    func: Func,
    *,
    seed: int,
    limit: int = DEFAULT_LIMIT,
    keep: Callable[[Any], bool] | None = None,
) -> tuple[str, ...]:
    """Up to `limit` call expressions of `func` that no example makes, in a fixed order;
    with `keep`, only mutated values it accepts are chosen from."""
    calls = [e.call for e in func.examples if e.checkable and e.call and e.func == func.name]
    seen = {call_key(call) for call in calls}
    found: list[str] = []
    for call in calls:
        for variant in _variants(call, keep or _any):
            key = call_key(variant)
            if key not in seen:
                seen.add(key)
                found.append(variant)
    if len(found) <= limit:
        return tuple(found)
    picked = sorted(random.Random(seed).sample(range(len(found)), limit))
    return tuple(found[i] for i in picked)


def _any(value: Any) -> bool:
    return True


def _variants(call: str, keep: Callable[[Any], bool]) -> Iterator[str]:
    """Each call that differs from `call` in one mutated literal argument `keep` accepts."""
    return one_replaced(call, lambda node: _mutations(node, keep))


def one_replaced(
    call: str, sources: Callable[[ast.expr], Iterable[str]], *, keywords: bool = True
) -> Iterator[str]:
    """`call` with one argument's source replaced by each of `sources` of that argument,
    positional ones first, then (with `keywords`) keyword ones; nothing where `call` is no
    plain call (`call_of`)."""
    tree = call_of(call)
    if tree is None:
        return
    callee = ast.unparse(tree.func)
    args = [ast.unparse(a) for a in tree.args]
    pairs = [(k.arg, ast.unparse(k.value)) for k in tree.keywords]
    for i, node in enumerate(tree.args):
        for source in sources(node):
            yield render_call(callee, [*args[:i], source, *args[i + 1 :]], pairs)
    for i, keyword in enumerate(tree.keywords if keywords else ()):
        for source in sources(keyword.value):
            yield render_call(callee, args, [*pairs[:i], (keyword.arg, source), *pairs[i + 1 :]])


def call_of(source: str) -> ast.Call | None:
    """The call `source` makes, where it is one call with plain arguments (no `*args` or
    `**kwargs`, whose contents are unknown here); None otherwise."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(tree, ast.Call) or any(isinstance(a, ast.Starred) for a in tree.args):
        return None
    if any(k.arg is None for k in tree.keywords):  # **kwargs: its keys are unknown here
        return None
    return tree


def render_call(
    callee: str, args: Sequence[str], keywords: Sequence[tuple[str | None, str]]
) -> str:
    parts = [*args, *(f"{name}={value}" for name, value in keywords)]
    return f"{callee}({', '.join(parts)})"


def call_key(call: str) -> str:
    """What two spellings of the same call have in common (`f( 1 )` is `f(1)`)."""
    tree = call_of(call)
    return ast.dump(tree) if tree is not None else call.strip()


def _mutations(node: ast.expr, keep: Callable[[Any], bool]) -> Iterator[str]:
    """Sources of values of the literal's own type that differ from it and `keep` accepts."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return  # not a literal: kept as written
    mutate = _MUTATORS.get(type(value))
    if mutate is None:
        return
    emitted = {repr(value)}
    for new in filter(keep, mutate(value)):
        source = repr(new)
        if source not in emitted and len(source) <= _MAX_SOURCE and _reparses(source):
            emitted.add(source)
            yield source


def _reparses(source: str) -> bool:
    """False for values whose repr is no literal (`inf`, `nan`)."""
    try:
        ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return False
    return True


def _ints(n: int) -> list[int]:
    return [n + 1, n - 1, 0, -n]


def _floats(x: float) -> list[float]:
    return [x + 1.0, 0.0, -x]


def _strings(s: str) -> list[str]:
    return ["", s[::-1], s.swapcase(), f" {s} "]


def _lists(items: list[Any]) -> list[list[Any]]:
    return [[], items[:1], items[::-1], items + items]


def _tuples(items: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    # Tuples are often records of a fixed length (a point, a pair): their length stays.
    return [items[::-1]]


def _dicts(mapping: dict[Any, Any]) -> list[dict[Any, Any]]:
    return [{}, dict(list(mapping.items())[:1])]


def _sets(items: set[Any]) -> list[set[Any]]:
    return [set()]


_MUTATORS: dict[type, Callable[[Any], list[Any]]] = {
    bool: lambda b: [not b],
    int: _ints,
    float: _floats,
    str: _strings,
    list: _lists,
    tuple: _tuples,
    dict: _dicts,
    set: _sets,
}
