"""How strong a function's examples are: the share of small variants of its accepted code
that the examples tell apart from it (a mutation score).

Code that passes every example may pass them for reasons the examples never test. Each
variant changes one thing in the accepted code, as a slip would: an operator (`+` for `-`,
`and` for `or`), a constant (one more, one less, an empty string), a comparison (`<` for
`<=`), a boundary (one more or one less at either end of a `range` or a slice) or what a
`return` gives back (an empty value of the same kind, or the negation of a truth value).
Imports, docstrings, annotations and decorators are left as written, since changing them
changes nothing the examples could see. A variant the examples reject (a failing example, a
crash, no answer in time) is pinned down by them; one they accept is not. Where a surviving
variant answers one of the extra inputs differently from the accepted code, that input is a
question for the spec's author, with both answers. A survivor that answers every extra
input as the accepted code does may mean the same thing written another way.

Variants are code like any the model writes: they only ever run in the sandbox, through the
same verification as the examples (`verify`) and the same channel as the questions
(`consensus.probe_answers`). The variants chosen, when there are more than `limit`, are a
seeded random pick spread across the kinds of change, so one seed always gives the same.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from marshalike.gate.consensus import probe_answers
from marshalike.gate.questions import Question, Reply, reply_of
from marshalike.sandbox import channel
from marshalike.sandbox.oracle import Oracle
from marshalike.sandbox.verify import verify

DEFAULT_LIMIT = 12  # variants run per function
Kind = Literal["operator", "constant", "comparison", "boundary", "return"]
KINDS: tuple[Kind, ...] = ("operator", "constant", "comparison", "boundary", "return")
_LONGEST_CHANGE = 80  # characters of code shown on either side of a change
_Value = str | bytes | bool | int | float  # a constant a variant writes


@dataclass(frozen=True)
class Strength:
    """How many of the variants tried the examples reject (`killed`) of those tried."""

    killed: int
    total: int

    @property
    def survived(self) -> int:
        return self.total - self.killed

    def shown(self) -> str:
        """`examples pin down 9/12 variants`"""
        if self.total == 0:
            return "no variants to test"
        noun = "variant" if self.total == 1 else "variants"
        return f"examples pin down {self.killed}/{self.total} {noun}"

    def to_json(self) -> dict[str, Any]:
        return {"killed": self.killed, "total": self.total}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Strength:
        """The inverse of `to_json`; ValueError where `data` is not one."""
        if not isinstance(data, Mapping):
            raise ValueError(f"not a strength: {type(data).__name__}")
        killed, total = _count(data.get("killed")), _count(data.get("total"))
        if killed is None or total is None or killed > total:
            raise ValueError(f"not a strength: {dict(data)!r}")
        return cls(killed, total)


@dataclass(frozen=True)
class Mutant:
    """One variant of the accepted code: the whole code again, with one change."""

    kind: Kind
    line: int  # where the change is, in the accepted code
    change: str  # "`n > 0` → `n >= 0`"
    source: str


def measure(
    code: str,
    *,
    module_for: Callable[[str], str],
    oracle: Oracle,
    calls: Sequence[str],
    jobs: int = 4,
    seed: int = 0,
    limit: int = DEFAULT_LIMIT,
    accepted: Callable[[], Sequence[channel.Answer]] | None = None,
) -> tuple[Strength, tuple[Question, ...]]:
    """How many variants of `code` (at most `limit`) the examples in `oracle` reject, each
    run in the module `module_for` builds around it, as the loop runs a candidate; and the
    inputs among `calls` on which a variant they accept answers otherwise, as questions.
    The module's name, limits, records and support files are the oracle's. `accepted`
    gives `code`'s own answers on `calls` where the caller has them (or will need them
    too); else they are run here when needed."""
    found = mutants(code, seed=seed, limit=limit)
    if not found:
        return Strength(0, 0), ()

    def rejected(mutant: Mutant) -> bool:
        # Without a checkable example nothing is pinned down (verify would call it failed).
        return bool(oracle.cases) and not verify(module_for(mutant.source), oracle).ok

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        killed = list(pool.map(rejected, found))
    survivors = [m for m, dead in zip(found, killed, strict=True) if not dead]
    asked = _questions(code, survivors, module_for, oracle, calls, jobs, accepted)
    return Strength(sum(killed), len(found)), asked


def mutants(code: str, *, seed: int = 0, limit: int = DEFAULT_LIMIT) -> tuple[Mutant, ...]:
    """Variants of `code`, each one change away, each parsing and different from it (and
    from every other): all of them in the order of the code when there are at most `limit`,
    else a pick seeded by `seed` that takes from each kind of change in turn."""
    if limit <= 0:
        return ()
    try:
        tree = ast.parse(code)
        every = list(_all_mutants(tree))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return ()
    if len(every) <= limit:
        return tuple(every)
    rng = random.Random(seed)
    pools = []
    for kind in KINDS:
        indices = [i for i, m in enumerate(every) if m.kind == kind]
        rng.shuffle(indices)
        pools.append(indices)
    picked: list[int] = []
    while len(picked) < limit:
        for indices in pools:
            if indices and len(picked) < limit:
                picked.append(indices.pop())
    return tuple(every[i] for i in sorted(picked))


def _questions(
    code: str,
    survivors: Sequence[Mutant],
    module_for: Callable[[str], str],
    oracle: Oracle,
    calls: Sequence[str],
    jobs: int,
    accepted: Callable[[], Sequence[channel.Answer]] | None = None,
) -> tuple[Question, ...]:
    """Per input where a survivor first answers otherwise than the accepted code, a question
    with the accepted code's answer first, then each distinct answer of those survivors.

    Every reply has support 1: it stands for one answer, not for how many programs gave
    it. The variants are made, not sampled, so that several of them agree on an answer is
    no evidence for it (and the accepted code's answer is not outvoted by them)."""
    if not survivors or not calls:
        return ()

    def run(source: str) -> tuple[channel.Answer, ...]:
        return probe_answers(
            module_for(source),
            module_name=oracle.module_name,
            calls=calls,
            limits=oracle.limits,
            extra_files=oracle.extra_files,
            records=oracle.records,
        )

    sources = [m.source for m in survivors] if accepted else [code, *(m.source for m in survivors)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        answered = list(pool.map(run, sources))
    own = accepted() if accepted else answered.pop(0)
    asked: dict[int, dict[str, Reply]] = {}
    for answers in answered:
        for i, (mine, theirs) in enumerate(zip(own, answers, strict=True)):
            key, reply = reply_of(theirs, 1)
            own_key, own_reply = reply_of(mine, 1)
            if key != own_key:
                asked.setdefault(i, {own_key: own_reply}).setdefault(key, reply)
                break
    found = [Question(calls[i], tuple(asked[i].values())) for i in sorted(asked)]
    ranked = sorted(enumerate(found), key=lambda pair: (-pair[1].spread, pair[0]))
    return tuple(question for _, question in ranked)


def _count(value: object) -> int | None:
    """`value` where it is a count (an int, not a bool, not negative)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


# Variants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """Where a node of the code sits: `getattr(parent, field)[index]`, or the field itself
    when `index` is None; `returns` is the enclosing function's return annotation."""

    parent: ast.AST
    field: str
    index: int | None
    node: ast.expr | ast.stmt
    returns: ast.expr | None


# Parts of the code that change nothing the examples could see.
_SKIPPED_FIELDS = frozenset(
    {"annotation", "returns", "decorator_list", "type_comment", "type_params", "format_spec"}
)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BINARY: dict[type[ast.operator], tuple[type[ast.operator], ...]] = {
    ast.Add: (ast.Sub,),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.FloorDiv,),
    ast.FloorDiv: (ast.Mult,),
    ast.Div: (ast.Mult,),
    ast.Mod: (ast.FloorDiv,),
    ast.Pow: (ast.Mult,),
    ast.LShift: (ast.RShift,),
    ast.RShift: (ast.LShift,),
    ast.BitAnd: (ast.BitOr,),
    ast.BitOr: (ast.BitAnd,),
    ast.BitXor: (ast.BitOr,),
}
_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
# What a `return` gives back instead, by the kind of value it returns; the second where the
# first is what it already returns.
_EMPTY = {"int": ("0", "1"), "float": ("0.0", "1.0"), "str": ("''",), "bytes": ("b''",),
          "list": ("[]",), "dict": ("{}",), "tuple": ("()",), "set": ("set()",),
          "none": ("None",)}  # fmt: skip
_CALL_KINDS = {"len": "int", "int": "int", "ord": "int", "sum": "int", "str": "str",
               "chr": "str", "repr": "str", "float": "float", "bool": "bool",
               "isinstance": "bool", "all": "bool", "any": "bool", "callable": "bool",
               "hasattr": "bool", "list": "list", "sorted": "list", "dict": "dict",
               "tuple": "tuple", "set": "set"}  # fmt: skip
_METHOD_KINDS = {"join": "str", "upper": "str", "lower": "str", "strip": "str",
                 "replace": "str", "format": "str", "title": "str", "capitalize": "str",
                 "count": "int", "index": "int", "find": "int", "startswith": "bool",
                 "endswith": "bool"}  # fmt: skip
_ANNOTATION_KINDS = {"int": "int", "float": "float", "str": "str", "bool": "bool",
                     "bytes": "bytes", "list": "list", "List": "list", "dict": "dict",
                     "Dict": "dict", "tuple": "tuple", "Tuple": "tuple", "set": "set",
                     "Set": "set"}  # fmt: skip


def _all_mutants(tree: ast.Module) -> Iterator[Mutant]:
    """Every distinct variant, in the order of the code."""
    seen = {ast.dump(tree), ast.dump(ast.parse(ast.unparse(tree)))}
    for slot in list(_slots(tree, None)):
        for kind, new in _variants(slot):
            source = _with(tree, slot, new)
            if source is None:
                continue
            try:
                shape = ast.dump(ast.parse(source))
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                continue
            if shape in seen:
                continue
            seen.add(shape)
            line = getattr(slot.node, "lineno", 0)
            yield Mutant(kind, line, f"`{_short(slot.node)}` → `{_short(new)}`", source)


def _slots(node: ast.AST, returns: ast.expr | None) -> Iterator[_Slot]:
    """The code's expressions and statements, depth first, outside the skipped parts."""
    docstring = _docstring(node)
    for field, value in ast.iter_fields(node):
        if field in _SKIPPED_FIELDS:
            continue
        items = value if isinstance(value, list) else [value]
        for index, child in enumerate(items):
            if not isinstance(child, ast.AST) or child is docstring:
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                continue
            if isinstance(child, ast.expr | ast.stmt):
                at = index if isinstance(value, list) else None
                yield _Slot(node, field, at, child, returns)
            inner = returns
            if isinstance(child, _FUNCTIONS):
                inner = child.returns
            elif isinstance(child, ast.Lambda | ast.ClassDef):
                inner = None
            yield from _slots(child, inner)


def _docstring(node: ast.AST) -> ast.stmt | None:
    if not isinstance(node, (ast.Module, ast.ClassDef, *_FUNCTIONS)) or not node.body:
        return None
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return first if isinstance(first.value.value, str) else None
    return None


def _with(tree: ast.Module, slot: _Slot, new: ast.AST) -> str | None:
    """The code with `new` in the slot's place (the tree itself is left as it was)."""
    held = getattr(slot.parent, slot.field)
    try:
        if slot.index is None:
            setattr(slot.parent, slot.field, new)
        else:
            held[slot.index] = new
        return ast.unparse(tree) + "\n"
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None
    finally:
        if slot.index is None:
            setattr(slot.parent, slot.field, held)
        else:
            held[slot.index] = slot.node


def _variants(slot: _Slot) -> Iterator[tuple[Kind, ast.AST]]:
    node = slot.node
    if isinstance(node, ast.BinOp):
        for op in _BINARY.get(type(node.op), ()):
            yield "operator", ast.BinOp(node.left, op(), node.right)
    elif isinstance(node, ast.AugAssign):
        for op in _BINARY.get(type(node.op), ()):
            yield "operator", ast.AugAssign(node.target, op(), node.value)
    elif isinstance(node, ast.BoolOp):
        flipped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "operator", ast.BoolOp(flipped, node.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub | ast.Invert):
        yield "operator", node.operand
    elif isinstance(node, ast.Constant) and not isinstance(slot.parent, ast.JoinedStr):
        for value in _constants(node.value):
            yield "constant", _literal(value)
    elif isinstance(node, ast.Compare):
        for i, compared in enumerate(node.ops):
            other = _COMPARISONS.get(type(compared))
            if other is not None:
                ops = [*node.ops[:i], other(), *node.ops[i + 1 :]]
                yield "comparison", ast.Compare(node.left, ops, node.comparators)
    elif isinstance(node, ast.Call):
        yield from (("boundary", new) for new in _ranges(node))
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        yield from (("boundary", new) for new in _slices(node, node.slice))
    elif isinstance(node, ast.Return):
        new_value = _returned(node.value, slot.returns)
        if new_value is not None:
            yield "return", ast.Return(new_value)


def _constants(value: object) -> list[_Value]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1, value - 1]
    if isinstance(value, str | bytes) and value:
        return [value[:0]]
    return []


