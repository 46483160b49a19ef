"""Checks of what a spec's examples call: functions and classes the spec neither declares
nor gets from a `# use`, and calls with the wrong number of arguments (codes M012-M019 of
`marshalike.language.codes`). `Scope` is what an example may call."""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from marshalike.language.codes import Code, report
from marshalike.language.diagnostics import Diagnostic, Span
from marshalike.language.examples import STRING_LITERAL
from marshalike.language.exceptions import BUILTIN_EXCEPTIONS
from marshalike.language.naming import field_names, parse_or_none
from marshalike.language.scopes import free_names, held_names
from marshalike.language.spec import Example, Func, Module, TypeDef

# Capitalised callables an example may use without declaring them: the standard library's
# value types that read naturally in examples, each with its module, which the generated
# tests and the verifier take it from. Anything ending in Error/Exception/Warning is also
# accepted (library exceptions), so Marsha's files give no false positives.
KNOWN_CLASSES = {
    **dict.fromkeys(("Decimal",), "decimal"),
    **dict.fromkeys(("Fraction",), "fractions"),
    **dict.fromkeys(("Path", "PurePath", "PosixPath", "WindowsPath"), "pathlib"),
    **dict.fromkeys(("OrderedDict", "Counter", "ChainMap"), "collections"),
    **dict.fromkeys(("UUID",), "uuid"),
    **dict.fromkeys(("IPv4Address", "IPv6Address", "IPv4Network", "IPv6Network"), "ipaddress"),
    **dict.fromkeys(("Enum", "IntEnum", "StrEnum", "Flag"), "enum"),
    **dict.fromkeys(("Pattern",), "re"),
    **dict.fromkeys(("StringIO", "BytesIO"), "io"),
}
# Suggestions cost a difflib scan of every declared name each; a spec with more distinct
# unknown names than this (seconds of scanning in a big generated spec) gets hints for the
# first ones only.
MAX_SUGGESTED_NAMES = 50
_BUILTIN_NAMES = frozenset(dir(builtins))
_BUILTIN_CALLABLES = frozenset(n for n, v in vars(builtins).items() if callable(v))
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt")
# A raised-exception example with one of these may be testing a wrong call on purpose
# (Marsha's `f() = throws an error`), so its argument count is not checked.
_ARITY_EXEMPT_EXCEPTIONS = frozenset({"Exception", "BaseException", "TypeError"})
_CAPITALISED_CALL = re.compile(r"(?<![\w.])([A-Z]\w*)\s*\(")
_NAMED_CALL = re.compile(r"(?<![\w.])([^\W\d]\w*)\s*\(")
# How an example writes the values whose names Python has in no builtin.
_SPELLED = {
    "inf": "write `Infinity` (or `float('inf')`)",
    "nan": "write `NaN` (or `float('nan')`)",
}
_WORD = re.compile(r"(?<![\w.])([^\W\d]\w*)(\s*\.)?")
_STRINGS = re.compile(STRING_LITERAL)
_FORMATTED = re.compile(r"(?<![\w.])(?:[fF][rR]?|[rR][fF])['\"]")


@dataclass(frozen=True)
class Scope:
    """What an example may call: this spec's functions and types, plus those of the specs it
    uses (this spec's own where both declare a name)."""

    path: str
    funcs: Mapping[str, tuple[Func, ...]]  # every declaration of a name, this spec's first
    types: frozenset[str]
    # each type's fields, as its dataclass has them (all required), where its columns are known
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # difflib is slow next to everything else here, and a misspelt name tends to repeat.
    _closest: dict[tuple[str, bool], str | None] = field(default_factory=dict)

    def closest(self, name: str, *, types_only: bool = False) -> str | None:
        """The declared name most like `name`, if one is close enough to suggest."""
        key = (name, types_only)
        if key not in self._closest and len(self._closest) >= MAX_SUGGESTED_NAMES:
            return None
        if key not in self._closest:
            names = self.types if types_only else self.types | self.funcs.keys()
            self._closest[key] = _closest_of(name, tuple(sorted(names)))
        return self._closest[key]


