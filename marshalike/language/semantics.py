"""Semantic checks over a parsed spec: what parses but cannot compile as written.

Every finding is a `Diagnostic` (with the severity its code has in the registry), collected
rather than raised, so one run reports them all. What examples call is checked in `calls`.
Its codes are M010-M029 and M050-M069 of `marshalike.language.codes`, where each is listed
with its severity; docs/language.md explains each one with an example.
"""

from __future__ import annotations

import builtins
import difflib
import keyword
from collections.abc import Iterator, Mapping, Sequence

from marshalike.language.calls import (
    Scope,
    check_arity,
    constructor_arity,
    counted,
    functions_as_values,
    scope_of,
    undeclared_calls,
    undeclared_constructors,
    undeclared_names,
    unknown_calls,
)
from marshalike.language.codes import Code, report
from marshalike.language.diagnostics import Diagnostic, Span, sort_key
from marshalike.language.examples import MAX_EXPRESSION_DEPTH, too_deep
from marshalike.language.exceptions import BUILTIN_EXCEPTIONS, standard_problem
from marshalike.language.gaps import listed, unpinned
from marshalike.language.reserved import declared_name_problem
from marshalike.language.spec import Example, Func, Module, Param, TypeDef, Use

# Fewer checkable examples than this leave most wrong code passing (with one example, two
# thirds of passing candidates were wrong in CodeT's measurements; with five, a quarter).
TRUSTED_EXAMPLES = 3
# Extra fields in a CSV row usually come from an unquoted comma inside a value.
_QUOTE_HINT = 'a value that contains a comma must be quoted, e.g. "Smith, Jane"'
# How alike a raised name must be to a built-in exception's to be read as a misspelling of
# it: `ValueErorr` (0.9) is, a spec's own `AgeError` (0.75 to `KeyError`) is not.
_MISSPELT_CUTOFF = 0.85
_NAME_AN_EXCEPTION = "name the exception the call raises, such as `ValueError`"


def check(
    module: Module,
    *,
    extra_functions: Mapping[str, Func] | None = None,
    used_types: Sequence[tuple[Use, TypeDef]] = (),
) -> list[Diagnostic]:
    """All semantic findings for `module`, sorted by position.

    `extra_functions` are functions of other specs (`# use`) that examples may call;
    `used_types`, the types those specs declare, each with the `# use` line of its spec,
    in the order of those lines: examples may build them too.
    """
    first: dict[str, tuple[Use, TypeDef]] = {}
    for use, typedef in used_types:
        first.setdefault(typedef.name, (use, typedef))
    scope = scope_of(module, extra_functions or {}, [t for _, t in first.values()])
    found = [*_empty_spec(module), *_duplicates(module), *_keyword_names(module)]
    found.extend(_used_type_clashes(module, used_types, extra_functions or {}))
    found.extend(_reserved_names(module))
    for typedef in module.types:
        found.extend(_check_type(typedef, module.path))
    for func in module.funcs:
        found.extend(_check_func(func, scope))
    return sorted(found, key=sort_key)