def _literal(value: _Value) -> ast.expr:
    """A constant as code: a negative number as `-n`, the way Python writes it."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _ranges(call: ast.Call) -> Iterator[ast.Call]:
    """`range(a, b)` one more or one less at either end."""
    if not (isinstance(call.func, ast.Name) and call.func.id == "range") or call.keywords:
        return
    if not 1 <= len(call.args) <= 3 or any(isinstance(a, ast.Starred) for a in call.args):
        return
    ends = [len(call.args) - 1] if len(call.args) == 1 else [1, 0]
    for at in ends:
        for step in (1, -1):
            args = [*call.args[:at], _plus(call.args[at], step), *call.args[at + 1 :]]
            yield ast.Call(call.func, args, [])


def _slices(node: ast.Subscript, cut: ast.Slice) -> Iterator[ast.Subscript]:
    """`x[a:b]` one more or one less at either end written."""
    for step in (1, -1):
        if cut.lower is not None:
            lower = ast.Slice(_plus(cut.lower, step), cut.upper, cut.step)
            yield ast.Subscript(node.value, lower, node.ctx)
        if cut.upper is not None:
            upper = ast.Slice(cut.lower, _plus(cut.upper, step), cut.step)
            yield ast.Subscript(node.value, upper, node.ctx)


def _plus(expr: ast.expr, step: int) -> ast.expr:
    """`expr + step`, folded where `expr` is a number or ends in one (`n - 1` + 1 is `n`)."""
    number = _int_of(expr)
    if number is not None:
        return _literal(number + step)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Sub):
        tail = _int_of(expr.right)
        if tail is not None:
            return _offset(expr.left, (tail if isinstance(expr.op, ast.Add) else -tail) + step)
    return _offset(expr, step)


def _offset(expr: ast.expr, by: int) -> ast.expr:
    if by == 0:
        return expr
    return ast.BinOp(expr, ast.Add() if by > 0 else ast.Sub(), ast.Constant(abs(by)))


def _int_of(expr: ast.expr) -> int | None:
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        inner = _int_of(expr.operand)
        return None if inner is None else -inner
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return expr.value
    return None


def _returned(value: ast.expr | None, returns: ast.expr | None) -> ast.expr | None:
    """What the `return` gives back instead: an empty value of the kind it returns (from
    the returned expression, else the function's annotation; None for any other kind), or
    the negation of a truth value. None where it returns nothing."""
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return None
    kind = _value_kind(value) or _annotation_kind(returns)
    if kind == "bool":
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
            return value.operand
        return ast.UnaryOp(ast.Not(), value)
    for text in _EMPTY[kind]:
        new = ast.parse(text, mode="eval").body
        if ast.dump(new) != ast.dump(value):
            return new
    return None


def _value_kind(value: ast.expr) -> str | None:
    if isinstance(value, ast.Constant):
        kind = type(value.value).__name__
        return kind if kind in _EMPTY or kind == "bool" else None
    if isinstance(value, ast.Compare) or (
        isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not)
    ):
        return "bool"
    if isinstance(value, ast.BoolOp) and all(_value_kind(v) == "bool" for v in value.values):
        return "bool"
    shapes: dict[type[ast.expr], str] = {
        ast.List: "list", ast.ListComp: "list", ast.Tuple: "tuple", ast.Dict: "dict",
        ast.DictComp: "dict", ast.Set: "set", ast.SetComp: "set", ast.JoinedStr: "str",
    }  # fmt: skip
    if type(value) in shapes:
        return shapes[type(value)]
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return _CALL_KINDS.get(value.func.id)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        return _METHOD_KINDS.get(value.func.attr)
    return None


def _annotation_kind(returns: ast.expr | None) -> str:
    """The kind a return annotation names (`list[int]` is a list); "none" for an optional
    value, another type or none at all."""
    if returns is None:
        return "none"
    if isinstance(returns, ast.Constant) and isinstance(returns.value, str):
        text = returns.value  # a string annotation
    else:
        text = ast.unparse(returns)
    text = text.strip()
    if "|" in text or text.startswith(("Optional", "typing.Optional")):
        return "none"
    return _ANNOTATION_KINDS.get(text.split("[", 1)[0].strip(), "none")


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= _LONGEST_CHANGE else text[: _LONGEST_CHANGE - 1] + "…"
