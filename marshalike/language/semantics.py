"""Semantic checks over a parsed spec: what parses but cannot compile as written.

Every finding is a `Diagnostic`, collected rather than raised, so one run reports them all.
Its codes are M010-M029 of `marshalike.language.codes`, where each is listed with its
severity; docs/language.md explains each one with an example.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import keyword
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from marshalike.language.codes import Code
from marshalike.language.diagnostics import Diagnostic, Span, sort_key
from marshalike.language.examples import MAX_EXPRESSION_DEPTH, too_deep
from marshalike.language.gaps import listed, unpinned
from marshalike.language.spec import Example, Func, Module, Param, TypeDef

# Capitalised callables an example may use without declaring them: the standard library's
# value types that read naturally in examples. Anything ending in Error/Exception/Warning is
# also accepted (library exceptions), so Marsha's files give no false positives.
KNOWN_CLASSES = frozenset(
    "Decimal Fraction Path PurePath PosixPath WindowsPath OrderedDict Counter ChainMap UUID "
    "IPv4Address IPv6Address IPv4Network IPv6Network Enum IntEnum StrEnum Flag Pattern "
    "StringIO BytesIO".split()
)
# Suggestions cost a difflib scan of every declared name each; a spec with more distinct
# unknown names than this (seconds of scanning in a big generated spec) gets hints for the
# first ones only.
MAX_SUGGESTED_NAMES = 50
_BUILTIN_NAMES = frozenset(dir(builtins))
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt")
# A raised-exception example with one of these may be testing a wrong call on purpose
# (Marsha's `f() = throws an error`), so its argument count is not checked.
_ARITY_EXEMPT_EXCEPTIONS = frozenset({"Exception", "BaseException", "TypeError"})
_CAPITALISED_CALL = re.compile(r"(?<![\w.])([A-Z]\w*)\s*\(")
_NAMED_CALL = re.compile(r"(?<![\w.])([^\W\d]\w*)\s*\(")
# Fewer checkable examples than this leave most wrong code passing (with one example, two
# thirds of passing candidates were wrong in CodeT's measurements; with five, a quarter).
TRUSTED_EXAMPLES = 3
# Extra fields in a CSV row usually come from an unquoted comma inside a value.
_QUOTE_HINT = 'a value that contains a comma must be quoted, e.g. "Smith, Jane"'


@dataclass(frozen=True)
class _Scope:
    """What an example may call: this spec's functions and types, plus used specs'."""

    path: str
    funcs: Mapping[str, tuple[Func, ...]]  # every declaration of a name, this spec's first
    types: frozenset[str]
    # difflib is slow next to everything else here, and a misspelt name tends to repeat.
    _closest: dict[tuple[str, bool], str | None] = field(default_factory=dict)

    def closest(self, name: str, *, types_only: bool = False) -> str | None:
        """The declared name most like `name`, if one is close enough to suggest."""
        key = (name, types_only)
        if key not in self._closest and len(self._closest) >= MAX_SUGGESTED_NAMES:
            return None
        if key not in self._closest:
            names = self.types if types_only else self.types | self.funcs.keys()
            close = difflib.get_close_matches(name, sorted(names), n=1)
            self._closest[key] = close[0] if close else None
        return self._closest[key]


def check(module: Module, *, extra_functions: Mapping[str, Func] | None = None) -> list[Diagnostic]:
    """All semantic findings for `module`, sorted by position.

    `extra_functions` are functions of other specs (`# use`) that examples may call.
    """
    scope = _scope(module, extra_functions or {})
    found = [*_empty_spec(module), *_duplicates(module), *_keyword_names(module)]
    for typedef in module.types:
        found.extend(_check_type(typedef, module.path))
    for func in module.funcs:
        found.extend(_check_func(func, scope))
    return sorted(found, key=sort_key)


def _scope(module: Module, extra: Mapping[str, Func]) -> _Scope:
    funcs: dict[str, tuple[Func, ...]] = {}
    for func in module.funcs:
        funcs[func.name] = (*funcs.get(func.name, ()), func)
    for name, func in extra.items():
        funcs.setdefault(name, (func,))
    return _Scope(module.path, funcs, frozenset(t.name for t in module.types))


def _error(path: str, code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic("error", code, message, span, path, hint)


def _warning(path: str, code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic("warning", code, message, span, path, hint)


def _empty_spec(module: Module) -> Iterator[Diagnostic]:
    if not module.funcs and not module.types:
        yield _warning(
            module.path,
            Code.EMPTY_SPEC,
            "spec declares no functions or types",
            Span(1, 1, 1, 2),
            "start a section with `# func NAME(PARAMS): RETURN` or `# type NAME`",
        )


# --- duplicates ----------------------------------------------------------------------


def _duplicates(module: Module) -> Iterator[Diagnostic]:
    first_func: dict[str, Func] = {}
    for func in module.funcs:
        if func.name in first_func:
            line = first_func[func.name].name_span.line
            yield _error(
                module.path,
                Code.DUPLICATE_FUNCTION,
                f"duplicate function '{func.name}' (first declared on line {line})",
                func.name_span,
                "rename one of them or merge their examples",
            )
        else:
            first_func[func.name] = func
    first_type: dict[str, TypeDef] = {}
    for typedef in module.types:
        if typedef.name in first_type:
            line = first_type[typedef.name].name_span.line
            yield _error(
                module.path,
                Code.DUPLICATE_TYPE,
                f"duplicate type '{typedef.name}' (first declared on line {line})",
                typedef.name_span,
            )
        else:
            first_type[typedef.name] = typedef
    yield from _type_function_clashes(module.path, first_type, first_func)


def _keyword_names(module: Module) -> Iterator[Diagnostic]:
    # An example can't call `class(...)`: the name must be a Python identifier to be used.
    named = [("function", f.name, f.name_span) for f in module.funcs]
    named += [("type", t.name, t.name_span) for t in module.types]
    for kind, name, span in named:
        if keyword.iskeyword(name):
            message = f"{kind} name '{name}' is a Python keyword"
            yield _error(module.path, Code.KEYWORD_NAME, message, span, "choose another name")


def _type_function_clashes(
    path: str, types: Mapping[str, TypeDef], funcs: Mapping[str, Func]
) -> Iterator[Diagnostic]:
    # Both become module-level names in the generated Python; the later one would win.
    for name in sorted(types.keys() & funcs.keys()):
        typedef, func = types[name], funcs[name]
        later, earlier = (
            (func.name_span, typedef.name_span)
            if func.name_span > typedef.name_span
            else (typedef.name_span, func.name_span)
        )
        yield _error(
            path,
            Code.TYPE_AND_FUNCTION,
            f"'{name}' is declared as both a type and a function (other one on line "
            f"{earlier.line})",
            later,
        )


# --- types ---------------------------------------------------------------------------


def _check_type(typedef: TypeDef, path: str) -> Iterator[Diagnostic]:
    # A type without columns is a syntax error (the parser's M009), or `load`'s for a file.
    yield from _duplicate_columns(typedef, path)
    if typedef.source is None:  # `load` reports a file's ragged rows with the file's lines
        yield from _ragged_rows(typedef, path)


def _duplicate_columns(typedef: TypeDef, path: str) -> Iterator[Diagnostic]:
    seen: set[str] = set()
    for column in typedef.columns:
        if column in seen:
            message = f"type '{typedef.name}' has the column '{column}' twice"
            # A file's header is not in the spec, so point at the heading that names it.
            if typedef.source is not None:
                message += f" (header of {typedef.source})"
            span = typedef.name_span if typedef.source else _header_span(typedef)
            yield _error(path, Code.DUPLICATE_COLUMN, message, span)
        seen.add(column)


def _ragged_rows(typedef: TypeDef, path: str) -> Iterator[Diagnostic]:
    width = len(typedef.columns)
    for index, row in enumerate(typedef.rows):
        if len(row) == width:
            continue
        span = typedef.row_spans[index] if index < len(typedef.row_spans) else typedef.span
        yield _error(
            path,
            Code.RAGGED_ROW,
            f"row has {_count(len(row), 'field')} but the header of '{typedef.name}' has "
            f"{_count(width, 'column')} ({', '.join(typedef.columns)})",
            span,
            _QUOTE_HINT if len(row) > width else None,
        )


def _header_span(typedef: TypeDef) -> Span:
    # The header's span is not stored: it is the first non-blank line after the heading.
    lines = typedef.text.splitlines()
    offset = next((i for i, text in enumerate(lines) if i and text.strip()), 0)
    line = typedef.span.line + offset
    return Span(line, 1, line, max(len(lines[offset]) if lines else 0, 1) + 1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- functions -----------------------------------------------------------------------


def _check_func(func: Func, scope: _Scope) -> Iterator[Diagnostic]:
    yield from _check_params(func, scope.path)
    yield from _check_description(func, scope.path)
    yield from _check_example_presence(func, scope.path)
    yield from _check_example_count(func, scope)
    yield from _unknown_calls(func, scope)
    for example in func.examples:
        yield from _check_example(example, func, scope)


def _check_params(func: Func, path: str) -> Iterator[Diagnostic]:
    # Each of these would make the generated `def` a SyntaxError.
    seen: dict[str, Param] = {}
    defaulted: Param | None = None
    for param in func.params:
        if param.name is None:
            continue
        if param.name in seen:
            message = f"'{func.name}' has two parameters named '{param.name}'"
            yield _error(path, Code.DUPLICATE_PARAMETER, message, param.span)
        elif keyword.iskeyword(param.name):
            message = f"parameter name '{param.name}' is a Python keyword"
            yield _error(path, Code.KEYWORD_NAME, message, param.span, "choose another name")
        if param.default is not None:
            defaulted = defaulted or param
        elif defaulted is not None:
            message = (
                f"parameter '{param.name}' has no default but follows '{defaulted.name}', "
                "which has one"
            )
            hint = f"give '{param.name}' a default, or move it before '{defaulted.name}'"
            yield _error(path, Code.DEFAULT_ORDER, message, param.span, hint)
        seen.setdefault(param.name, param)


def _check_description(func: Func, path: str) -> Iterator[Diagnostic]:
    if not func.description.strip():
        yield _error(
            path,
            Code.NO_DESCRIPTION,
            f"function '{func.name}' has no description",
            func.name_span,
            "write a paragraph under the heading that says what the function does",
        )


def _check_example_presence(func: Func, path: str) -> Iterator[Diagnostic]:
    if not func.examples:
        yield _warning(
            path,
            Code.NO_EXAMPLES,
            f"function '{func.name}' has no examples, so nothing will test its code",
            func.name_span,
            f"add examples such as `* {func.name}(...) = ...`",
        )
    elif not any(example.checkable for example in func.examples):
        yield _warning(
            path,
            Code.ONLY_INFORMAL_EXAMPLES,
            f"function '{func.name}' has only informal examples, so nothing will test its code",
            func.name_span,
        )


def _check_example_count(func: Func, scope: _Scope) -> Iterator[Diagnostic]:
    count = sum(example.checkable for example in func.examples)
    if not 0 < count < TRUSTED_EXAMPLES:  # none at all is M021's or M023's to report
        return
    gaps = unpinned(func, set(scope.types))
    message = (
        f"function '{func.name}' has only {_count(count, 'checkable example')}, too few to "
        f"trust the code that passes them{': ' + listed(gaps) if gaps else ''}"
    )
    hint = f"add examples until {TRUSTED_EXAMPLES} or more are checkable"
    hint += ", covering these cases" if gaps else ""
    yield _warning(scope.path, Code.FEW_EXAMPLES, message, func.name_span, hint)


def _check_example(example: Example, func: Func, scope: _Scope) -> Iterator[Diagnostic]:
    if not example.checkable and _too_deep(example):
        yield _error(
            scope.path,
            Code.EXAMPLE_TOO_DEEP,
            f"example nests more than {MAX_EXPRESSION_DEPTH} levels deep",
            example.span,
            "split it into smaller examples",
        )
        return
    if not example.checkable:
        yield _warning(
            scope.path,
            Code.INFORMAL_EXAMPLE,
            "example is not checkable, shown to the model only",
            example.span,
            "write it as `CALL = VALUE`, `CALL = throws an error` or `CALL raises ValueError`",
        )
    yield from _check_arity(example, func, scope)
    yield from _undeclared_constructors(example, scope)
    yield from _undeclared_calls(example, scope)


def _too_deep(example: Example) -> bool:
    parts = [p for p in (example.call, example.expected) if p is not None]
    return any(too_deep(part) for part in parts or [example.text])


# --- calls ---------------------------------------------------------------------------


def _unknown_calls(func: Func, scope: _Scope) -> Iterator[Diagnostic]:
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
        yield _error(
            scope.path, Code.UNKNOWN_FUNCTION, message, span, _unknown_hint(name, func, scope)
        )


def _is_known_callable(name: str, scope: _Scope) -> bool:
    return name in scope.funcs or name in scope.types or name in _BUILTIN_NAMES


def _unknown_hint(name: str, func: Func, scope: _Scope) -> str | None:
    close = scope.closest(name)
    if close:
        return f"did you mean '{close}'?"
    if not any(example.func == func.name for example in func.examples):
        return f"did you mean '{func.name}', the function these examples are under?"
    return None


def _check_arity(example: Example, under: Func, scope: _Scope) -> Iterator[Diagnostic]:
    if example.func is None or example.arg_count is None or not example.checkable:
        return
    if example.outcome == "raises" and example.exception in _ARITY_EXEMPT_EXCEPTIONS:
        return
    # With duplicates, name the declaration the example sits under when it is one of them.
    declarations = sorted(scope.funcs.get(example.func, ()), key=lambda f: f is not under)
    problems = [_arity_problem(f, example.arg_count, example.keywords) for f in declarations]
    # Duplicates are reported on their own; the call is wrong only if no declaration fits.
    if not problems or problems[0] is None or None in problems:
        return
    yield _error(
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
            f"example passes {_count(passed, 'argument')} to '{func.name}', "
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
        return _count(most, "argument")
    if least == 0:
        return f"at most {_count(most, 'argument')}"
    return f"{least} to {most} arguments"


def _heading(func: Func) -> str:
    lines = func.text.strip().splitlines()
    return lines[0].strip() if lines else func.name


# --- constructors --------------------------------------------------------------------


def _undeclared_constructors(example: Example, scope: _Scope) -> Iterator[Diagnostic]:
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
            yield _error(
                scope.path,
                Code.UNDECLARED_TYPE,
                f"example constructs undeclared type '{name}'",
                _locate(example, name),
                hint,
            )


def _may_call_unknown_class(source: str, scope: _Scope) -> bool:
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


def _is_known_class(name: str, scope: _Scope) -> bool:
    return (
        name in scope.types
        or name in scope.funcs
        or name in _BUILTIN_NAMES
        or name in KNOWN_CLASSES
        or name.endswith(_EXCEPTION_SUFFIXES)
    )


def _locate(example: Example, name: str) -> Span:
    """The span of `name(` in the example's source text, or the whole example."""
    match = re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", example.text)
    if match is None:
        return example.span
    before = example.text[: match.start()]
    line = example.span.line + before.count("\n")
    if "\n" in before:
        column = match.start() - before.rindex("\n")
    else:
        # The text starts after the bullet marker, where the called name's span starts.
        start = example.call_span.column if example.call_span else example.span.column
        column = start + match.start()
    return Span(line, column, line, column + len(name))


