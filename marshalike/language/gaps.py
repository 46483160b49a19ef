"""What a function's examples leave open: behaviours no checkable example pins down.

With few examples, code that passes them can still be wrong wherever they are silent, and
the edge cases are where it usually is: the empty list, the negative number, the error the
description promises. From each parameter's type (read with `typemap`) and the description,
this lists such cases that no example's arguments or outcome cover, as short phrases for the
check's M026 warning. It only reads literals: an argument that is not one (a constructed
record, a name) counts as covering nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from typing import Any

from marshalike.language.spec import Func, Param
from marshalike.language.typemap import annotation

_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_EMPTY_NAMES = {"list": "an empty list", "dict": "an empty dict", "set": "an empty set"}
# `a positive integer` rules out zero and negatives, `a non-negative count` negatives.
_POSITIVE = re.compile(r"(?<!-)\bpositive\b", re.IGNORECASE)
_NOT_NEGATIVE = re.compile(r"\b(non-?negative|natural|unsigned)\b", re.IGNORECASE)
_RAISES = re.compile(
    r"\b(?i:raises?|raising|throws?|throwing)\s+(?:an?\s+)?"
    r"(?P<name>[A-Z]\w*(?:Error|Exception)\b|error\b|exception\b)"
)
_NEGATED = re.compile(r"\b(?:never|not|no)\s+(?:\w+\s+)?$|n't\s+(?:\w+\s+)?$", re.IGNORECASE)
_NOTHING = object()  # an argument that is not a literal


def unpinned(func: Func, known_types: set[str]) -> list[str]:
    """Phrases such as "no example with an empty list for `items`", in parameter order,
    then the description's exceptions."""
    calls = [_arguments(e.call) for e in func.examples if _own_call(e.call, e.func, func)]
    found: list[str] = []
    named: set[str] = set()
    for position, param in enumerate(func.params):
        if param.name in named:
            continue  # a duplicate parameter is M018's error; its values are ambiguous
        named.add(param.name or "")
        values = [_value(args, position, param) for args in calls if args is not None]
        kind = annotation(param.type, known_types)
        found.extend(_param_gaps(kind, param, values, _label(param, position)))
    shown = {e.exception for e in func.examples if e.outcome == "raises"}
    found.extend(_raise_gaps(func.description, shown))
    return found


def listed(gaps: Sequence[str], most: int = 4) -> str:
    """The first `most` gaps, joined for one diagnostic line."""
    more = len(gaps) - most
    return "; ".join(gaps[:most]) + (f"; and {more} more" if more > 0 else "")


def _own_call(call: str | None, called: str | None, func: Func) -> bool:
    return call is not None and called == func.name


def _arguments(call: str | None) -> tuple[list[ast.expr], dict[str, ast.expr]] | None:
    try:
        node = ast.parse((call or "").strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(node, ast.Call):
        return None
    return list(node.args), {k.arg: k.value for k in node.keywords if k.arg is not None}


def _value(args: tuple[list[ast.expr], dict[str, ast.expr]], position: int, param: Param) -> Any:
    """The literal the call passes for `param` (its default when it passes none)."""
    positional, keywords = args
    if any(isinstance(a, ast.Starred) for a in positional):
        return _NOTHING
    if position < len(positional):
        return _literal(positional[position])
    if param.name in keywords:
        return _literal(keywords[param.name])
    if param.default is not None:
        try:
            return _literal(ast.parse(param.default, mode="eval").body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return _NOTHING
    return _NOTHING


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOTHING


def _label(param: Param, position: int) -> str:
    if param.name:
        return f"`{param.name}`"
    ordinal = _ORDINALS[position] if position < len(_ORDINALS) else f"{position + 1}th"
    return f"the {ordinal} argument"


def _param_gaps(kind: str, param: Param, values: Sequence[Any], label: str) -> Iterator[str]:
    literal = [v for v in values if v is not _NOTHING]
    base, _, rest = kind.partition(" | ")
    if rest == "None" and None not in literal:
        yield f"no example with None for {label}"
    base = base.split("[", 1)[0]
    if base in ("int", "float"):
        yield from _number_gaps(param, literal, label)
    elif base == "str" and "" not in literal:
        yield f"no example with an empty string for {label}"
    elif base in _EMPTY_NAMES and not any(_is_empty(v) for v in literal):
        yield f"no example with {_EMPTY_NAMES[base]} for {label}"
    elif base == "bool":
        for flag in (True, False):
            if flag not in [v for v in literal if isinstance(v, bool)]:
                yield f"no example with {flag} for {label}"


def _number_gaps(param: Param, literal: Sequence[Any], label: str) -> Iterator[str]:
    if _POSITIVE.search(param.type):
        return
    numbers = [v for v in literal if isinstance(v, int | float) and not isinstance(v, bool)]
    zero = any(v == 0 for v in numbers)
    negative = any(v < 0 for v in numbers) or _NOT_NEGATIVE.search(param.type) is not None
    if not zero and not negative:
        yield f"no example with zero or a negative number for {label}"
    elif not zero:
        yield f"no example with zero for {label}"
    elif not negative:
        yield f"no example with a negative number for {label}"


def _is_empty(value: Any) -> bool:
    return isinstance(value, list | dict | set | tuple | str) and len(value) == 0


def promised_exceptions(description: str) -> list[str]:
    """The exceptions the description says the function raises, in order: class names
    such as "ValueError", or "an error" where it names none ("raises an error")."""
    named: list[str] = []
    for match in _RAISES.finditer(description):
        if _NEGATED.search(description[max(0, match.start() - 20) : match.start()]):
            continue  # "it never raises an error" promises the opposite
        name = match["name"] if match["name"][0].isupper() else "an error"
        if name not in named:
            named.append(name)
    return named


def _raise_gaps(description: str, shown: set[str | None]) -> Iterator[str]:
    for name in promised_exceptions(description):
        # Marsha's `= throws an error` example expects any exception: it shows them all.
        if not shown or (name != "an error" and not shown & {name, "Exception"}):
            yield f"the description says it raises {name} but no example shows it"
