"""The spec's declared types as the compiler emits them, and whether a module changes them.

A candidate module must keep each declared type exactly as emitted and bound once: the
verifier takes the spec's records by their names, so a module that redefines or rebinds
one (a class whose `__eq__` always says yes, under the declared name) would have its own
class judged as the spec's.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence

from marshalike.language.naming import parse_or_none


def class_shapes(source: str, records: Sequence[str], module_name: str) -> dict[str, str]:
    """The declared types of the module under test as the compiler emits them: name ->
    the dump of its class definition."""
    tree = parse_or_none(source, "exec")
    own = {r.removeprefix(f"{module_name}.") for r in records if r.startswith(f"{module_name}.")}
    if not isinstance(tree, ast.Module):
        return {}
    return {
        node.name: ast.dump(node)
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name in own
    }


def redefined_types(source: str, declared: Mapping[str, str]) -> str | None:
    """How `source` changes a declared type, if it does: a definition that differs from the
    emitted one, or any other binding of its name (an assignment, a def, an import, a
    `global`); None when every declared type is as emitted and bound once."""
    if not declared:
        return None
    tree = parse_or_none(source, "exec")
    if not isinstance(tree, ast.Module):
        return None  # it cannot be imported either: the run says so
    seen: dict[str, int] = dict.fromkeys(declared, 0)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in declared:
            if ast.dump(node) != declared[node.name]:
                return f"redefines the declared type {node.name}"
            seen[node.name] += 1
    top = set(map(id, tree.body))
    for walked in ast.walk(tree):
        for name in _bound_names(walked):
            if name in declared and not (isinstance(walked, ast.ClassDef) and id(walked) in top):
                return f"rebinds the declared type {name}"
    twice = [name for name, count in seen.items() if count != 1]
    return f"defines the declared type {twice[0]} {seen[twice[0]]} times" if twice else None


def _bound_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        return [node.id]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.alias):
        return [(node.asname or node.name).split(".")[0]]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return list(node.names)
    if isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
        return [node.name]
    return []