# Across checks too: an editor checks the same spec again at every change, each time with a
# new scope, and the names in it rarely change between two keystrokes.
@functools.lru_cache(maxsize=4096)
def _closest_of(name: str, names: tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(name, names, n=1)
    return close[0] if close else None


def unknown_calls(func: Func, scope: Scope) -> Iterator[Diagnostic]:
    # One diagnostic per unknown name and heading: a misnamed function is usually called by
    # every example under it, and repeating the same error for each adds nothing.
    unknown: dict[str, list[Example]] = {}
    for example in func.examples:
        name = example.func
        if name is not None and not _is_known_callable(name, scope):
            unknown.setdefault(name, []).append(example)
    for name, examples in unknown.items():
        first = examples[0]
        message = (
            f"example calls unknown function '{name}'"
            if len(examples) == 1
            else f"{len(examples)} examples call unknown function '{name}'"
        )
        span = first.call_span or first.span
        yield report(
            scope.path, Code.UNKNOWN_FUNCTION, message, span, _unknown_hint(name, func, scope)
        )


def _is_known_callable(name: str, scope: Scope) -> bool:
    return name in scope.funcs or name in scope.types or name in _BUILTIN_NAMES


def _unknown_hint(name: str, func: Func, scope: Scope) -> str | None:
    close = scope.closest(name)
    if close:
        return f"did you mean '{close}'?"
    if not any(example.func == func.name for example in func.examples):
        return f"did you mean '{func.name}', the function these examples are under?"
    return None


def _meant_to_fail(example: Example, error: str) -> bool:
    """Whether the example expects the error its wrong call would raise (or any error):
    it may test a wrong call on purpose (Marsha's `f() = throws an error`)."""
    return example.outcome == "raises" and example.exception in {*_ARITY_EXEMPT_EXCEPTIONS, error}


def check_arity(example: Example, under: Func, scope: Scope) -> Iterator[Diagnostic]:
    if example.func is None or example.arg_count is None or not example.checkable:
        return
    if _meant_to_fail(example, "TypeError"):
        return
    # With duplicates, name the declaration the example sits under when it is one of them.
    declarations = sorted(scope.funcs.get(example.func, ()), key=lambda f: f is not under)
    problems = [_arity_problem(f, example.arg_count, example.keywords) for f in declarations]
    # Duplicates are reported on their own; the call is wrong only if no declaration fits.
    if not problems or problems[0] is None or None in problems:
        return
    yield report(
        scope.path,
        Code.ARGUMENTS_MISMATCH,
        problems[0],
        example.call_span or example.span,
        f"declared as `{_heading(declarations[0])}`",
    )


def _arity_problem(func: Func, arg_count: int, keywords: tuple[str, ...]) -> str | None:
    names = [param.name for param in func.params]
    # Marsha's parameters are bare English types: their names (and any defaults the prose
    # mentions) are unknown, so only the upper bound can be checked for them.
    all_named = all(names)
    for word in keywords:
        if all_named and word not in names:
            return f"'{func.name}' has no parameter named '{word}'"
        if word in names[:arg_count]:
            return f"example passes '{word}' to '{func.name}' both by position and by keyword"
    passed = arg_count + len(keywords)
    if passed > len(names):
        return (
            f"example passes {counted(passed, 'argument')} to '{func.name}', "
            f"which takes {_takes(func)}"
        )
    missing = [
        param.name
        for param in func.params[arg_count:]
        if param.name and param.default is None and param.name not in keywords
    ]
    if missing:
        return f"example leaves out required parameter '{missing[0]}' of '{func.name}'"
    return None


def _takes(func: Func) -> str:
    most = len(func.params)
    least = sum(1 for param in func.params if param.name and param.default is None)
    if most == 0:
        return "no arguments"
    if least == most:
        return counted(most, "argument")
    if least == 0:
        return f"at most {counted(most, 'argument')}"
    return f"{least} to {most} arguments"


def _heading(func: Func) -> str:
    lines = func.text.strip().split("\n")
    return lines[0].strip() if lines else func.name


# --- constructors --------------------------------------------------------------------


def undeclared_constructors(example: Example, scope: Scope) -> Iterator[Diagnostic]:
    reported: set[str] = set()
    for source in (example.call, example.expected):
        if source is None or not _may_call_unknown_class(source, scope):
            continue
        for name in _capitalised_calls(source):
            if name in reported or _is_known_class(name, scope):
                continue
            reported.add(name)
            close = scope.closest(name, types_only=True)
            hint = (
                f"did you mean '{close}'?"
                if close
                else f"declare it with `# type {name}` and a CSV header line"
            )
            message = f"example constructs undeclared type '{name}'"
            yield report(scope.path, Code.UNDECLARED_TYPE, message, _locate(example, name), hint)


def _may_call_unknown_class(source: str, scope: Scope) -> bool:
    # A textual pre-pass: almost every example only constructs declared types, and this
    # costs a fraction of building and walking its syntax tree. It over-approximates (it
    # also sees `Name(` inside string literals), so the tree has the last word.
    return any(not _is_known_class(name, scope) for name in _CAPITALISED_CALL.findall(source))


def _capitalised_calls(source: str) -> list[str]:
    """Names of `Name(...)` calls in source order, for capitalised names only."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # not Python: the example is informal and already reported as such
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id[:1].isupper()
    ]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    return [node.func.id for node in calls if isinstance(node.func, ast.Name)]


def _is_known_class(name: str, scope: Scope) -> bool:
    return (
        name in scope.types
        or name in scope.funcs
        or name in _BUILTIN_NAMES
        or name in KNOWN_CLASSES
        or name.endswith(_EXCEPTION_SUFFIXES)
    )


def _code_of(text: str) -> str:
    """`text` with its string literals blanked, each character a space: a name is looked
    for where it is code, at the columns it has."""
    return _STRINGS.sub(lambda found: " " * len(found.group()), text)


def _locate(
    example: Example, name: str, nth: int = 0, *, called: bool = True, in_value: bool = False
) -> Span:
    """The span of the `nth` `name(` in the example's source text, or where not `called`,
    of the first `name` read (in its expected value, not called there, where `in_value`),
    on the example's first line only; else the whole example."""
    after = r"\s*\(" if called else r"(?!\w)(?!\s*\()" if in_value else r"(?!\w)"
    start = max(example.text.rfind(example.expected or ""), 0) if in_value else 0
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}{after}")
    found = pattern.finditer(_code_of(example.text), start)
    match = next((m for i, m in enumerate(found) if i == nth), None)
    before = example.text[: match.start()] if match is not None else ""
    if match is None or (not called and "\n" in before):
        return example.span
    line = example.span.line + before.count("\n")
    if "\n" in before:
        column = match.start() - before.rindex("\n")
    else:
        # The text starts after the bullet marker, where the called name's span starts.
        start = example.call_span.column if example.call_span else example.span.column
        column = start + match.start()
    return Span(line, column, line, column + len(name))


