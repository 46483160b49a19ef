"""Python annotations -> the spec's English type phrases: the inverse of the type mapper.

A Python annotation is first made canonical, as the type mapper writes annotations
(`List[int]` and `Sequence[int]` are `list[int]`, `Optional[X]` is `X | None`, a bare
`dict` is `dict[str, Any]`); then said in English (`list of integer`, `optional Person`,
`dict of string to list of number`). A phrase is only ever written when the mapper reads it
back as the same annotation; where English cannot say it, the canonical Python annotation
is the phrase (the mapper reads those as written), and where neither can, `any`.
"""

from __future__ import annotations

import ast
from collections.abc import Set
from dataclasses import dataclass

from marshalike.language.typemap import annotation

ANY_PHRASE = "any"
_WORDS = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "bytes": "bytes",
    "Any": "any",
    "datetime.date": "date",
    "datetime.datetime": "datetime",
}
_PLAIN_NAMES = {"int", "float", "str", "bool", "bytes", "complex", "object", "Any"}
_GENERIC = {
    "list": "list", "List": "list", "Sequence": "list", "MutableSequence": "list",
    "Iterable": "list", "Collection": "list", "Iterator": "list",
    "set": "set", "Set": "set", "AbstractSet": "set", "MutableSet": "set",
    "frozenset": "frozenset", "FrozenSet": "frozenset",
    "tuple": "tuple", "Tuple": "tuple",
    "dict": "dict", "Dict": "dict", "Mapping": "dict", "MutableMapping": "dict",
}  # fmt: skip
_BARE = {
    "list": "list[Any]",
    "set": "set[Any]",
    "frozenset": "frozenset[Any]",
    "tuple": "tuple[Any, ...]",
    "dict": "dict[str, Any]",
}


@dataclass(frozen=True)
class Phrase:
    """A type phrase for a spec heading, and whether it says all the annotation said."""

    text: str
    exact: bool


def canonical(node: ast.expr | None, classes: Set[str]) -> str | None:
    """The annotation as the type mapper writes one (`list[int]`, `Person | None`); None
    where it names something the mapper has no word for (a callable, a class of another
    module). `classes` are the record types the spec declares."""
    if node is None:
        return None
    found = _canonical(node, classes)
    return None if found is None else ast.unparse(found)


def phrase_of(canonical_annotation: str | None, classes: Set[str]) -> Phrase:
    """The English phrase for a canonical annotation (see `canonical`), checked by reading
    it back with the type mapper."""
    if canonical_annotation is None:
        return Phrase(ANY_PHRASE, False)
    known = set(classes)
    try:
        tree = ast.parse(canonical_annotation, mode="eval").body
    except SyntaxError:
        return Phrase(ANY_PHRASE, False)
    english = _english(tree, classes)
    if english is not None and annotation(english, known) == canonical_annotation:
        return Phrase(english, True)
    if annotation(canonical_annotation, known) == canonical_annotation:
        return Phrase(canonical_annotation, True)
    return Phrase(ANY_PHRASE, canonical_annotation == "Any")


def _canonical(node: ast.expr, classes: Set[str]) -> ast.expr | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            inner = ast.parse(node.value.strip(), mode="eval").body
        except SyntaxError:
            return None
        return _canonical(inner, classes)
    if isinstance(node, ast.Constant) and node.value is None:
        return node
    name = _dotted(node)
    if name is not None:
        return _named(name, classes)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _canonical(node.left, classes), _canonical(node.right, classes)
        return None if left is None or right is None else ast.BinOp(left, ast.BitOr(), right)
    if isinstance(node, ast.Subscript):
        return _subscript(node, classes)
    return None


def _named(name: str, classes: Set[str]) -> ast.expr | None:
    short = name.removeprefix("typing.").removeprefix("collections.abc.")
    if short in classes:
        return ast.Name(short)
    if short in _PLAIN_NAMES:
        return ast.Name(short)
    if short in ("None", "NoneType"):
        return ast.Constant(None)
    if short in ("date", "datetime.date"):
        return ast.parse("datetime.date", mode="eval").body
    if short in ("datetime", "datetime.datetime"):
        return ast.parse("datetime.datetime", mode="eval").body
    if short in _GENERIC:
        return ast.parse(_BARE[_GENERIC[short]], mode="eval").body
    return None


def _subscript(node: ast.Subscript, classes: Set[str]) -> ast.expr | None:
    name = _dotted(node.value)
    short = (name or "").removeprefix("typing.").removeprefix("collections.abc.")
    elts = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if short in ("Optional", "Union"):
        found = [_canonical(e, classes) for e in elts]
        parts = [p for p in found if p is not None]
        if not parts or len(parts) < len(found):
            return None
        if short == "Optional":
            parts.append(ast.Constant(None))
        joined = parts[0]
        for other in parts[1:]:
            joined = ast.BinOp(joined, ast.BitOr(), other)
        return joined
    kind = _GENERIC.get(short)
    if kind is None:
        return None
    inner: list[ast.expr] = []
    for element in elts:
        if isinstance(element, ast.Constant) and element.value is ...:
            inner.append(element)
            continue
        part = _canonical(element, classes)
        if part is None:
            return None
        inner.append(part)
    if len(inner) != (2 if kind == "dict" else 1) and kind != "tuple":
        return None
    index: ast.expr = inner[0] if len(inner) == 1 else ast.Tuple(inner)
    return ast.Subscript(ast.Name(kind), index)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def _english(node: ast.expr, classes: Set[str]) -> str | None:
    """English for a canonical annotation; None where the words would not say it."""
    if isinstance(node, ast.Constant) and node.value is None:
        return "nothing"
    name = _dotted(node)
    if name is not None:
        return name if name in classes else _WORDS.get(name)
    if isinstance(node, ast.BinOp):
        if isinstance(node.right, ast.Constant) and node.right.value is None:
            left = _english(node.left, classes)
            return None if left is None else f"optional {left}"
        left, right = _english(node.left, classes), _english(node.right, classes)
        return None if left is None or right is None else f"{left} or {right}"
    if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Name):
        return None
    kind = node.value.id
    elts = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    said = [None if _is_ellipsis(e) else _english(e, classes) for e in elts]
    if kind == "tuple" and len(elts) == 2 and _is_ellipsis(elts[1]):
        item = said[0]
        if item == ANY_PHRASE:
            return "tuple"
        return f"{item} tuple" if item is not None and " " not in item else None
    if any(s is None for s in said):
        return None
    words = [s for s in said if s is not None]
    if kind in ("list", "set"):
        return kind if words[0] == ANY_PHRASE else f"{kind} of {words[0]}"
    if kind == "dict":
        if words == ["string", ANY_PHRASE]:
            return "dict"
        return f"dict of {words[0]} to {words[1]}"
    if kind == "tuple":
        if len(words) == 1:
            return f"tuple of {words[0]}"
        return f"tuple of {', '.join(words[:-1])} and {words[-1]}"
    return None


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is ...
