"""Expected values that call model-written code, computed where that code cannot write them.

An example's expected value is its author's expression: `12`, `not is_even(2)`,
`double(double(3))`. Where it calls a function the model wrote (the function under test, a
dependency, a used module's), that code must not run in the process that writes the
expected value: code in the same process can rebind anything there (the runner's encoder,
which writes every value; the builtins the expression uses), and would then write the
expected value it likes, which its own answer then matches.

So each such call runs alone, in a process of the code that defines it, and its answer is
only that code's claim about that one call, as any answer is. The claim's value, written
back as a literal (`literal`), takes the call's place in the expression, innermost calls
first, in the order Python evaluates them (`resolve_calls`), until no call of
model-written code is left. What is left is evaluated in a process that imports none
(`trusted_module`): the spec's types, stubs for its functions, and the used modules
reduced the same way. A call of model code that cannot be taken out of the expression
like that (a function passed as a value, a call inside a lambda or a comprehension, whose
arguments exist only as it runs) makes the expected value one that cannot be computed;
the example says so.
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from marshalike.language.naming import dotted, parse_or_none
from marshalike.sandbox.values import Plain

_MAX_NESTING = 16  # calls of model code nested deeper than this are refused
_MAX_DEPTH = 200  # nesting of a value written back as a literal
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def trusted_module(source: str) -> str:
    """The module `source` with no code of the model's in it: its imports, the plain
    dataclasses the compiler emits for the spec's types, and a stub for each function it
    defines. Anything else (a helper class, a constant, code in a class body) is left out."""
    tree = parse_or_none(source, "exec")
    body = tree.body if isinstance(tree, ast.Module) else []
    lines = ["from __future__ import annotations", "from dataclasses import dataclass", ""]
    for node in body:
        if isinstance(node, ast.Import) or (
            isinstance(node, ast.ImportFrom) and not node.level and node.module != "__future__"
        ):
            lines.append(ast.unparse(node))
        elif isinstance(node, ast.ClassDef) and _plain_dataclass(node):
            lines.append(ast.unparse(node))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines.append(f"def {node.name}(*args, **kwargs):\n    raise NotImplementedError")
    return "\n\n".join(lines) + "\n"


def _plain_dataclass(node: ast.ClassDef) -> bool:
    """`@dataclass class T:` holding only annotated fields without values (and `pass` or a
    docstring): nothing in it runs but the dataclass decorator."""
    if node.bases or node.keywords or [dotted(d) for d in node.decorator_list] != ["dataclass"]:
        return False
    return all(
        isinstance(s, ast.Pass)
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        or (
            isinstance(s, ast.AnnAssign)
            and isinstance(s.target, ast.Name)
            and s.value is None
            and isinstance(s.annotation, ast.Name | ast.Attribute | ast.Subscript | ast.Constant)
        )
        for s in node.body
    )


class ModelNames(NamedTuple):
    """What a reference module's source says of the callables the model wrote."""

    names: frozenset[str]  # every function it defines, every name imported from a used spec
    stubs: frozenset[str]  # of those, the stubs (`raise NotImplementedError`): the candidate's
    imported: dict[str, str]  # a used spec's names, each with the module the tests import it from


def model_names(source: str, local: Collection[str]) -> ModelNames:
    """The callables of `source` whose code the model wrote or may have written: every
    function it defines and every name it imports from a `local` module (a used spec's);
    of those, the stubs, whose code is the candidate's; and the names imported from a
    `local` module as the generated test file imports them (a name `source` defines too
    is its own)."""
    tree = parse_or_none(source, "exec")
    body = tree.body if isinstance(tree, ast.Module) else []
    names: set[str] = set()
    stubs: set[str] = set()
    defined: set[str] = set()
    imports: list[ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
            if _stub(node):
                stubs.add(node.name)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in local:
            names.update(alias.asname or alias.name for alias in node.names)
            imports.append(node)
        elif isinstance(node, ast.Import):
            names.update(
                (alias.asname or alias.name).split(".")[0]
                for alias in node.names
                if alias.name.split(".")[0] in local
            )
    imported = {
        alias.name: node.module or ""
        for node in imports
        if node.module in local and not node.level
        for alias in node.names
        if alias.asname is None and alias.name not in defined
    }
    return ModelNames(frozenset(names), frozenset(stubs), imported)


def _stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    last = node.body[-1] if node.body else None
    return (
        isinstance(last, ast.Raise)
        and last.exc is not None
        and dotted(last.exc.func if isinstance(last.exc, ast.Call) else last.exc)
        == "NotImplementedError"
    )


def calls_model(text: str, names: Collection[str]) -> frozenset[str]:
    """The model-written names the expression reads."""
    tree = parse_or_none(text)
    if tree is None:
        return frozenset()
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names)