def constructor_arity(example: Example, scope: Scope) -> Iterator[Diagnostic]:
    """A declared type built with arguments its dataclass does not take (`Person(1)` for a
    type of two fields): its test could only fail with a TypeError."""
    if not example.checkable or not scope.fields or _meant_to_fail(example, "TypeError"):
        return
    source = _whole(example)
    if not any(name in scope.fields for name in _NAMED_CALL.findall(source)):
        return
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    seen: dict[str, int] = {}  # how many calls of each name come before, as the text has them
    for node in calls:
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        nth = seen[name] = seen.get(name, -1) + 1
        fields = scope.fields.get(name)
        unpacked = any(isinstance(a, ast.Starred) for a in node.args)
        if fields is None or unpacked or any(k.arg is None for k in node.keywords):
            continue
        words = [k.arg or "" for k in node.keywords]
        problem = _fields_problem(name, fields, len(node.args), words)
        if problem is not None:
            hint = f"`{name}` has the fields {', '.join(fields)}, each required"
            span = _locate(example, name, nth)
            yield report(scope.path, Code.ARGUMENTS_MISMATCH, problem, span, hint)
            return


def _whole(example: Example) -> str:
    """The example's call and expected value as one expression: a name the call binds
    (`:=`) is the value's to read too."""
    parts = [part for part in (example.call, example.expected) if part is not None]
    return ", ".join(f"({part.strip()})" for part in parts)


