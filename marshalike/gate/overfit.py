"""Signs that code passing a function's examples was fitted to them rather than to its
description: the probe gate of the loop (`LoopSettings.probe`).

Four signs, all cheap and none needing an oracle. A crash: on inputs mutated from the
examples (`mutate.mutated_calls`) the code raises an exception that only a programming
error raises (dividing by the length of an empty list, indexing it), one the description
does not promise. A refusal: the description promises no error and restricts no input, yet
the code's own `raise` turns a mutated input away (`if a < 0: raise ValueError(...)` in a
function that adds any two integers). A special case: the code compares a parameter with a
value taken from an example's arguments (`if 4 < n` next to the example `is_even(4)`), a
value the description never mentions, or searches a string parameter for a piece of an
example's string argument (`address.startswith('no-at')` next to
`is_valid_email('no-at-sign')`). A canned answer: the code returns an example's output
as a constant (`output = "100"` ... `return output` next to `string_xor('010', '110') =
'100'`), a value the description never mentions; or keeps the examples' answers in a table
(`{(1, 2): 3, (10, -3): 7}` next to `add(1, 2) = 3` and `add(10, -3) = 7`), where two or
more of its entries, and at least half, are examples. Timeouts are no sign: mutated inputs
(n = -1) make many correct loops long. `static_sign` joins the checks that need no run to
the promises of the description (`promises.unkept`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from marshalike.gate import promises
from marshalike.gate.consensus import ProbeOutcome
from marshalike.gate.mutate import call_of
from marshalike.language.gaps import promised_exceptions
from marshalike.language.naming import parse_or_none
from marshalike.language.spec import Func

# Exceptions that no description means when it says nothing about errors.
PROGRAMMING_ERRORS = frozenset(
    {
        "ZeroDivisionError", "IndexError", "KeyError", "TypeError", "AttributeError",
        "NameError", "UnboundLocalError", "RecursionError",
    }
)  # fmt: skip
# ValueError is also what a function raises on purpose; only math's domain error is a bug.
_MATH_DOMAIN = "math domain error"
# Words by which a description limits its inputs ("a non-empty list", "assume n is
# positive"): code may then refuse the inputs outside, and a refusal is no sign.
_RESTRICTION = re.compile(
    r"\b(non-?empty|not empty|positive|non-?negative|at least|assum\w*|valid|must|"
    r"guarantee\w*)\b",
    re.IGNORECASE,
)
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
# A shorter piece of an example's string (" a", "ab") is too likely a coincidence.
_MIN_PIECE = 3
# String methods that search their receiver for their first argument.
_SEARCHES = frozenset(
    {"startswith", "endswith", "find", "rfind", "index", "rindex", "count", "removeprefix",
     "removesuffix"}
)  # fmt: skip
# Values too common as bounds and base cases to say anything (`n == 0`, `n < 2`, `s == ""`).
_NEUTRAL_NUMBER = 2


def crash(
    func: Func, code: str, calls: Sequence[str], outcomes: Sequence[ProbeOutcome]
) -> tuple[str, str] | None:
    """The first probe call that raised an exception the function does not promise, either a
    programming error or a refusal by the code's own `raise` where the description allows
    none: the call and what happened, as "average([]) raised ZeroDivisionError: division by
    zero"; None when none did. The spec says nothing of such an input (the probe inputs are
    those the description admits), so it is a question as much as a sign."""
    return next(crashes(func, code, calls, outcomes), None)


def crashes(
    func: Func, code: str, calls: Sequence[str], outcomes: Sequence[ProbeOutcome]
) -> Iterator[tuple[str, str]]:
    """Every such call, in order, with what happened (`crash`)."""
    allowed = _allowed(func)
    if allowed is None:
        return
    refused = _raised_names(code) if not allowed and not _restricts(func) else set()
    for call, outcome in zip(calls, outcomes, strict=True):
        if not outcome.output.startswith("raises "):
            continue  # a value, a timeout or no output at all
        name = outcome.output.removeprefix("raises ")
        if name in allowed or not (is_bug(name, outcome.message) or name in refused):
            continue
        said = f"{call} raised {name}" + (f": {outcome.message}" if outcome.message else "")
        if is_bug(name, outcome.message):
            yield call, said
        else:
            yield call, f"{said}, though the description promises no error"


def speaks_of(func: Func, call: str) -> bool:
    """Whether the description speaks of the kind of edge value `call` passes (an empty
    collection or text, zero, a negative number): "0.0 for an empty list" settles what
    `average([])` should do, so a crash there is a sign, not an open question."""
    tree = call_of(call)
    if tree is None:
        return False
    prose = _prose(func)
    arguments = [*tree.args, *(k.value for k in tree.keywords)]
    return any(_EDGE_WORDS[kind].search(prose) for kind in _edge_kinds(arguments))


def _edge_kinds(arguments: Sequence[ast.expr]) -> set[str]:
    kinds = set()
    for node in arguments:
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, bool):
            continue
        if isinstance(value, str | list | tuple | dict | set) and not value:
            kinds.add("empty")
        elif isinstance(value, int | float) and value == 0:
            kinds.add("zero")
        elif isinstance(value, int | float) and value < 0:
            kinds.add("negative")
    return kinds


_EDGE_WORDS = {
    "empty": re.compile(r"\b(empty|blank|nothing|no (items?|elements?|numbers?|words?|"
                        r"characters?|values?|entries))\b", re.IGNORECASE),
    "zero": re.compile(r"\b(zero|0)\b", re.IGNORECASE),
    "negative": re.compile(r"\b(negative|below zero|less than zero|minus)\b", re.IGNORECASE),
}  # fmt: skip


def _allowed(func: Func) -> set[str] | None:
    """The exceptions the function may raise: those its description or its examples name;
    None when it may raise any ("raises an error", an example expecting Exception)."""
    names = set(promised_exceptions(func.description))
    names |= {e.exception for e in func.examples if e.outcome == "raises" and e.exception}
    return None if names & {"an error", "Exception"} else names


def _restricts(func: Func) -> bool:
    return _RESTRICTION.search(_prose(func)) is not None


def _prose(func: Func) -> str:
    """What the spec says of the function in words: the heading's parameter and return
    types describe too ("an integer above 10")."""
    return " ".join([func.description, func.returns or "", *(p.type for p in func.params)])


def _raised_names(code: str) -> set[str]:
    """The exception classes the code raises by name (`raise ValueError(...)`)."""
    tree = parse_or_none(code, mode="exec")
    if tree is None:
        return set()
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name):
            names.add(exc.id)
    return names


def is_bug(name: str, message: str) -> bool:
    """Whether an exception of this name and message is a programming error, not a refusal."""
    return name in PROGRAMMING_ERRORS or (name == "ValueError" and message == _MATH_DOMAIN)


def special_case(code: str, func: Func) -> str | None:
    """The first test in `code` of a parameter against an example's argument value, as
    "it special-cases 4, an argument of the examples: `4 < n`", or for a piece of a string
    argument, as "it looks for 'no-at', part of an argument of the examples:
    `address.startswith('no-at')`"; None when there is none."""
    found = next(special_values(code, func), None)
    if found is not None:
        return found.reason
    tree = parse_or_none(code, mode="exec")
    return None if tree is None else _table_of_examples(tree, func)


