"""Candidate inputs for a function being decompiled: calls worth running, never answers.

They come from four places, in this order: the calls in the function's docstring (with
literal arguments: its doctests, then calls its prose writes, such as `f(3) -> 9`, and
inputs it gives by parameter name, such as `Input: n = 3`), the calls its project's tests
make (`from_tests`), the constants in its own code and those of the module it reads (a
parameter compared with `0`, or with `LIMIT` where the module binds `LIMIT = 0`, gets `-1`,
`0` and `1`; one whose length is compared with `5`, text or a list of 4, 5 and 6 items; a
string it compares with is a string to pass it), and plain values of each parameter's type
(`typed_inputs.values_of`: a typical one, zero, a negative, empty text and collections, one
item). A parameter of a record type gets a record built from typical values of its fields.
The first call passes every parameter its first value (its default, else the value its
first docstring call passes, else its type's typical value); each further call changes one
parameter to one of its other values. What each call returns is measured in the sandbox
(`examples`); nothing here runs the function.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

from marshalike.decompile.reading import Function, Param, Record
from marshalike.gate.typed_inputs import values_of

DEFAULT_LIMIT = 40  # calls per function
_LONGEST_CALL = 2_000  # characters of a call written in a docstring's prose
_NEIGHBOURS = (-1, 0, 1)
_LONGEST = 1_000  # the length of text or a list made to be next to one compared with
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def candidate_calls(
    func: Function,
    records: Mapping[str, Record],
    limit: int = DEFAULT_LIMIT,
    tested: Sequence[str] = (),
) -> tuple[str, ...]:
    """Distinct calls of `func`, at most `limit`: doctest calls first, then `tested` (the
    calls its project's tests make, `from_tests`), then the values of the parameters."""
    calls = [*doctest_calls(func), *tested]
    choices = [_choices(func, i, records) for i in range(len(func.params))]
    if all(choices):
        typical = [values[0] for values in choices]
        calls.append(render_call(func, typical))
        for i, values in enumerate(choices):
            for value in values[1:]:
                calls.append(render_call(func, [*typical[:i], value, *typical[i + 1 :]]))
    return tuple(dict.fromkeys(calls))[:limit]


def doctest_calls(func: Function) -> list[str]:
    """The calls of `func` in its docstring whose arguments are literals (or records built
    of literals), as written: those of its doctests (`f([1, 2], 3)` from `>>> f([1, 2], 3)
    == 4` too), then those its prose writes (`f([1, 2], 3) -> 4`, `f("ab") should return
    2`). Only the calls count: what the text says they return is never taken."""
    found = []
    for source in [*func.doctests, *_prose_calls(func), *_prose_inputs(func)]:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == func.name
                and all(_plain(a) for a in node.args)
                and all(k.arg is not None and _plain(k.value) for k in node.keywords)
            ):
                found.append(ast.unparse(node))
    return list(dict.fromkeys(found))