def _fields_problem(name: str, fields: tuple[str, ...], given: int, words: list[str]) -> str | None:
    for word in words:
        if word not in fields:
            return f"type '{name}' has no field named '{word}'"
        if word in fields[:given]:
            return f"example passes '{word}' to '{name}' both by position and by keyword"
    if given + len(words) != len(fields):
        passed = counted(given + len(words), "argument")
        return f"example passes {passed} to type '{name}', which takes {len(fields)}"
    return None


# --- calls inside an example -----------------------------------------------------------


def undeclared_calls(example: Example, scope: Scope) -> Iterator[Diagnostic]:
    """Calls of lowercase names nothing declares, in a checkable example's arguments or
    value (`oldest([persn('Jane', 50)])`): its test would only ever fail with a NameError.
    The called function itself is M012's, capitalised names M015's."""
    if not example.checkable:
        return
    reported: set[str] = set()
    for source in (example.call, example.expected):
        if source is None or not _may_call_unknown(source, scope):
            continue
        for name in _called_names(source):
            if name in reported or name == example.func or not _undeclared(name, scope):
                continue
            reported.add(name)
            close = scope.closest(name)
            hint = (
                f"did you mean '{close}'?"
                if close
                else f"declare it with `# func {name}(...)`, or `# use` the spec that does"
            )
            message = f"example calls undeclared function '{name}'"
            yield report(scope.path, Code.UNDECLARED_CALL, message, _locate(example, name), hint)


def undeclared_names(example: Example, scope: Scope) -> Iterator[Diagnostic]:
    """Names read, not called, that nothing declares, in a checkable example's arguments
    or value (`size(items) = 3`, `f(1) = inf`): its test would only ever fail with a
    NameError. Called names are M012's, M015's and M028's."""
    if not example.checkable or _meant_to_fail(example, "NameError"):
        return
    source = _whole(example)
    if not _may_read_unknown(source, scope):
        return
    reported: set[str] = set()
    _, read, bases = _expression_names(source)
    for name in read:
        # A module's own names (`__file__`) are the test file's too.
        dunder = name.startswith("__") and name.endswith("__")
        if name in reported or dunder:
            continue
        if _undeclared(name, scope):
            close = scope.closest(name)
            hint = f"did you mean '{close}'?" if close else _SPELLED.get(name, "write the value")
            message = f"example reads undeclared name '{name}'"
        elif name not in bases and _a_module(name, scope):
            # The test file imports it, and passes the module: a parameter's name, mostly.
            hint = "write the value itself; a module is named before a dot (`math.pi`)"
            message = f"example reads '{name}', a module of the standard library, as a value"
        else:
            continue
        reported.add(name)
        span = _locate(example, name, called=False)
        yield report(scope.path, Code.UNDECLARED_NAME, message, span, hint)