@dataclass(frozen=True)
class Special:
    """A constant of the code that is an example's argument or output (or part of one) and
    that the description does not mention: a sign the description would silence by saying
    it."""

    value: object
    shown: str  # the code that tests or returns it, as `age >= 18`
    reason: str


def special_values(code: str, func: Func) -> Iterator[Special]:
    """Every sign of `special_case` but the table of examples, in order: the signs that
    mentioning their value in the description takes away."""
    tree = parse_or_none(code, mode="exec")
    if tree is None:
        return
    values = _example_values(func)
    outputs = _example_outputs(func)
    strings = [v for v in values if isinstance(v, str)]
    prose = _prose(func)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or node.name != func.name:
            continue
        params = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
        for compare, value in _literal_comparisons(node, params):
            if value in values and not _mentioned(value, prose):
                shown = ast.unparse(compare)
                said = f"it special-cases {value!r}, an argument of the examples: `{shown}`"
                yield Special(value, shown, said)
        for test, piece in _substring_tests(node, params):
            if _mentioned(piece, prose) or _neutral(piece):
                continue
            shown = ast.unparse(test)
            if piece in values:
                said = f"it special-cases {piece!r}, an argument of the examples: `{shown}`"
                yield Special(piece, shown, said)
            elif len(piece) >= _MIN_PIECE and any(piece in s for s in strings):
                said = f"it looks for {piece!r}, part of an argument of the examples: `{shown}`"
                yield Special(piece, shown, said)
        for statement, value in _returned_constants(node, params):
            if value in outputs and not _mentioned(value, prose):
                shown = ast.unparse(statement)
                said = f"it returns {value!r}, an output of the examples, as is: `{shown}`"
                yield Special(value, shown, said)


