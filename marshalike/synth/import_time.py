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
- a class body holds definitions, docstrings and constant assignments, and defines or
  binds none of the hooks the class machinery calls on import (`__init_subclass__`,
  `__class_getitem__`, `__set_name__`, an enum's `_generate_next_value_`...), nor a
  dunder but `__slots__`, `__match_args__` and `__hash__`; `metaclass=` names only
  `ABCMeta`; a class with class attributes defines `__init__` or `__new__` only where
  its bases are plain (an enum calls them for each member on import), nor methods that
  run as its members' attributes are set or read (`__setattr__`, `__getattribute__`...);
- an except clause's exception classes are constants too (a failing import in a `try`
  evaluates them);
- an object of the code's own (its classes and functions, what it imports from outside
  the standard library, names given a value that uses one) is only named there, never
  read, called, hashed or operated on: `_Setup.ready` runs a class property,
  `str(Mode.ON)` and `Mode.ON + 1` an enum's methods.
Function bodies run when called, not on import, and are not looked at here.
"""

from __future__ import annotations

import ast
import builtins
import sys
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
# Methods the class machinery calls on import: when another class derives from it, an
# annotation subscripts it, an attribute is set on it, it is used as a base, or (an enum's)
# a member is made.
_CLASS_HOOKS = frozenset(
    {"__init_subclass__", "__class_getitem__", "__set_name__", "__mro_entries__",
     "_generate_next_value_", "_missing_"}
)  # fmt: skip
# What an enum's metaclass calls on each member it makes on import: making it, setting and
# reading its attributes (`_name_`, `_value_`).
_MEMBER_MAKING = frozenset(
    {"__init__", "__new__", "__setattr__", "__getattribute__", "__getattr__", "__delattr__"}
)
# Dunder names a class body may bind to a constant (any other binding could be a hook).
_CLASS_DUNDERS = frozenset({"__slots__", "__match_args__", "__hash__"})
# Bases whose metaclass is `type` (or ABCMeta): making a subclass runs nothing of its own.
# Any other base may have a metaclass that calls the class's methods on import: an enum
# calls `__init__` or `__new__` once for each member.
_PLAIN_BASES = frozenset(
    {"ABC", "abc.ABC", "NamedTuple", "typing.NamedTuple", "Protocol", "typing.Protocol"}
    | {name for name, value in vars(builtins).items() if isinstance(value, type)}
)
_DECORATOR_ADVICE = (
    "only functools.cache, lru_cache, wraps, cached_property and total_ordering, "
    "dataclass, staticmethod, classmethod, property, overload and abstractmethod may "
    "decorate; call a helper inside the function instead"
)


class Names(set[str]):
    """The names the top level defines; `objects`, those of them bound to an object of the
    code's own: its classes and functions, what it imports from outside the standard
    library, and names assigned a value that uses one."""

    objects: frozenset[str] = frozenset()


def problems(body: Collection[ast.stmt]) -> list[str]:
    """Why each piece of code the top-level `body` would run on import is refused."""
    defined = Names(_top_level_names(body))
    defined.objects = _objects(body)
    return [f"line {line}: {why}" for line, why in _statements(body, defined, in_class=False)]


def _objects(body: Collection[ast.stmt]) -> frozenset[str]:
    """`Names.objects` of the top-level `body`, in its order."""
    found: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(stmt.name)
        elif isinstance(stmt, ast.ImportFrom) and (stmt.level or _outside(stmt.module)):
            found.update(a.asname or a.name for a in stmt.names)
        elif isinstance(stmt, ast.Import):
            found.update((a.asname or a.name).split(".")[0] for a in stmt.names if _outside(a.name))
        elif isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            if {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)} & found:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                found.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(stmt, ast.Try):
            parts = [*stmt.body, *stmt.orelse, *stmt.finalbody]
            found |= _objects([*parts, *(s for h in stmt.handlers for s in h.body)])
    return frozenset(found)


def _outside(module: str | None) -> bool:
    return not module or module.split(".")[0] not in sys.stdlib_module_names


def plain_target(target: ast.expr) -> bool:
    """Whether an assignment at the top level binds names of its own only: not an attribute
    (`[json][0].dumps = ...` rewrites a module) nor a dunder (`__all__`, `__name__`)."""
    if isinstance(target, ast.Tuple | ast.List):
        return all(plain_target(element) for element in target.elts)
    return isinstance(target, ast.Name) and not (
        target.id.startswith("__") and target.id.endswith("__")
    )


def uses_objects(expr: ast.expr, objects: Collection[str]) -> bool:
    """Whether `expr` does more with an object of the code's own than name it: reads its
    attribute (a property of a class runs), calls with it, hashes it (a set member, a dict
    key), subscripts it or applies an operator to it (an enum member's `__add__`). Named
    alone, in a tuple or list, as a dict's value or a subscript's index, it runs nothing."""
    parents = {id(c): node for node in ast.walk(expr) for c in ast.iter_child_nodes(node)}
    for name in ast.walk(expr):
        if not isinstance(name, ast.Name) or name.id not in objects:
            continue
        parent = parents.get(id(name))
        bare = parent is None or isinstance(parent, ast.Tuple | ast.List | ast.Starred)
        bare = bare or (isinstance(parent, ast.Dict) and any(v is name for v in parent.values))
        bare = bare or (isinstance(parent, ast.Subscript) and parent.slice is name)
        if not bare:
            return True
    return False


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
    body: Collection[ast.stmt], defined: Names, *, in_class: bool
) -> Iterator[tuple[int, str]]:
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _function(stmt, defined, in_class=in_class)
        elif isinstance(stmt, ast.ClassDef):
            yield from _class(stmt, defined, in_class=in_class)
        elif isinstance(stmt, ast.AnnAssign):
            yield from _constants([stmt.annotation], "the annotation", defined)
            if not in_class and stmt.value and uses_objects(stmt.value, defined.objects):
                yield stmt.value.lineno, _USES_OBJECT.format(f"the value ({_short(stmt.value)})")
            if in_class and stmt.value is not None:
                yield from _constants([stmt.value], "the class attribute", defined, _CLASS_CALLS)
        elif isinstance(stmt, ast.Try):
            parts = [*stmt.body, *stmt.orelse, *stmt.finalbody]
            parts += [s for handler in stmt.handlers for s in handler.body]
            # An except clause's classes are evaluated when the try body raises.
            caught = [handler.type for handler in stmt.handlers if handler.type is not None]
            yield from _constants(caught, "an except clause's exception", defined)
            yield from _statements(parts, defined, in_class=in_class)
        elif in_class and isinstance(stmt, ast.Assign):
            yield from _constants([stmt.value], "the class attribute", defined, _CLASS_CALLS)
        elif isinstance(stmt, ast.Assign) and uses_objects(stmt.value, defined.objects):
            yield stmt.value.lineno, _USES_OBJECT.format(f"the value ({_short(stmt.value)})")
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
    node: ast.FunctionDef | ast.AsyncFunctionDef, defined: Names, *, in_class: bool
) -> Iterator[tuple[int, str]]:
    yield from _decorators(node, defined, in_class=in_class)
    args = node.args
    defaults = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    yield from _constants(defaults, f"a default value of '{node.name}'", defined)
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    annotations = [a.annotation for a in every if a is not None and a.annotation is not None]
    annotations += [node.returns] if node.returns is not None else []
    yield from _constants(annotations, f"an annotation of '{node.name}'", defined)


def _class(node: ast.ClassDef, defined: Names, *, in_class: bool) -> Iterator[tuple[int, str]]:
    yield from _decorators(node, defined, in_class=in_class)
    yield from _constants(node.bases, f"a base class of '{node.name}'", defined)
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
            yield from _constants([keyword.value], f"a keyword of class '{node.name}'", defined)
    bound = [(stmt, name) for stmt in node.body for name in _class_names(stmt)]
    for stmt, name in bound:
        hook = name in _CLASS_HOOKS or (
            not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
            and name.startswith("__") and name.endswith("__") and name not in _CLASS_DUNDERS
        )  # fmt: skip
        if hook:
            yield (
                stmt.lineno,
                (
                    f"'{node.name}.{name}' runs code on import when a class or annotation "
                    f"uses '{node.name}' — define ordinary methods only"
                ),
            )
    makers = [stmt for stmt, name in bound if name in _MEMBER_MAKING]
    members = any(isinstance(stmt, ast.Assign | ast.AnnAssign) for stmt, _ in bound)
    unknown = [b for b in node.bases if not _plain_base(b, defined)]
    if makers and members and unknown:
        yield (
            makers[0].lineno,
            (
                f"'{node.name}' derives from {_short(unknown[0])}, whose metaclass may call "
                f"'{node.name}.{_class_names(makers[0])[0]}' for its attributes on import "
                "(as an enum's does) — "
                "give it no class attributes, or derive it from a plain class"
            ),
        )
    yield from _statements(node.body, defined, in_class=True)


def _class_names(stmt: ast.stmt) -> list[str]:
    """The names a statement of a class body binds there."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [stmt.name]
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    targets += [stmt.target] if isinstance(stmt, ast.AnnAssign | ast.AugAssign) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _plain_base(base: ast.expr, defined: set[str]) -> bool:
    """A base that makes a subclass without running code of its own: a built-in class,
    a plain abstract or typing class, a subscripted `Generic`, or (trusting the checks
    of its own definition) a class of the candidate's."""
    if isinstance(base, ast.Subscript):
        return dotted(base.value) in ("Generic", "typing.Generic")
    name = dotted(base)
    return name in _PLAIN_BASES or name in defined


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


_USES_OBJECT = (
    "{} uses an object the code defines (a class, a function, what it imports), which can "
    "run its code on import — name it only"
)


def _constants(
    exprs: Collection[ast.expr], where: str, defined: Names, calls: frozenset[str] = frozenset()
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
        elif uses_objects(expr, defined.objects):
            yield expr.lineno, _USES_OBJECT.format(f"{where} ({_short(expr)})")


def _short(expr: ast.expr, limit: int = 40) -> str:
    text = " ".join(ast.unparse(expr).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
