"""What may stand at the top level of a candidate's code: imports, definitions, docstrings
and assignments of constant values. Demo code models like to append (`if __name__ ==
"__main__":` blocks, top-level `print(...)` calls and asserts) is dropped, since it can
define nothing the function needs; a statement that binds a name the module already
provides (the spec's types, the functions it calls) to something else, or anything else
that would run on import, rejects the candidate (`extract.validate`)."""

from __future__ import annotations

import ast
from collections.abc import Collection

from marshalike.language.naming import dotted
from marshalike.synth.import_time import constant, plain_target


def verdict(node: ast.stmt, known: set[str], local_modules: Collection[str]) -> str | None:
    """None to keep the statement, "dropped ..." to remove it, else why it is rejected."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        if node.name in known:
            return f"dropped a redefinition of '{node.name}', which the module already provides"
        return None
    if rebound := sorted(_bound(node, local_modules) & known):
        return (
            f"binds '{rebound[0]}', which the module already provides, to something else; "
            "call it as it is"
        )
    if _is_main_block(node):
        return 'dropped the `if __name__ == "__main__":` block'
    if isinstance(node, ast.Assert):
        return "dropped a top-level assert"
    if _is_print(node):
        return "dropped a top-level call to print()"
    if _allowed(node):
        return None
    return (
        f"top-level {_describe(node)} would run on import — keep only imports, definitions "
        f"and constant assignments at the top level"
    )


def _bound(node: ast.stmt, local_modules: Collection[str]) -> set[str]:
    """The names a top-level statement binds, but for a generated module's own name
    imported from it (`from other import f`, as the module itself imports it)."""
    if isinstance(node, ast.Import):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        own = not node.level and (node.module or "") in local_modules
        return {alias.asname or alias.name for alias in node.names if not own or alias.asname}
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, ast.Try):
        named = {handler.name for handler in node.handlers if handler.name}
        return named.union(*(_bound(stmt, local_modules) for stmt in _try_parts(node)))
    return set()


def _try_parts(node: ast.Try) -> list[ast.stmt]:
    """The statements of a `try` statement, its handlers' included."""
    parts = [*node.body, *node.orelse, *node.finalbody]
    return parts + [stmt for handler in node.handlers for stmt in handler.body]


def _allowed(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom | ast.Pass):
        return True
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant)
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not all(plain_target(target) for target in targets):
            return False
        return node.value is None or constant(node.value)
    if isinstance(node, ast.Try):
        # `try: import x except ImportError: x = None` only defines things.
        return all(_allowed(stmt) for stmt in _try_parts(node))
    return False


def _is_main_block(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    sides = [node.test.left, *node.test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


def _is_print(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and dotted(node.value.func) == "print"
    )


def _describe(node: ast.stmt) -> str:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return f"call to {ast.unparse(node.value.func)}()"
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return f"assignment of a computed value to {', '.join(ast.unparse(t) for t in targets)}"
    names = {
        ast.For: "for loop", ast.AsyncFor: "for loop", ast.While: "while loop",
        ast.If: "if statement", ast.With: "with statement", ast.AsyncWith: "with statement",
        ast.Try: "try statement", ast.Expr: "expression", ast.Return: "return statement",
    }  # fmt: skip
    return names.get(type(node), f"{type(node).__name__.lower()} statement")