# --- calls inside an example -----------------------------------------------------------


def _undeclared_calls(example: Example, scope: _Scope) -> Iterator[Diagnostic]:
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
            yield _error(scope.path, Code.UNDECLARED_CALL, message, _locate(example, name), hint)


def _undeclared(name: str, scope: _Scope) -> bool:
    return not (
        name[:1].isupper()
        or name in scope.funcs
        or name in scope.types
        or name in _BUILTIN_NAMES
        or name in sys.stdlib_module_names
        or name in KNOWN_CLASSES
    )


def _may_call_unknown(source: str, scope: _Scope) -> bool:
    # The same textual pre-pass as for constructors: the tree is built only when a called
    # name is unknown, which almost no example has.
    return any(_undeclared(name, scope) for name in _NAMED_CALL.findall(source))


def _called_names(source: str) -> list[str]:
    """Names called as `name(...)` in source order, except names the expression binds
    itself (a lambda's parameters, comprehension and `:=` targets)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    nodes = list(ast.walk(tree))
    bound = {arg.arg for node in nodes if isinstance(node, ast.arguments) for arg in _args(node)}
    bound |= {
        name.id
        for node in nodes
        if isinstance(node, ast.comprehension | ast.NamedExpr)
        for name in ast.walk(node.target)
        if isinstance(name, ast.Name)
    }
    calls = [n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    names = [node.func.id for node in calls if isinstance(node.func, ast.Name)]
    return [name for name in names if name not in bound]


def _args(node: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (node.vararg, node.kwarg) if a is not None]
    return [*node.posonlyargs, *node.args, *node.kwonlyargs, *extra]
