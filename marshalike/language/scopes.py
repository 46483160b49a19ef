"""The names a Python expression reads without binding them itself, scoped as Python 3
scopes them: a lambda's parameters are bound in its body only; a comprehension's variables
in the comprehension only, from the clause that binds them on (its first iterable is read
outside it); a name `:=` binds, in the whole of the lambda or expression around it,
comprehensions included (PEP 572). And the names an expression holds as its value."""

from __future__ import annotations

import ast

_Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
_Scoped = list[tuple[ast.AST, frozenset[str]]]  # nodes, each with the names bound where it is


def free_names(tree: ast.AST) -> list[ast.Name]:
    """The names `tree` reads where nothing in it binds them, in no set order. Walked with
    a stack, not recursion: an example may nest as deep as Python's parser lets it."""
    found = []
    stack: _Scoped = [(tree, _walrus_targets(tree))]
    while stack:
        node, bound = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in bound:
                found.append(node)
        elif isinstance(node, ast.Lambda):
            stack += [(default, bound) for default in _defaults(node.args)]
            inner = {arg.arg for arg in _parameters(node.args)} | _walrus_targets(node.body)
            stack.append((node.body, bound | inner))
        elif isinstance(node, _Comprehension):
            stack += _comprehension_parts(node, bound)
        else:
            stack += [(child, bound) for child in ast.iter_child_nodes(node)]
    return found


def _parameters(node: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (node.vararg, node.kwarg) if a is not None]
    return [*node.posonlyargs, *node.args, *node.kwonlyargs, *extra]


def _defaults(node: ast.arguments) -> list[ast.expr]:
    """A lambda's defaults, which are read in the scope around it."""
    return [*node.defaults, *(d for d in node.kw_defaults if d is not None)]


def _comprehension_parts(node: _Comprehension, bound: frozenset[str]) -> _Scoped:
    """A comprehension's parts, each with what is bound where it is read."""
    parts: _Scoped = []
    inner = bound
    for clause in node.generators:
        parts.append((clause.iter, inner))
        inner = inner | _stored(clause.target)
        parts += [(clause.target, inner), *((test, inner) for test in clause.ifs)]
    elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    return [*parts, *((element, inner) for element in elements)]


def _walrus_targets(node: ast.AST) -> frozenset[str]:
    """The names `:=` binds in the scope of `node`: in it and its comprehensions, not in the
    lambdas in it (but in their defaults)."""
    names: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.NamedExpr):
            names |= _stored(item.target)
        if isinstance(item, ast.Lambda):
            stack += _defaults(item.args)
        else:
            stack += ast.iter_child_nodes(item)
    return frozenset(names)


def _stored(target: ast.AST) -> frozenset[str]:
    """The names an assignment to `target` binds (`x`, `k, v`, `(a, [b, *c])`)."""
    return frozenset(
        n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    )


def held_names(tree: ast.AST | None) -> list[str]:
    """The names that are the value of the expression `tree` or items of it (`len` of
    `[len, 1]`, not of `sorted(x, key=len)`), in breadth-first order."""
    nodes = [tree.body] if isinstance(tree, ast.Expression) else []
    for node in nodes:  # grows as it goes: a container's items are read after it
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            nodes += node.elts
        elif isinstance(node, ast.Dict):
            nodes += [*(k for k in node.keys if k is not None), *node.values]
    return [node.id for node in nodes if isinstance(node, ast.Name)]