def _empty_spec(module: Module) -> Iterator[Diagnostic]:
    if not module.funcs and not module.types:
        yield report(
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
            yield report(
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
            yield report(
                module.path,
                Code.DUPLICATE_TYPE,
                f"duplicate type '{typedef.name}' (first declared on line {line})",
                typedef.name_span,
            )
        else:
            first_type[typedef.name] = typedef
    yield from _type_function_clashes(module.path, first_type, first_func)


def _used_type_clashes(
    module: Module, used_types: Sequence[tuple[Use, TypeDef]], functions: Mapping[str, Func]
) -> Iterator[Diagnostic]:
    """A type name two specs declare, this one and a used one or two used ones: an example
    builds one class by it, this spec's own, else the first `# use`'s, and a value of the
    other is never equal to it. A used type named like a function of this spec or of a
    used one (`functions`): an example calls the function by that name."""
    own = {t.name for t in module.types}
    first: dict[str, Use] = {}
    for use, typedef in used_types:
        name = typedef.name
        if name not in own and (name in functions or module.func(name) is not None):
            message = f"type '{name}' of used spec '{use.path}' is a function's name too"
            hint = f"examples call the function '{name}', never build the type: rename one"
            yield report(module.path, Code.USED_TYPE_CLASH, message, use.span, hint)
        elif name in own:
            span = next(t.name_span for t in module.types if t.name == name)
            message = f"type '{name}' is declared by used spec '{use.path}' too"
            hint = f"examples build this spec's own '{name}', never the used spec's: rename one"
            yield report(module.path, Code.USED_TYPE_CLASH, message, span, hint)
        elif name in first and first[name] != use:
            earlier = first[name].path
            message = f"used specs '{earlier}' and '{use.path}' both declare type '{name}'"
            hint = f"examples build the one of '{earlier}', the first `# use`: rename one"
            yield report(module.path, Code.USED_TYPE_CLASH, message, use.span, hint)
        first.setdefault(name, use)


def _keyword_names(module: Module) -> Iterator[Diagnostic]:
    # An example can't call `class(...)`: the name must be a Python identifier to be used.
    named = [("function", f.name, f.name_span) for f in module.funcs]
    named += [("type", t.name, t.name_span) for t in module.types]
    for kind, name, span in named:
        if keyword.iskeyword(name):
            message = f"{kind} name '{name}' is a Python keyword"
            yield report(module.path, Code.KEYWORD_NAME, message, span, "choose another name")


def _reserved_names(module: Module) -> Iterator[Diagnostic]:
    # Names the generated module exports and its test file imports (`reserved`).
    named = [("function", f.name, f.name_span) for f in module.funcs]
    named += [("type", t.name, t.name_span) for t in module.types]
    for kind, name, span in named:
        problem = declared_name_problem(kind, name)
        if problem is not None:
            yield report(module.path, Code.RESERVED_NAME, problem[0], span, problem[1])


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
        yield report(
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
            yield report(path, Code.DUPLICATE_COLUMN, message, span)
        seen.add(column)


def _ragged_rows(typedef: TypeDef, path: str) -> Iterator[Diagnostic]:
    width = len(typedef.columns)
    for index, row in enumerate(typedef.rows):
        if len(row) == width:
            continue
        span = typedef.row_spans[index] if index < len(typedef.row_spans) else typedef.span
        yield report(
            path,
            Code.RAGGED_ROW,
            f"row has {counted(len(row), 'field')} but the header of '{typedef.name}' has "
            f"{counted(width, 'column')} ({', '.join(typedef.columns)})",
            span,
            _QUOTE_HINT if len(row) > width else None,
        )


def _header_span(typedef: TypeDef) -> Span:
    # The header's span is not stored: it is the first non-blank line after the heading.
    lines = typedef.text.split("\n")
    offset = next((i for i, text in enumerate(lines) if i and text.strip()), 0)
    line = typedef.span.line + offset
    return Span(line, 1, line, max(len(lines[offset]) if lines else 0, 1) + 1)


# --- functions -----------------------------------------------------------------------


def _check_func(func: Func, scope: Scope) -> Iterator[Diagnostic]:
    yield from _check_params(func, scope.path)
    yield from _check_description(func, scope.path)
    yield from _check_example_presence(func, scope.path)
    yield from _check_example_count(func, scope)
    yield from unknown_calls(func, scope)
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
            yield report(path, Code.DUPLICATE_PARAMETER, message, param.span)
        elif keyword.iskeyword(param.name):
            message = f"parameter name '{param.name}' is a Python keyword"
            yield report(path, Code.KEYWORD_NAME, message, param.span, "choose another name")
        if param.default is not None:
            defaulted = defaulted or param
        elif defaulted is not None:
            message = (
                f"parameter '{param.name}' has no default but follows '{defaulted.name}', "
                "which has one"
            )
            hint = f"give '{param.name}' a default, or move it before '{defaulted.name}'"
            yield report(path, Code.DEFAULT_ORDER, message, param.span, hint)
        seen.setdefault(param.name, param)


def _check_description(func: Func, path: str) -> Iterator[Diagnostic]:
    if not func.description.strip():
        yield report(
            path,
            Code.NO_DESCRIPTION,
            f"function '{func.name}' has no description",
            func.name_span,
            "write a paragraph under the heading that says what the function does",
        )


def _check_example_presence(func: Func, path: str) -> Iterator[Diagnostic]:
    if not func.examples:
        yield report(
            path,
            Code.NO_EXAMPLES,
            f"function '{func.name}' has no examples, so nothing will test its code",
            func.name_span,
            f"add examples such as `* {func.name}(...) = ...`",
        )
    elif not any(example.checkable for example in func.examples):
        yield report(
            path,
            Code.ONLY_INFORMAL_EXAMPLES,
            f"function '{func.name}' has only informal examples, so nothing will test its code",
            func.name_span,
        )


def _check_example_count(func: Func, scope: Scope) -> Iterator[Diagnostic]:
    count = sum(example.checkable for example in func.examples)
    if not 0 < count < TRUSTED_EXAMPLES:  # none at all is M021's or M023's to report
        return
    gaps = unpinned(func, set(scope.types))
    message = (
        f"function '{func.name}' has only {counted(count, 'checkable example')}, too few to "
        f"trust the code that passes them{': ' + listed(gaps) if gaps else ''}"
    )
    hint = f"add examples until {TRUSTED_EXAMPLES} or more are checkable"
    hint += ", covering these cases" if gaps else ""
    yield report(scope.path, Code.FEW_EXAMPLES, message, func.name_span, hint)


def _check_example(example: Example, func: Func, scope: Scope) -> Iterator[Diagnostic]:
    if not example.checkable and _too_deep(example):
        yield report(
            scope.path,
            Code.EXAMPLE_TOO_DEEP,
            f"example nests more than {MAX_EXPRESSION_DEPTH} levels deep",
            example.span,
            "split it into smaller examples",
        )
        return
    if not example.checkable:
        yield report(
            scope.path,
            Code.INFORMAL_EXAMPLE,
            "example is not checkable, shown to the model only",
            example.span,
            "write it as `CALL = VALUE`, `CALL = throws an error` or `CALL raises ValueError`",
        )
    yield from _misspelt_exception(example, scope)
    yield from check_arity(example, func, scope)
    yield from undeclared_constructors(example, scope)
    yield from constructor_arity(example, scope)
    yield from undeclared_calls(example, scope)
    yield from undeclared_names(example, scope)
    yield from functions_as_values(example, scope)


def _misspelt_exception(example: Example, scope: Scope) -> Iterator[Diagnostic]:
    """A raised name that is no built-in exception but is spelt like one: the test of it
    accepts only an error of a class called so, which no code means to raise (a spec may
    name its own, `raises AgeError`, for that). A dotted standard library name that is no
    exception class: no code could pass. A name that Python or the spec gives to something
    else (`None`, a type of the spec's)."""
    name = example.exception
    if example.outcome != "raises" or not name or name in BUILTIN_EXCEPTIONS:
        return
    path = scope.path
    if (what := _named_other(name, scope)) is not None:
        message = f"'{name}' is {what}, not an exception"
        span = _exception_span(example, name)
        yield report(path, Code.NOT_AN_EXCEPTION, message, span, _NAME_AN_EXCEPTION)
        return
    if "." in name:
        if (problem := standard_problem(name)) is not None:
            message, hint = problem
            span = _exception_span(example, name)
            yield report(path, Code.NO_SUCH_EXCEPTION, message, span, hint)
        return
    close = difflib.get_close_matches(name, BUILTIN_EXCEPTIONS, n=1, cutoff=_MISSPELT_CUTOFF)
    if not close:
        return
    yield report(
        path,
        Code.MISSPELT_EXCEPTION,
        f"'{name}' is not a built-in exception, so the test of this example accepts only an "
        f"error of a class called '{name}'",
        _exception_span(example, name),
        f"did you mean '{close[0]}'?",
    )


def _named_other(name: str, scope: Scope) -> str | None:
    """What `name` names other than an exception class: a function or type of the spec
    (or of one it uses), or a built-in value; None for any other name."""
    if name in scope.funcs:
        return "a function of the spec"
    if name in scope.types:
        return "a type of the spec"
    return "a built-in value" if hasattr(builtins, name) else None


def _exception_span(example: Example, name: str) -> Span:
    """Where the exception's name stands in the bullet (the bullet where it is not found)."""
    at = example.text.rfind(name)
    if at < 0 or example.call_span is None:
        return example.span
    column = example.call_span.column + at
    return Span(example.span.line, column, example.span.line, column + len(name))


def _too_deep(example: Example) -> bool:
    parts = [p for p in (example.call, example.expected) if p is not None]
    return any(too_deep(part) for part in parts or [example.text])