def functions_as_values(example: Example, scope: Scope) -> Iterator[Diagnostic]:
    """A function of the spec (or of a spec it uses) named in an example's expected value
    other than by calling it (`square(0) = square`): the compiler computes the value with
    that function's code, which it can only call. A built-in function or class, or a type
    of the spec, as the value or an item of it (`= len`, `= [int]`, `= Point`): the
    verifier compares values, and no answer is equal to one."""
    value = example.expected
    if not example.checkable or value is None:
        return
    words = {name for name, _ in _WORD.findall(_STRINGS.sub("", value))}
    found = (
        [n for n in _expression_names(value)[1] if n in scope.funcs]
        if words & scope.funcs.keys()
        else []
    )
    if words & (_BUILTIN_CALLABLES | scope.types):
        held = held_names(parse_or_none(value.strip()))
        found += [n for n in held if n in _BUILTIN_CALLABLES | scope.types]
    for name in dict.fromkeys(found):
        what = "function" if name in scope.funcs else "type" if name in scope.types else "built-in"
        message = f"expected value names {what} '{name}' without calling it"
        hint = f"write the value it should equal, or a call such as `{name}(...)`"
        if name in BUILTIN_EXCEPTIONS:
            hint = f"for an example that expects the error, write `raises {name}`"
        span = _locate(example, name, called=False, in_value=True)
        yield report(scope.path, Code.FUNCTION_AS_VALUE, message, span, hint)


def _a_module(name: str, scope: Scope) -> bool:
    """Whether `name` reads as a standard library module in an example."""
    declared = name in scope.funcs or name in scope.types or name in _BUILTIN_NAMES
    return not declared and name in sys.stdlib_module_names


def _may_read_unknown(source: str, scope: Scope) -> bool:
    # The textual pre-pass again: a word outside a string literal that is not known, or a
    # module's name no dot follows. An f-string's fields are code: the tree reads them.
    if _FORMATTED.search(source):
        return True
    words = _WORD.findall(_STRINGS.sub("", source))
    return any(_undeclared(w, scope) or (not dot and _a_module(w, scope)) for w, dot in words)


def _undeclared(name: str, scope: Scope) -> bool:
    return not (
        name[:1].isupper()
        or name in scope.funcs
        or name in scope.types
        or name in _BUILTIN_NAMES
        or name in sys.stdlib_module_names
        or name in KNOWN_CLASSES
    )


def _may_call_unknown(source: str, scope: Scope) -> bool:
    # The same textual pre-pass as for constructors: the tree is built only when a called
    # name is unknown, which almost no example has.
    return any(_undeclared(name, scope) for name in _NAMED_CALL.findall(source))


def _called_names(source: str) -> list[str]:
    """Names called as `name(...)` in source order, except where the expression binds them
    itself (a lambda's parameters, comprehension and `:=` targets)."""
    return _expression_names(source)[0]


def _expression_names(source: str) -> tuple[list[str], list[str], set[str]]:
    """Names called as `name(...)`, and names read otherwise, each in source order, except
    where the expression binds them itself (`scopes.free_names`: a lambda's parameters in
    its body, a comprehension's variables in it, `:=` targets); and the names read before a
    dot (`math` of `math.pi`)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [], [], set()
    free = sorted(free_names(tree), key=lambda node: (node.lineno, node.col_offset))
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    bases = {
        n.value.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
    }
    read = [n.id for n in free if id(n) not in called]
    return [n.id for n in free if id(n) in called], read, bases


def scope_of(
    module: Module, extra: Mapping[str, Func], used_types: Sequence[TypeDef] = ()
) -> Scope:
    """The scope of `module`'s examples, with `extra`, the used specs' functions, and
    `used_types`, their types: a name this spec declares too is this spec's."""
    funcs: dict[str, tuple[Func, ...]] = {}
    for func in module.funcs:
        funcs[func.name] = (*funcs.get(func.name, ()), func)
    for name, func in extra.items():
        funcs.setdefault(name, (func,))
    types = {t.name: t for t in used_types if t.name not in funcs}
    types.update((t.name, t) for t in module.types)
    fields = {t.name: tuple(field_names(t.columns)) for t in types.values() if t.columns}
    return Scope(module.path, funcs, frozenset(types), fields)


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
