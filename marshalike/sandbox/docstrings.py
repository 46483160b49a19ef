"""The module under test as the sandbox gets it: without its docstrings.

A generated module's docstrings list every example of the spec, call and expected value
(they are doctests, for the reader). Code that looked its answers up there, in `__doc__`,
`inspect.getdoc` or its own file, would pass its examples without computing anything; so
the code under test runs in a copy whose docstrings are gone. Each docstring is replaced by
`None` followed by as many line breaks as it spanned, so every other line keeps its number
(tracebacks and lint messages still point at the lines the model wrote) and a body that held
only a docstring is still a body.
"""

from __future__ import annotations

import ast

_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def without_docstrings(source: str) -> str:
    """`source` with every module, class and function docstring replaced by `None` (same
    line count); `source` itself where it does not parse, or has no docstring."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source  # the sandbox's import reports the error, as it would anyway
    spans = sorted(
        (_start(node), _end(node))
        for owner in ast.walk(tree)
        if isinstance(owner, _OWNERS) and (node := _docstring(owner)) is not None
    )
    if not spans:
        return source
    text = source.encode("utf-8")
    offsets = [0]  # where each line starts, in bytes (the offsets `ast` gives)
    for piece in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(piece))
    out: list[bytes] = []
    at = 0
    for (row, col), (end_row, end_col) in spans:
        start, end = offsets[row - 1] + col, offsets[end_row - 1] + end_col
        out += [text[at:start], b"None", b"\\\n" * text[start:end].count(b"\n")]
        at = end
    out.append(text[at:])
    return b"".join(out).decode("utf-8")


def _docstring(owner: ast.AST) -> ast.Constant | None:
    body = getattr(owner, "body", None)
    if not body or not isinstance(body[0], ast.Expr):
        return None
    value = body[0].value
    return value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None


def _start(node: ast.expr) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _end(node: ast.expr) -> tuple[int, int]:
    assert node.end_lineno is not None and node.end_col_offset is not None
    return node.end_lineno, node.end_col_offset