def _prose_calls(func: Function) -> list[str]:
    """Each `NAME(...)` the docstring writes outside its doctests, as source: from each
    `NAME(`, the shortest text to a `)` that parses as a call."""
    found = []
    for start in (m.start() for m in re.finditer(rf"\b{re.escape(func.name)}\(", func.docstring)):
        text = func.docstring[start : start + _LONGEST_CALL]
        for end in (i + 1 for i, char in enumerate(text) if char == ")"):
            try:
                node = ast.parse(text[:end], mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            if isinstance(node, ast.Call):
                found.append(text[:end])
            break
    return found


def _prose_inputs(func: Function) -> list[str]:
    """The inputs a docstring's examples give by parameter name, a line each (`Input: arr =
    [1, 2], k = 3`, `For lst = [1, 2] the output should be 3`), or, for a function of one
    parameter, after `Input:` (`Input: [4, 2, 3]`), as calls of `func`."""
    names = [p.name for p in func.params]
    if not names:
        return []
    said = re.compile(rf"\b({'|'.join(map(re.escape, names))})\s*=(?!=)\s*")
    found = []
    for line in func.docstring.splitlines():
        marks = list(said.finditer(line))
        if not marks and len(names) == 1 and (start := line.find("Input:")) >= 0:
            bound = {names[0]: _literal_prefix(line[start + len("Input:") :])}
        elif not marks:
            continue
        else:
            ends = [m.start() for m in marks[1:]] + [len(line)]
            bound = {
                m.group(1): _literal_prefix(line[m.end() : end])
                for m, end in zip(marks, ends, strict=True)
            }
        values = [bound.get(p.name) or p.default for p in func.params]
        if bound and all(v is not None for v in values):
            found.append(render_call(func, [v for v in values if v is not None]))
    return found


def _literal_prefix(text: str) -> str | None:
    """The longest start of `text` that is a Python literal, as source; None if none is."""
    text = text.strip()
    for end in range(min(len(text), _LONGEST_CALL), 0, -1):
        candidate = text[:end].rstrip(" ,;:.")
        try:
            ast.literal_eval(candidate)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        return candidate
    return None


def render_call(func: Function, values: Sequence[str]) -> str:
    """The call passing `values` (Python sources), one per parameter: by position, by name
    for keyword-only ones; trailing values equal to their defaults left out."""
    keep = len(values)
    while keep and _is_default(func.params[keep - 1], values[keep - 1]):
        keep -= 1
    positional, named = [], []
    for param, value in zip(func.params[:keep], values[:keep], strict=True):
        if param.keyword_only:
            named.append(f"{param.name}={value}")
        else:
            positional.append(value)
    return f"{func.name}({', '.join(positional + named)})"


def _is_default(param: Param, value: str) -> bool:
    return param.default is not None and _same_source(param.default, value)


def _same_source(a: str, b: str) -> bool:
    try:
        return ast.dump(ast.parse(a, mode="eval")) == ast.dump(ast.parse(b, mode="eval"))
    except SyntaxError:
        return a == b


def _choices(func: Function, index: int, records: Mapping[str, Record]) -> list[str]:
    """The values (as Python sources) to pass parameter `index`, its first value first."""
    param = func.params[index]
    found: list[str] = []
    if param.default is not None and _plain_source(param.default):
        found.append(param.default)
    found += _doctest_arguments(func, index)
    kind = param.annotation or _kind_of(found)
    found += _from_code(func, param, kind)
    found += _of_lengths(func, param, kind)
    found += _typed(kind, records)
    if kind is not None and kind in records:
        found += _record_variants(func, param, records[kind])
    return list(dict.fromkeys(found))


def _doctest_arguments(func: Function, index: int) -> list[str]:
    param = func.params[index]
    found = []
    for call in doctest_calls(func):
        node = ast.parse(call, mode="eval").body
        assert isinstance(node, ast.Call)
        if not param.keyword_only and index < len(node.args):
            found.append(ast.unparse(node.args[index]))
        found += [ast.unparse(k.value) for k in node.keywords if k.arg == param.name]
    return found


def _kind_of(sources: Sequence[str]) -> str | None:
    """The annotation shared by literal values, for a parameter with none."""
    kinds = set()
    for source in sources:
        try:
            value = ast.literal_eval(source)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        kinds.add(type(value).__name__)
    if len(kinds) == 1 and kinds <= {"int", "float", "str", "bool", "bytes"}:
        return kinds.pop()
    return None


def _from_code(func: Function, param: Param, kind: str | None) -> list[str]:
    """Values next to the constants the function compares this parameter with, then the
    other constants of its type in the function's code."""
    if kind not in ("int", "float", "str"):
        return []
    try:
        tree = func.tree_with_constants()  # `age >= ADULT_AGE` compares with 18
    except SyntaxError:
        return []
    compared: list[Any] = []
    others: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            if any(_names(p, param.name) for p in parts):
                compared += [c for p in parts if (c := _constant(p)) is not None]
        elif (value := _constant(node)) is not None:
            others.append(value)
        elif kind == "str" and _converts(node, param.name):
            compared += ["0", "7", "-1", "2.5"]
    found: list[Any] = []
    for value in compared:
        if kind in ("int", "float") and _number(value):
            found += [value + step for step in _NEIGHBOURS]
        elif kind == "str" and isinstance(value, str):
            found.append(value)
    for value in others:
        if (kind == "str" and isinstance(value, str) and len(value) < 40) or (
            kind in ("int", "float") and _number(value)
        ):
            found.append(value)
    if kind == "float":
        found = [float(v) for v in found]
    return [repr(v) for v in found][:12]


def _of_lengths(func: Function, param: Param, kind: str | None) -> list[str]:
    """Text or lists of the lengths next to those the function compares the parameter's
    length with (`len(word) > 5` gives words of 4, 5 and 6 letters)."""
    if kind == "str":
        filler: Any = _LETTERS
    elif kind is not None and kind.startswith("list[") and (items := values_of(kind[5:-1])):
        filler = [items[0]]
    else:
        return []
    sizes: dict[int, None] = {}
    for node in ast.walk(func.tree_with_constants()):
        parts = [node.left, *node.comparators] if isinstance(node, ast.Compare) else []
        if any(_length_of(part, param.name) for part in parts):
            for value in (c for part in parts if isinstance(c := _constant(part), int)):
                sizes |= {value + step: None for step in _NEIGHBOURS}
    fitting = [size for size in sizes if 0 <= size <= _LONGEST][:9]
    return [repr((filler * (size // len(filler) + 1))[:size]) for size in fitting]


def _length_of(node: ast.AST, name: str) -> bool:
    """Whether `node` is `len(name)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "len"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == name
    )


def _typed(kind: str | None, records: Mapping[str, Record]) -> list[str]:
    if kind is None:
        return []
    if kind in records:
        return [r for r in (_record(records[kind], 0), _record(records[kind], 1)) if r]
    if kind.startswith("list[") and kind[5:-1] in records:
        made = [r for r in (_record(records[kind[5:-1]], i) for i in range(3)) if r]
        return [f"[{', '.join(made)}]", "[]", f"[{made[0]}]"] if made else []
    optional = kind.endswith(" | None")
    # An item of no stated type (`list[Any]`) gets integers: some value beats none.
    values = values_of(kind.removesuffix(" | None").replace("Any", "int"))
    sources = [repr(v) for v in values] + (["None"] if optional else [])
    if kind == "float":
        sources += ["1.0", "0.5"]
    return sources


def _record(record: Record, which: int = 0) -> str | None:
    """A record built from plain values of its fields (the typical ones for `which` 0,
    the next ones after); None if a field has none."""
    fields = _record_fields(record, which)
    return None if fields is None else f"{record.name}({', '.join(fields)})"


def _record_fields(record: Record, which: int) -> list[str] | None:
    values = []
    for _, annotation in record.fields:
        found = values_of(annotation) if annotation is not None else []
        if not found:
            return None
        values.append(repr(found[min(which, len(found) - 1)]))
    return values


def _record_variants(func: Function, param: Param, record: Record) -> list[str]:
    """Records with one numeric field next to a constant the function compares that field
    with (`p.age >= 18` gives ages 17, 18 and 19)."""
    base = _record_fields(record, 0)
    if base is None:
        return []
    names = [name for name, _ in record.fields]
    found = []
    for node in ast.walk(func.tree_with_constants()):
        if not isinstance(node, ast.Compare):
            continue
        parts = [node.left, *node.comparators]
        constants = [c for p in parts if _number(c := _constant(p))]
        for part in parts:
            if (
                isinstance(part, ast.Attribute)
                and isinstance(part.value, ast.Name)
                and part.value.id == param.name
                and part.attr in names
            ):
                at = names.index(part.attr)
                for value in constants:
                    for step in _NEIGHBOURS:
                        fields = [*base[:at], repr(value + step), *base[at + 1 :]]
                        found.append(f"{record.name}({', '.join(fields)})")
    return found[:9]


def _constant(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        return node.value if not isinstance(node.value, bool) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant(node.operand)
        return -inner if _number(inner) else None
    return None


def _converts(node: ast.AST, name: str) -> bool:
    """Whether `node` reads the parameter as a number: `int(text)`, `float(text)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("int", "float")
        and any(isinstance(a, ast.Name) and a.id == name for a in node.args)
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _names(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _plain(node: ast.expr) -> bool:
    """A literal, or a record (a capitalised call) built of literals."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id[:1].isupper() and all(_plain(a) for a in node.args)
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _plain_source(source: str) -> bool:
    try:
        return _plain(ast.parse(source, mode="eval").body)
    except SyntaxError:
        return False