# Entries of a table that are examples, at least, and at least this share of its entries: a
# table of the description's (day names, Roman numerals) holds more than the examples show.
_TABLE_ENTRIES = 2
_TABLE_SHARE = 0.5


def _table_of_examples(tree: ast.AST, func: Func) -> str | None:
    """The first dict literal anywhere in the code that maps examples' arguments to their
    outputs (`{(1, 2): 3, (10, -3): 7}`, or `{'ab': 2}` for one argument), as "it keeps
    the examples' answers in a table: `...`"; None when there is none."""
    pairs = _example_pairs(func)
    if len(pairs) < _TABLE_ENTRIES:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict) or len(node.keys) < _TABLE_ENTRIES:
            continue
        found = sum(
            key is not None and (_literal(key), _constant(value)) in pairs
            for key, value in zip(node.keys, node.values, strict=True)
        )
        if found >= _TABLE_ENTRIES and found >= _TABLE_SHARE * len(node.keys):
            shown = ast.unparse(node)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            return f"it keeps the examples' answers in a table: `{shown}`"
    return None


def _example_pairs(func: Func) -> set[tuple[object, object]]:
    """(arguments, output) of each example returning a scalar literal from literal
    arguments, the arguments as one value for one argument, else as a tuple; less base
    cases (every argument neutral: `fib(1) = 1` is an answer code may well seed a table
    with)."""
    pairs: set[tuple[object, object]] = set()
    for example in func.examples:
        if example.outcome != "returns" or example.func != func.name or not example.expected:
            continue
        arguments = _arguments(example.call)
        if not arguments or all(_neutral_argument(a) for a in arguments):
            continue
        values = tuple(_constant(a) for a in arguments)
        output = _constant(_parsed(example.expected))
        if output is None or any(v is None for v in values):
            continue
        pairs.add((values[0] if len(values) == 1 else values, output))
    return pairs


def _literal(node: ast.expr) -> object | None:
    """A scalar constant, or a tuple of them; None for anything else."""
    if isinstance(node, ast.Tuple):
        values = tuple(_constant(e) for e in node.elts)
        return None if any(v is None for v in values) else values
    return _constant(node)


def static_sign(code: str, func: Func) -> str | None:
    """The gate's signs that need no run: a special case of the examples, or a promise of
    the description the code cannot keep (`promises.unkept`)."""
    return special_case(code, func) or promises.unkept(code, func)


def _substring_tests(func: ast.FunctionDef, params: set[str]) -> Iterator[tuple[ast.expr, str]]:
    """Each search of a string of parameters alone for a string constant: `'x' in s`,
    `s.startswith('x')` (a tuple of prefixes too), `s.find('x')`, `s.count('x')`, ..."""
    for node in ast.walk(func):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for i, op in enumerate(node.ops):
                piece = _constant(operands[i])
                if isinstance(op, ast.In | ast.NotIn) and isinstance(piece, str):
                    if _of_params(operands[i + 1], params):
                        yield node, piece
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _SEARCHES
            and _of_params(node.func.value, params)
            and node.args
        ):
            first = node.args[0]
            pieces = first.elts if isinstance(first, ast.Tuple) else [first]
            for element in pieces:
                if isinstance(piece := _constant(element), str):
                    yield node, piece