def next_calls(text: str, names: Collection[str]) -> list[tuple[str, str]] | str:
    """The innermost calls of model-written functions in the expression, as (function,
    call text), each once; or why a name of model code in it cannot be taken out (it is
    not called, or is called inside a lambda or a comprehension)."""
    tree = parse_or_none(text)
    if tree is None:
        return "it is not an expression"
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id in names):
            continue
        call = parents.get(node)
        if not (isinstance(call, ast.Call) and call.func is node):
            return f"it uses {node.id} other than by calling it"
        if _inside_scope(call, parents):
            return f"it calls {node.id} inside a lambda or a comprehension"
        arguments = [*call.args, *(k.value for k in call.keywords)]
        if not any(calls_model(ast.unparse(a), names) for a in arguments):
            found.setdefault(ast.unparse(call), node.id)
    return [(name, call) for call, name in found.items()]


def _inside_scope(node: ast.AST, parents: Mapping[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, _SCOPES):
            return True
    return False


@dataclass(frozen=True)
class Claim:
    """What a call of model code gave: a value, or why there is none (`reason`)."""

    value: Plain | None
    reason: str = ""


@dataclass(frozen=True)
class Resolved:
    """An expected value with its calls of model code answered (`resolve_calls`)."""

    text: str | None  # the expression with each call replaced by its claim; None: it cannot be
    why: str  # why there is no text
    calls: tuple[str, ...] = ()  # the calls made, in the order the generated test makes them


def resolve(
    text: str,
    names: Collection[str],
    claim: Callable[[str, str], Claim],
    records: Collection[str] = (),
) -> tuple[str | None, str]:
    """The expression with every call of model-written code replaced by the literal of
    its claim (`claim(function, call text)`), innermost first; or None and why not.
    `records` are the names of the declared types a claim may be a record of."""
    done = resolve_calls(text, names, claim, records)
    return done.text, done.why


def resolve_calls(
    text: str,
    names: Collection[str],
    claim: Callable[[str, str], Claim],
    records: Collection[str] = (),
) -> Resolved:
    """`resolve`, with the calls of model code listed as the generated test file makes
    them when it evaluates the expression: in Python's order of evaluation, each call's
    arguments before it, left to right (`f(f(1)) + f(2)` makes `f(1)`, `f(2)` with the
    claim of `f(1)` written in, then `f(2)`), a call made twice listed twice (its claim is
    asked once), and up to the first call without a claim, where the test stops too."""
    if not calls_model(text, names):
        return Resolved(text, "")
    found = next_calls(text, names)
    if isinstance(found, str):
        return Resolved(None, found)
    tree = parse_or_none(text)
    assert tree is not None
    if _nesting(tree, names) > _MAX_NESTING:
        return Resolved(None, f"it nests calls of the code more than {_MAX_NESTING} deep")
    writer = _Writer(names, claim, records)
    try:
        return Resolved(ast.unparse(writer.visit(tree)), "", tuple(writer.made))
    except _NoClaim as stop:
        why = str(stop)
    except SyntaxError:  # a record's fields given twice
        why = "a value the code gave cannot be written as a literal"
    except (ValueError, RecursionError, MemoryError):  # an int past str()'s digit limit
        why = "a value the code gave is too large to write back"
    return Resolved(None, why, tuple(writer.made))


class _NoClaim(Exception):
    """A call of model code gave no value that can stand in the expression."""


class _Writer(ast.NodeTransformer):
    """Replaces each call of model code by its claim's literal, visiting the expression in
    the order Python evaluates it, and lists the calls as it goes (`made`)."""

    def __init__(
        self, names: Collection[str], claim: Callable[[str, str], Claim], records: Collection[str]
    ) -> None:
        self.names, self.claim, self.records = names, claim, records
        self.made: list[str] = []
        self.written: dict[str, str] = {}  # call text -> its claim's literal

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        # A dict display is evaluated key, value, key, value: not its keys first.
        keys: list[ast.expr | None] = []
        items: list[ast.expr] = []
        for key, value in zip(node.keys, node.values, strict=True):
            keys.append(None if key is None else self.visit(key))
            items.append(self.visit(value))
        node.keys, node.values = keys, items
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)  # the function, its positional arguments, then keywords
        if not (isinstance(node.func, ast.Name) and node.func.id in self.names):
            return node
        call = ast.unparse(node)
        self.made.append(call)
        if call not in self.written:
            got = self.claim(node.func.id, call)
            if got.value is None:
                raise _NoClaim(f"{call}: {got.reason}")
            written = literal(got.value, self.records)
            if written is None:
                raise _NoClaim(f"{call} gave a value that cannot be written as a literal")
            self.written[call] = written
        return ast.parse(self.written[call], mode="eval").body


