"""The pytest file's parts: one test per checkable example, informal ones as comments.

Value examples are written in one fixed shape, because the verifier reads the locals of
a failing test (`actual`, `expected`) to report what went wrong:

    def test_add_1():
        actual = add(1, 2)
        expected = 3
        assert actual == expected

When the expected value is a float, or a flat list, tuple, set or dict of numbers with a
float among them, the assertion is `actual == pytest.approx(expected)`: float arithmetic
rarely reproduces a literal exactly, and `approx` does not accept nested structures.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import sys
from dataclasses import dataclass, field

from marshalike.imports import Imported, ImportSet
from marshalike.naming import identifier, parse_or_none
from marshalike.spec import Example, Func, Module

_BUILTIN_EXCEPTIONS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)


# Importing these does something (opens a browser, prints a poem): never for a bare name.
_NEVER_IMPORT = frozenset({"antigravity", "this"})


@dataclass
class _Needs:
    """What the tests written so far refer to, so the file imports exactly that."""

    names: set[str] = field(default_factory=set)
    pytest: bool = False


def file_parts(
    module: Module, *, module_name: str, spec_name: str, only: str | None
) -> tuple[list[str], list[str]]:
    """The import groups and the test blocks of the pytest file."""
    needs = _Needs()
    blocks: list[str] = []
    for func in module.funcs:
        if only is None or func.name == only:
            for number, example in enumerate(func.examples, start=1):
                blocks.append(_block(func, number, example, spec_name, needs))
    return _import_groups(module, module_name, needs), blocks


def _block(func: Func, number: int, example: Example, spec_name: str, needs: _Needs) -> str:
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
    return head + _returns(lines[0], lines[1], trees[1], needs)


def _parsed(source: str) -> tuple[str, ast.Expression] | None:
    """One line of Python for the example text, and its tree; None if it is not Python.

    The text is kept as written unless it spans lines (a `#` comment, a line break), when
    it is unparsed, and checked again: `ｃlass` parses as the keyword's NFKC form.
    """
    text = source.strip()
    tree = _expression(text)
    if tree is None or ("\n" not in text and "\r" not in text):
        return (text, tree) if tree else None
    line = ast.unparse(tree)
    return (line, tree) if _expression(line) is not None else None


def _returns(call: str, expected: str, tree: ast.Expression, needs: _Needs) -> str:
    approx = _wants_approx(tree)
    needs.pytest = needs.pytest or approx
    check = "pytest.approx(expected)" if approx else "expected"
    return f"    actual = {call}\n    expected = {expected}\n    assert actual == {check}"


def _raises(example: Example, call: str, needs: _Needs) -> str:
    needs.pytest = True
    named = one_line(example.exception or "Exception")
    exception, note = _exception(named, needs)
    return f"    with pytest.raises({exception}):{note}\n        {call}"


def _exception(named: str, needs: _Needs) -> tuple[str, str]:
    """A raisable name for pytest.raises; names the test cannot import become Exception."""
    if named in _BUILTIN_EXCEPTIONS:
        return named, ""
    root = named.split(".")[0]
    if "." in named and root in sys.stdlib_module_names and _expression(named) is not None:
        needs.names.add(root)
        return named, ""
    return "Exception", f"  # the spec names {named}"


def one_line(text: str) -> str:
    """Text safe inside a `#` comment: one line, no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _expression(source: str) -> ast.Expression | None:
    """The expression, if it can stand on the right of `actual = ` in a plain test."""
    tree = parse_or_none(source.strip())
    if not isinstance(tree, ast.Expression):
        return None
    # `yield` would turn the test into a generator, `await` does not compile in it.
    if any(isinstance(n, ast.Yield | ast.YieldFrom | ast.Await) for n in ast.walk(tree)):
        return None
    return tree


def _wants_approx(tree: ast.AST) -> bool:
    body = tree.body if isinstance(tree, ast.Expression) else tree
    if isinstance(body, ast.List | ast.Tuple | ast.Set):
        items = body.elts
    elif isinstance(body, ast.Dict):
        items = body.values
    else:
        items = [body]
    numbers = [_number(item) for item in items]
    return bool(numbers) and all(n is not None for n in numbers) and float in numbers


def _number(node: ast.expr) -> type | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return type(node.value)
    return None


def _import_groups(module: Module, module_name: str, needs: _Needs) -> list[str]:
    declared = {identifier(t.name) for t in module.types} | {
        identifier(f.name) for f in module.funcs
    }
    ours = sorted(needs.names & declared)
    by_path = bool(ours) and not _importable_name(module_name)
    stdlib = {
        n
        for n in needs.names - declared
        if n in sys.stdlib_module_names and not hasattr(builtins, n) and n not in _NEVER_IMPORT
    } | ({"importlib"} if by_path else set())
    groups = ["\n".join(f"import {n}" for n in sorted(stdlib))] if stdlib else []
    if needs.pytest:
        groups.append("import pytest")
    if by_path:
        # `from query-builder import f` is a syntax error; the import system takes any name.
        load = f"_generated = importlib.import_module({module_name!r})"
        groups.append("\n".join([load, *(f"{n} = _generated.{n}" for n in ours)]))
    elif ours:
        imports = ImportSet()
        imports.add(*(Imported(module_name, n) for n in ours))
        groups.extend(imports.groups())
    return groups


def _importable_name(module_name: str) -> bool:
    parts = module_name.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)
