"""What a definition runs when its module is imported, and which of it a candidate may have.

`extract` keeps only definitions and constant assignments at a candidate's top level, but a
definition runs code too: its decorators, default values and annotations, a class's bases,
header keywords and body. A candidate that hides a call there (`def f(a, b, _x=_go())`)
runs it on import, before any test. So in a definition at import time:
- default values, annotations, bases and header keywords are constants: literals, names,
  attribute access, containers and operators, calls only to the constructors of
  `SAFE_CALLS`;
- a decorator is one of `DECORATORS` (called with constants, where it takes arguments),
  not a name the candidate defines itself;
- a class body holds definitions, docstrings and constant assignments, and defines no
  `__init_subclass__` or `__class_getitem__` (which run when another class or annotation
  uses it); `metaclass=` names only `ABCMeta`.
Function bodies run when called, not on import, and are not looked at here.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator

from marshalike.language.naming import dotted

# Calls that only build a value, allowed where a constant is.
SAFE_CALLS = frozenset(
    "frozenset set tuple list dict float int str bytes range re.compile namedtuple "
    "collections.namedtuple TypeVar typing.TypeVar NewType typing.NewType Decimal "
    "decimal.Decimal Fraction fractions.Fraction".split()
)
# And in a class body: a dataclass field, an enum member.
_CLASS_CALLS = frozenset("field dataclasses.field auto enum.auto".split())
DECORATORS = frozenset(
    "functools.cache cache functools.lru_cache lru_cache functools.wraps wraps "
    "functools.cached_property cached_property functools.total_ordering total_ordering "
    "dataclasses.dataclass dataclass staticmethod classmethod property "
    "typing.overload overload abc.abstractmethod abstractmethod".split()
)
_ACCESSORS = ("setter", "getter", "deleter")  # @name.setter on a property of the class
_METACLASSES = frozenset({"ABCMeta", "abc.ABCMeta"})
_CLASS_HOOKS = ("__init_subclass__", "__class_getitem__")
_DECORATOR_ADVICE = (
    "only functools.cache, lru_cache, wraps, cached_property and total_ordering, "
    "dataclass, staticmethod, classmethod, property, overload and abstractmethod may "
    "decorate; call a helper inside the function instead"
)


def problems(body: Collection[ast.stmt]) -> list[str]:
    """Why each piece of code the top-level `body` would run on import is refused."""
    defined = _top_level_names(body)
    return [f"line {line}: {why}" for line, why in _statements(body, defined, in_class=False)]


def constant(expr: ast.expr, calls: frozenset[str] = SAFE_CALLS) -> bool:
    """A value built from literals, names and operators; no call but a few constructors."""
    if isinstance(expr, ast.Lambda):
        # The body runs only when called; the defaults run now.
        defaults = [*expr.args.defaults, *expr.args.kw_defaults]
        return all(constant(d, calls) for d in defaults if d)
    if isinstance(expr, ast.Call):
        return (
            dotted(expr.func) in calls
            and all(constant(a, calls) for a in expr.args)
            and all(constant(k.value, calls) for k in expr.keywords)
        )
    if isinstance(expr, ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom):
        return False
    if isinstance(expr, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return False
    children = ast.iter_child_nodes(expr)
    return all(constant(child, calls) for child in children if isinstance(child, ast.expr))


def _top_level_names(body: Collection[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(stmt, ast.Try):
            parts = [*stmt.body, *stmt.orelse, *stmt.finalbody]
            names |= _top_level_names([*parts, *(s for h in stmt.handlers for s in h.body)])
    return names


def _statements(
    body: Collection[ast.stmt], defined: set[str], *, in_class: bool
) -> Iterator[tuple[int, str]]:
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _function(stmt, defined, in_class=in_class)
        elif isinstance(stmt, ast.ClassDef):
            yield from _class(stmt, defined, in_class=in_class)
        elif isinstance(stmt, ast.AnnAssign):
            yield from _constants([stmt.annotation], "the annotation")
            if in_class and stmt.value is not None:
                yield from _constants([stmt.value], "the class attribute", _CLASS_CALLS)
        elif isinstance(stmt, ast.Try):
            parts = [*stmt.body, *stmt.orelse, *stmt.finalbody]
            parts += [s for handler in stmt.handlers for s in handler.body]
            yield from _statements(parts, defined, in_class=in_class)
        elif in_class and isinstance(stmt, ast.Assign):
            yield from _constants([stmt.value], "the class attribute", _CLASS_CALLS)
        elif in_class and not _inert(stmt):
            yield stmt.lineno, f"a class body's {_kind(stmt)} runs code on import — {_CLASS_ADVICE}"


_CLASS_ADVICE = "keep only definitions and constant attributes in a class body"


def _inert(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _kind(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return f"call to {_short(stmt.value.func)}()"
    return f"{type(stmt).__name__.lower()} statement"


def _function(
    node: ast.FunctionDef | ast.AsyncFunctionDef, defined: set[str], *, in_class: bool
) -> Iterator[tuple[int, str]]:
    yield from _decorators(node, defined, in_class=in_class)
    args = node.args
    defaults = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    yield from _constants(defaults, f"a default value of '{node.name}'")
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    annotations = [a.annotation for a in every if a is not None and a.annotation is not None]
    annotations += [node.returns] if node.returns is not None else []
    yield from _constants(annotations, f"an annotation of '{node.name}'")


def _class(node: ast.ClassDef, defined: set[str], *, in_class: bool) -> Iterator[tuple[int, str]]:
    yield from _decorators(node, defined, in_class=in_class)
    yield from _constants(node.bases, f"a base class of '{node.name}'")
    for keyword in node.keywords:
        if keyword.arg == "metaclass" and dotted(keyword.value) not in _METACLASSES:
            yield (
                node.lineno,
                (
                    f"the metaclass of '{node.name}' runs code on import — a class may only "
                    f"use metaclass=ABCMeta"
                ),
            )
        else:
            yield from _constants([keyword.value], f"a keyword of class '{node.name}'")
    for hook in node.body:
        if isinstance(hook, ast.FunctionDef) and hook.name in _CLASS_HOOKS:
            yield (
                hook.lineno,
                (
                    f"'{node.name}.{hook.name}' runs code on import when a class or annotation "
                    f"uses '{node.name}' — define ordinary methods only"
                ),
            )
    yield from _statements(node.body, defined, in_class=True)


def _decorators(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    defined: set[str],
    *,
    in_class: bool,
) -> Iterator[tuple[int, str]]:
    for decorator in node.decorator_list:
        if not _allowed_decorator(decorator, defined, in_class=in_class):
            yield (
                decorator.lineno,
                (f"decorator @{_short(decorator)} runs code on import — {_DECORATOR_ADVICE}"),
            )


def _allowed_decorator(decorator: ast.expr, defined: set[str], *, in_class: bool) -> bool:
    call = decorator if isinstance(decorator, ast.Call) else None
    name = dotted(call.func if call else decorator)
    if in_class and call is None and name.count(".") == 1 and name.split(".")[1] in _ACCESSORS:
        return True
    if name not in DECORATORS or name.partition(".")[0] in defined:
        return False
    arguments = [*call.args, *(k.value for k in call.keywords)] if call else []
    return all(constant(a) for a in arguments)


def _constants(
    exprs: Collection[ast.expr], where: str, calls: frozenset[str] = frozenset()
) -> Iterator[tuple[int, str]]:
    for expr in exprs:
        if not constant(expr, SAFE_CALLS | calls):
            yield (
                expr.lineno,
                (
                    f"{where} ({_short(expr)}) runs code on import — use only constants, names "
                    f"and containers there"
                ),
            )


def _short(expr: ast.expr, limit: int = 40) -> str:
    text = " ".join(ast.unparse(expr).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