def _nesting(node: ast.AST, names: Collection[str]) -> int:
    """How deep calls of model code nest in the expression (`f(f(1))`: 2)."""
    inner = max((_nesting(child, names) for child in ast.iter_child_nodes(node)), default=0)
    own = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
    return inner + own


def literal(value: Plain, records: Collection[str] = (), depth: int = 0) -> str | None:
    """Python source for the value a tagged value stands for, of the same type; None for
    one that has none (an object of a class the spec does not declare, a value too large).
    A record is written only as one of `records`, the declared types' names (or, where it
    is a mapping, their tags to the names they are written with): the tags
    come from the code under test, which may claim a record of any name (`__import__`),
    and its literal is evaluated where no model code runs."""
    if depth > _MAX_DEPTH:
        return None
    tag = value[0]
    if tag == "None":
        return "None"
    if tag == "bool":
        return repr(value[1])
    if tag == "int":
        return hex(int(value[1], 16))
    if tag == "float":
        return _float(value[1])
    if tag == "complex":
        return f"complex({_float(value[1])}, {_float(value[2])})"
    if tag == "str":
        return repr(value[1])
    if tag in ("bytes", "bytearray"):
        shown = repr(bytes.fromhex(value[1]))
        return shown if tag == "bytes" else f"bytearray({shown})"
    if tag == "dict" and len(value) > 2:  # a dict type of the standard library's
        if value[2] not in ("collections.OrderedDict", "collections.Counter"):
            return None  # a defaultdict's factory is not in the value
        inner = _container("dict", value[1], records, depth)
        return None if inner is None else f"{value[2]}({inner})"
    if tag in ("list", "tuple", "set", "frozenset", "dict"):
        return _container(tag, value[1], records, depth)
    if tag == "record":
        return _record(value, records, depth) if value[1] in records else None
    if tag == "value":
        text = value[2]
        for bare, module in (("Decimal(", "decimal."), ("Fraction(", "fractions."),
                             ("UUID(", "uuid.")):  # fmt: skip
            if text.startswith(bare):
                return module + text
        return text
    return None


def _float(hexed: str) -> str:
    number = float.fromhex(hexed)
    return repr(number) if math.isfinite(number) else f"float('{number}')"


def _container(tag: str, items: list, records: Collection[str], depth: int) -> str | None:
    if tag == "dict":
        pairs = [(literal(k, records, depth + 1), literal(v, records, depth + 1)) for k, v in items]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    parts = [literal(x, records, depth + 1) for x in items]
    if any(p is None for p in parts):
        return None
    inner = ", ".join(p for p in parts if p is not None)
    if tag == "list":
        return f"[{inner}]"
    if tag == "tuple":
        return f"({inner},)" if len(parts) == 1 else f"({inner})"
    return f"{tag}([{inner}])"


def _record(value: Plain, records: Collection[str], depth: int) -> str | None:
    # A used spec's type is tagged by its full name, and written by the name it is bound
    # to where the literal is computed (`records` maps one to the other there).
    name, fields = value[1], value[2]
    name = records[name] if isinstance(records, Mapping) else name
    if not all(f.isidentifier() and not keyword.iskeyword(f) and f[0] != "_" for f, _ in fields):
        return None
    written = [(f, literal(v, records, depth + 1)) for f, v in fields]
    if any(v is None for _, v in written):
        return None
    return f"{name}({', '.join(f'{f}={v}' for f, v in written)})"
