"""The pytest file's parts: one test per checkable example, informal ones as comments.

Value examples are written in one fixed shape, so that a reader sees the call and the
value it should return:

    def test_add_1():
        actual = add(1, 2)
        expected = 3
        assert _same(actual, expected), (
            f"{actual!r} ({type(actual).__name__}) is not {expected!r}"
        )

`_same`, defined once in each file that has a value test, compares the way the verifier
does, so that running plain `pytest` on the file is not fooled by a value that only claims
to be equal (an object whose `__eq__` always returns True, an `int` subclass, a lying
`repr`): by exact type and value, recursively. `True` is not `1`; lists, tuples, dicts,
sets, frozensets and the spec's records (field by field) are compared item by item, dicts
and sets in any order; floats match within a relative tolerance of 1e-6 or an absolute one
of 1e-12, and NaN matches nothing; an int may stand for an expected float, and a float for
an expected int only where the function is declared to return a float (`float_ok=True`);
a datetime or time is compared with its zone and fold. Set members and dict keys match as
hashing has them, by exact type (`Decimal('1.00')` is `Decimal('1.0')`, `-0.0` is `0.0`),
but one that holds a NaN matches nothing, and a datetime or time keeps its zone and fold
there too; a set or dict that does not find a member where it holds it (a `Fraction` key
whose slots were rewritten once it was in) matches nothing. Any other value of a type
the verifier reads (str, bytes, complex, Decimal, Fraction, UUID, date, timedelta, ...)
is compared with `==`, and only when its type is exactly the expected one; a value of a
type it cannot read (an enum, a `range`, a path) matches nothing, as in the verifier.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from marshalike.codegen.imports import Imported, ImportSet
from marshalike.codegen.lint import suppressed
from marshalike.language.calls import KNOWN_CLASSES
from marshalike.language.exceptions import BUILTIN_EXCEPTIONS, RUN_ON_IMPORT, is_standard
from marshalike.language.naming import identifier, parse_or_none
from marshalike.language.spec import Example, Func, Module
from marshalike.language.typemap import annotation

_MESSAGE = 'f"{actual!r} ({type(actual).__name__}) is not {expected!r}"'
SAME_HELPER = '''\
def _same(actual, expected, float_ok=False):
    """Whether actual is expected: the same type and value, recursively (True is not 1,
    an int subclass is not an int). Floats match within rel 1e-6 or abs 1e-12, NaN matches
    nothing; an int may stand for a float, a float for an int only with float_ok."""
    import collections
    import dataclasses
    import datetime
    import decimal
    import fractions
    import math
    import uuid

    kinds = {type(actual), type(expected)}
    if kinds == {int, float} and (type(expected) is float or float_ok):
        return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-12)
    if type(actual) is not type(expected):
        return False
    if type(expected) is float:
        return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-12)
    if type(expected) in (list, tuple):
        pairs = zip(actual, expected)
        return len(actual) == len(expected) and all(
            _same(a, b, float_ok) for a, b in pairs
        )
    if type(expected) in (set, frozenset):
        return _whole(actual) and {_same_key(item) for item in actual} == {
            _same_key(item) for item in expected
        }
    with_attributes = type(expected) in (collections.OrderedDict, collections.Counter)
    if with_attributes and vars(actual):
        return False  # methods of its own (`found.items = ...`), which its callers call
    if type(expected) is collections.OrderedDict:
        have, want = list(actual.items()), list(expected.items())
        return (
            len(have) == len(want)
            and _whole(actual)
            and all(
                _same_key(a) == _same_key(b) and _same(x, y, float_ok)
                for (a, x), (b, y) in zip(have, want)
            )
        )
    if type(expected) in (dict, collections.Counter, collections.defaultdict):
        # A defaultdict's factory counts: what a missing key reads as.
        factory = getattr(expected, "default_factory", None)
        if getattr(actual, "default_factory", None) is not factory:
            return False
        have = {_same_key(key): value for key, value in actual.items()}
        want = {_same_key(key): value for key, value in expected.items()}
        return (
            _whole(actual)
            and have.keys() == want.keys()
            and all(_same(have[k], want[k], float_ok) for k in want)
        )
    if type(expected) in (datetime.datetime, datetime.time):
        # With its zone and fold: 13:00 in Paris is not 12:00 UTC, though == says so.
        return (
            actual == expected
            and repr(actual) == repr(expected)
            and actual.utcoffset() == expected.utcoffset()
        )
    if dataclasses.is_dataclass(type(expected)):
        # Keys of a str subclass would run their `__eq__` as a field is read.
        if any(type(key) is not str for key in vars(actual)):
            return False
        names = [field.name for field in dataclasses.fields(expected)]
        return all(
            _same(getattr(actual, n), getattr(expected, n), float_ok) for n in names
        )
    # Any other type is a value only when it is one of these; the rest match nothing.
    values = (type(None), bool, int, complex, str, bytes, bytearray, decimal.Decimal)
    values += (fractions.Fraction, uuid.UUID, datetime.date, datetime.timedelta)
    return type(expected) in values and actual == expected


def _same_key(value):
    """A set member or dict key as a hashable value that tells True from 1 and a datetime
    or time from the same instant elsewhere; one that holds a NaN matches nothing. Its
    type by identity: a metaclass may make a class equal to `int`."""
    import builtins
    import cmath
    import datetime
    import decimal

    identity = builtins.id  # not a name of the spec's, which the file may import

    kind = type(value)
    if kind is frozenset and not _whole(value):
        return object()  # equal to nothing, itself included
    if kind is tuple or kind is frozenset:
        return identity(kind), kind(_same_key(item) for item in value)
    nan = (kind is float or kind is complex) and cmath.isnan(value)
    if nan or (kind is decimal.Decimal and value.is_nan()):
        return object()  # equal to nothing, itself included
    if kind is datetime.datetime or kind is datetime.time:
        return identity(kind), repr(value), value.utcoffset(), value
    return identity(kind), value


def _whole(members):
    """Whether a set or dict finds each of its members where it holds it: one whose hash
    changed after it went in (a Fraction's slots rewritten) is missed by `in` and `==`,
    or is a second copy of another."""
    listed = list(members)
    return len(set(listed)) == len(listed) and all(item in members for item in listed)'''


@dataclass
class _Needs:
    """What the tests written so far refer to, so the file imports exactly that."""

    names: set[str] = field(default_factory=set)
    pytest: bool = False
    same: bool = False  # a value test uses `_same`


def file_parts(
    module: Module,
    *,
    module_name: str,
    spec_name: str,
    only: str | None,
    lint: Mapping[str, Sequence[str]] | None = None,
    uses: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[str], list[str]]:
    """The import groups and the test blocks of the pytest file; `lint` maps a test to the
    ruff rules its lines break, suppressed around it; `uses`, the module of each `# use`d
    spec to the functions the generated module imports from it, which the tests import
    from there too where an example names one (`quadruple(3) = double(6)`)."""
    needs = _Needs()
    blocks = [
        suppressed(block, (lint or {}).get(name, ()), gap="\n\n")
        for name, block in _blocks(module, spec_name, only, needs)
    ]
    helpers = [SAME_HELPER] if needs.same else []
    return _import_groups(module, module_name, needs, uses or {}), helpers + blocks


def named_tests(module: Module, *, spec_name: str) -> dict[str, str]:
    """Each example's block by the name its test has (an informal example's comment
    included, under the name a test of it would have)."""
    return dict(_blocks(module, spec_name, None, _Needs()))


def _blocks(
    module: Module, spec_name: str, only: str | None, needs: _Needs
) -> list[tuple[str, str]]:
    found = []
    types = {t.name for t in module.types}
    for func in module.funcs:
        if only is None or func.name == only:
            float_ok = bool(func.returns) and "float" in annotation(func.returns or "", types)
            for number, example in enumerate(func.examples, start=1):
                name = f"test_{identifier(func.name)}_{number}"
                found.append((name, _block(func, number, example, spec_name, needs, float_ok)))
    return found


def _block(
    func: Func, number: int, example: Example, spec_name: str, needs: _Needs, float_ok: bool
) -> str:
    where = f"# {spec_name}:{example.span.line}:"
    text = one_line(example.text)
    if not example.checkable:
        return f"{where} informal example, not a test: {text}"
    head = f"{where} {text}\ndef test_{identifier(func.name)}_{number}():\n"
    sources = [example.call or ""]
    if example.outcome == "returns":
        sources.append(example.expected or "")
    parsed = [_parsed(s) for s in sources]
    if any(p is None for p in parsed):
        needs.pytest = True
        return head + f"    pytest.fail({f'example is not valid Python: {text}'!r})"
    lines = [p[0] for p in parsed if p]
    trees = [p[1] for p in parsed if p]
    for tree in trees:
        needs.names.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    if example.outcome == "raises":
        return head + _raises(example, lines[0], needs)
    needs.same = True
    body = _returns(lines[0], lines[1], float_ok)
    if not all(_formatted(line, tree) for line, tree in zip(lines, trees, strict=True)):
        # The example's text as the spec writes it, which `ruff format` would respell.
        head_lines, rest = body.split("\n", 2)[:2], body.split("\n", 2)[2]
        body = "\n".join(["    # fmt: off", *head_lines, "    # fmt: on", rest])
    return head + body


def _formatted(line: str, tree: ast.Expression) -> bool:
    """Whether `line`, after `actual = ` or `expected = `, is as `ruff format` writes it:
    double quotes, its own spacing, within 88 columns. (Unparsing gives the spacing; it
    writes strings with single quotes, so quotes are compared apart.)"""
    if "'" in line or len(line) > 88 - len("    expected = "):
        return False
    return line.replace('"', "'") == ast.unparse(tree).replace('"', "'")


def _parsed(source: str) -> tuple[str, ast.Expression] | None:
    """One line of Python for the example text, and its tree; None if it is not Python.

    The text is kept as written unless it spans lines (a `#` comment, a line break), when
    it is unparsed, and checked again: `ｃlass` parses as the keyword's NFKC form.
    """
    text = source.strip()
    tree = plain_expression(text)
    if tree is None or ("\n" not in text and "\r" not in text):
        return (text, tree) if tree else None
    line = ast.unparse(tree)
    return (line, tree) if plain_expression(line) is not None else None


def _returns(call: str, expected: str, float_ok: bool) -> str:
    same = "_same(actual, expected, float_ok=True)" if float_ok else "_same(actual, expected)"
    # The message in parentheses on a line of its own, as `ruff format` lays it out.
    assert_line = f"    assert {same}, (\n        {_MESSAGE}\n    )"
    return f"    actual = {call}\n    expected = {expected}\n{assert_line}"


def _raises(example: Example, call: str, needs: _Needs) -> str:
    needs.pytest = True
    named = one_line(example.exception or "Exception")
    exception, note = _exception(named, needs)
    if exception == "Exception" and not note:
        note = "  # noqa: B017 (the spec names no exception)"
    caught, named_check = "", ""
    if exception == "Exception" and named != "Exception":
        # A name the test cannot import (the spec's own, `AgeError`): the error's class,
        # or a base, must be called so, as the verifier has it (`channel.named_error`).
        caught, note = " as _raised", f"  # the spec names {one_line(named)}"
        last = named.rpartition(".")[2]  # the parser reads a name; `repr` for any other text
        literal = f'"{last}"' if last.isidentifier() else repr(last)
        named_check = (
            f"\n    assert {literal} in [\n        kind.__qualname__"
            '.rpartition(".")[2] for kind in type(_raised.value).__mro__\n    ]'
        )
    tree = plain_expression(call)
    first = _arguments_first(call, tree)
    shown: list[str] = []
    if first is not None:
        # An error its arguments raise (`half(6)` of `half(half(6))`) is not the call's.
        assignments, call = first
        shown = [f"    {name} = {text}" for name, text in assignments]
        trees = [(text, plain_expression(text)) for _, text in assignments]
        if not all(t is not None and _formatted(text, t) for text, t in trees):
            shown = ["    # fmt: off", *shown, "    # fmt: on"]
    elif tree is not None and not _formatted(call, tree):
        call = f"# fmt: off\n        {call}\n        # fmt: on"
    waits = f"    with pytest.raises({exception}){caught}:{note}\n        {call}{named_check}"
    return "\n".join([*shown, waits])


def _arguments_first(
    call: str, tree: ast.Expression | None
) -> tuple[list[tuple[str, str]], str] | None:
    """Where an argument of the call is computed by a call, each argument as an
    assignment (`_argument1 = half(6)`, in the order Python computes them: positional and
    `*` ones, then keywords and `**` ones) and the call of their names, unpacked where the
    call unpacks them (`f(*_argument1)`: what unpacking raises is the call's, as it is the
    verifier's); None where none is."""
    if tree is None or not isinstance(tree.body, ast.Call):
        return None
    node = tree.body
    values = [a.value if isinstance(a, ast.Starred) else a for a in node.args]
    values += [k.value for k in node.keywords]
    if not any(isinstance(n, ast.Call) for v in values for n in ast.walk(v)):
        return None
    names = [f"_argument{n}" for n in range(1, len(values) + 1)]
    texts = [ast.get_source_segment(call, v) or ast.unparse(v) for v in values]
    given = [
        f"*{name}" if isinstance(a, ast.Starred) else name
        for a, name in zip(node.args, names[: len(node.args)], strict=True)
    ]
    given += [
        f"**{name}" if k.arg is None else f"{k.arg}={name}"
        for k, name in zip(node.keywords, names[len(node.args) :], strict=True)
    ]
    function = ast.get_source_segment(call, node.func) or ast.unparse(node.func)
    return list(zip(names, texts, strict=True)), f"{function}({', '.join(given)})"


def _exception(named: str, needs: _Needs) -> tuple[str, str]:
    """A raisable name for pytest.raises; names the test cannot import become Exception."""
    if named in BUILTIN_EXCEPTIONS:
        return named, ""
    if is_standard(named) and plain_expression(named) is not None:
        needs.names.add(named.rpartition(".")[0])  # `import xml.parsers.expat`, not `xml`
        return named, ""
    return "Exception", f"  # noqa: B017 (the spec names {named})"


def one_line(text: str) -> str:
    """Text safe inside a `#` comment: one line, no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def plain_expression(source: str) -> ast.Expression | None:
    """The expression, if it can stand on the right of `actual = ` in a plain test."""
    tree = parse_or_none(source.strip())
    if not isinstance(tree, ast.Expression):
        return None
    # `yield` would turn the test into a generator, `await` does not compile in it.
    if any(isinstance(n, ast.Yield | ast.YieldFrom | ast.Await) for n in ast.walk(tree)):
        return None
    return tree


def _import_groups(
    module: Module, module_name: str, needs: _Needs, uses: Mapping[str, Sequence[str]]
) -> list[str]:
    declared = {identifier(t.name) for t in module.types} | {
        identifier(f.name) for f in module.funcs
    }
    # A used spec's function an example names, from its module, as the generated module
    # has it (a name this spec declares too is this spec's).
    used = {
        name: used_module
        for used_module, names in sorted(uses.items())
        for name in names
        if name in needs.names and name not in declared
    }
    imported = {name: module_name for name in needs.names & declared} | used
    by_path = {name: where for name, where in imported.items() if not _importable_name(where)}
    stdlib = {
        n
        for n in needs.names - declared - set(used)
        if n.split(".")[0] in sys.stdlib_module_names
        and not hasattr(builtins, n)
        and n.split(".")[0] not in RUN_ON_IMPORT
    } | ({"importlib"} if by_path else set())
    # A standard value type an example builds by its own name (`Decimal('1.50')`).
    known = {n: KNOWN_CLASSES[n] for n in needs.names - declared - set(used) if n in KNOWN_CLASSES}
    standard = ImportSet({Imported(n) for n in stdlib} | {Imported(m, n) for n, m in known.items()})
    groups = standard.groups()
    if needs.pytest:
        groups.append("import pytest")
    imports = ImportSet()
    imports.add(*(Imported(where, n) for n, where in imported.items() if n not in by_path))
    groups.extend(imports.groups())
    if by_path:
        # `from query-builder import f` is a syntax error; the import system takes any name.
        modules = sorted(set(by_path.values()))
        loads = [
            f"_generated{i or ''} = importlib.import_module({m!r})" for i, m in enumerate(modules)
        ]
        bound = [
            f"{n} = _generated{modules.index(where) or ''}.{n}"
            for n, where in sorted(by_path.items())
        ]
        groups.append("\n".join([*loads, *bound]))
    return groups


def _importable_name(module_name: str) -> bool:
    parts = module_name.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)