def _literal_comparisons(
    func: ast.FunctionDef, params: set[str]
) -> Iterator[tuple[ast.Compare, object]]:
    """Each comparison of an expression of parameters alone (no constant in it, so
    `n % 2 == 0` is arithmetic, not a special case) with a constant."""
    for node in ast.walk(func):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if not isinstance(op, _COMPARISONS):
                continue
            for side, other in ((operands[i], operands[i + 1]), (operands[i + 1], operands[i])):
                value = _constant(side)
                if value is not None and _of_params(other, params):
                    yield node, value


def _returned_constants(
    func: ast.FunctionDef, params: set[str]
) -> Iterator[tuple[ast.Return, object]]:
    """Each `return` of a constant: a literal, or a local name only ever bound to one
    (`output = "100"` ... `return output`)."""
    bound: dict[str, set[object]] = {}  # each local name's values; None: not a constant
    direct: set[int] = set()  # the Name nodes an assignment binds to a constant
    for node in ast.walk(func):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            value = _constant(node.value)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and value is not None:
                    bound.setdefault(target.id, set()).add(value)
                    direct.add(id(target))
    for node in ast.walk(func):
        stored = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
        if stored and isinstance(node, ast.Name) and id(node) not in direct:
            bound.setdefault(node.id, set()).add(None)  # a loop variable, `+=`, unpacking
    for node in ast.walk(func):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        if isinstance(node.value, ast.Name) and node.value.id not in params:
            values = bound.get(node.value.id, {None})
            if len(values) == 1 and None not in values:
                yield node, next(iter(values))
        elif (value := _constant(node.value)) is not None:
            yield node, value


def _constant(node: ast.expr | None) -> object | None:
    """An int, float or str constant (a negative number too); None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant(node.operand)
        return -inner if isinstance(inner, int | float) else None
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        if isinstance(node.value, int | float | str):
            return node.value
    return None


def _of_params(node: ast.expr, params: set[str]) -> bool:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    has_constant = any(isinstance(n, ast.Constant) for n in ast.walk(node))
    return bool(names & params) and not has_constant


def _example_values(func: Func) -> set[object]:
    """The scalar literal arguments of the function's checkable examples, less the
    neutral ones (small numbers, empty and one-character strings)."""
    values: set[object] = set()
    for example in func.examples:
        if example.checkable and example.func == func.name:
            for arg in _arguments(example.call):
                value = _constant(arg)
                if value is not None and not _neutral(value):
                    values.add(value)
    return values


def _example_outputs(func: Func) -> set[object]:
    """The scalar literal outputs of the function's examples that return, less the neutral
    ones and those of base cases (examples whose arguments are all neutral: `words(0) =
    'zero'` is an answer code may well spell out)."""
    values: set[object] = set()
    for example in func.examples:
        if example.outcome != "returns" or example.func != func.name:
            continue
        arguments = _arguments(example.call)
        if all(_neutral_argument(a) for a in arguments):
            continue
        value = _constant(_parsed(example.expected)) if example.expected else None
        if value is not None and not _neutral(value):
            values.add(value)
    return values


def _arguments(call: str | None) -> list[ast.expr]:
    node = _parsed(call) if call else None
    if not isinstance(node, ast.Call):
        return []
    return [*node.args, *(k.value for k in node.keywords)]


def _parsed(text: str) -> ast.expr | None:
    tree = parse_or_none(text.strip())
    return tree.body if isinstance(tree, ast.Expression) else None


def _neutral_argument(node: ast.expr) -> bool:
    """A small number, a short string, True, False, None or an empty collection."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool)):
        return True
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return not node.elts
    if isinstance(node, ast.Dict):
        return not node.keys
    if isinstance(node, ast.Call):  # `set()`, `dict()`
        return not node.args and not node.keywords
    value = _constant(node)
    return value is not None and _neutral(value)


def _neutral(value: object) -> bool:
    if isinstance(value, str):
        return len(value) <= 1
    return isinstance(value, int | float) and abs(value) <= _NEUTRAL_NUMBER


def _mentioned(value: object, description: str) -> bool:
    if isinstance(value, str):
        return value in description
    text = repr(value)
    return re.search(rf"(?<![\w.]){re.escape(text)}(?![\w]|\.\d)", description) is not None
