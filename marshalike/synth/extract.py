"""From a model's answer to one function's code: find it, parse it, check it.

A chat answer holds the code in a fenced block (or, from a careless model, bare); a raw
completion is the body of a stub the prompt ended with. Either way the result is checked
with `ast` before anything runs it:
- it must define the declared function, not async, callable with the spec's arguments;
- its top level may only define things: imports, functions, classes, docstrings and
  assignments of constant values. Demo code that models like to append (`if __name__ ==
  "__main__":` blocks, top-level `print(...)` calls and asserts) is dropped, since it can
  define nothing the function needs; anything else that would run on import rejects the
  candidate;
- the code its definitions run on import (decorators, default values, annotations, class
  bodies) only builds values (`import_time`);
- it does not sense or tamper with the harness that tests it: the call stack, other
  loaded modules, processes, the environment (`tampering`);
- every module it imports must be importable here (stdlib, installed, or a sibling module).

These checks read the code, so code that builds what it runs at run time gets past them;
the sandbox and a verdict decided outside the candidate's process are the safety net.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import io
import re
import sys
import textwrap
import tokenize
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from marshalike.backends.base import PromptKind
from marshalike.language.naming import NOT_PYTHON, parse_or_none, quiet_syntax_warnings
from marshalike.language.spec import Func
from marshalike.synth import import_time, tampering, top_level

PYTHON_FENCES = ("", "python", "py", "python3", "py3")
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.-]*)[^\n]*$")
# A line that plausibly starts code in an answer without fences.
_CODE_START = re.compile(r"^(def |async def |class |import |from \S+ import |@)")


@dataclass(frozen=True)
class Extracted:
    """`code` is the normalised source of the kept top-level statements (empty when the
    answer held no parseable code); `problems` say why a candidate is rejected, in words
    fit for a repair prompt; `dropped` lists demo code that was removed."""

    ok: bool
    code: str
    problems: tuple[str, ...]
    dropped: tuple[str, ...] = ()


def extract(
    text: str,
    func: Func,
    *,
    prompt_kind: PromptKind,
    stub: str | None = None,
    known_names: Collection[str] = (),
    local_modules: Collection[str] = (),
) -> Extracted:
    """Extract and validate `func` from a model's answer.

    `stub` is the text a completion prompt ended with (the whole prompt will do): the code
    is its last `def NAME(` onwards plus the completion. `known_names` are names the module
    already defines (the spec's types, verified functions); redefinitions are dropped.
    `local_modules` are importable siblings (other generated modules).
    """
    sources = fenced_blocks(text)
    if prompt_kind == "completion":
        if stub is None:
            raise ValueError("a completion is extracted with the stub its prompt ended with")
        code = reassemble(stub, text, func.name)
        if code.strip() != _header(stub, func.name).strip():
            sources.insert(0, code)
        elif not sources:
            return _rejected("the completion is empty: no function body follows the stub")
    elif not sources:
        sources = [_bare_code(text)]
    sources = [s for s in sources if s.strip()]
    if not sources:
        return _rejected("the answer holds no Python code")
    return validate(_best(sources, func.name), func, known_names, local_modules)


def refusal(
    code: str, func: Func, known_names: Collection[str], local_modules: Collection[str]
) -> str | None:
    """Why code taken from a lock would not have been accepted from a model (`validate`):
    a problem, or a statement extraction would have dropped; None where it would pass."""
    checked = validate(code, func, known_names, local_modules=local_modules)
    problems = [*checked.problems, *(f"holds {d}" for d in checked.dropped)]
    return "; ".join(p.splitlines()[0] for p in problems) if problems else None


def _rejected(problem: str) -> Extracted:
    return Extracted(False, "", (problem,))


def fenced_blocks(text: str) -> list[str]:
    """The contents of ```python (or unlabelled) blocks, in order; an unclosed last block
    runs to the end (answers cut off by max_tokens or a stop string)."""
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        # ```like this``` on one line is inline code in prose, not a block.
        if not opening or opening["fence"] in lines[i].strip()[len(opening["fence"]) :]:
            i += 1
            continue
        fence = opening["fence"]
        end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence)), len(lines))
        if opening["lang"].lower() in PYTHON_FENCES:
            blocks.append(textwrap.dedent("\n".join(lines[i + 1 : end])) + "\n")
        i = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and stripped == stripped[0] * len(stripped)


def _bare_code(text: str) -> str:
    """An answer without fences: from the first line that starts code to the longest end
    (at a line back at column 0) that still parses, which leaves trailing prose out."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return ""
    ends = [i for i in range(start + 1, len(lines)) if lines[i][:1].strip()]
    for end in [len(lines), *reversed(ends)]:
        code = "\n".join(lines[start:end]) + "\n"
        if _parse(code) is not None:
            return code
    return "\n".join(lines[start:]) + "\n"


def reassemble(stub: str, completion: str, name: str) -> str:
    """The stub's `def NAME(...)` header and docstring, then the completion's body up to the
    first non-blank line back at column 0 (the model went on to other code)."""
    header = _header(stub, name)
    lines = (header + completion).splitlines()
    first = header.count("\n") + (0 if header.endswith("\n") else 1)
    end = next(
        (i for i in range(first, len(lines)) if lines[i].strip() and not lines[i][0].isspace()),
        len(lines),
    )
    return "\n".join(lines[:end]).rstrip() + "\n"


def _header(stub: str, name: str) -> str:
    lines = stub.splitlines(keepends=True)
    pattern = re.compile(rf"(async\s+)?def\s+{re.escape(name)}\s*\(")
    starts = [i for i, line in enumerate(lines) if pattern.match(line)]
    if not starts:
        raise ValueError(f"the completion stub does not define {name!r}")
    return "".join(lines[starts[-1] :])


def _best(sources: list[str], name: str) -> str:
    """The first source that parses and defines `name`, else the first that parses, else
    the first (whose syntax error is then reported)."""
    parsed = [(s, _parse(s)) for s in sources]
    for source, tree in parsed:
        if tree is not None and name in _defined(tree):
            return source
    return next((s for s, tree in parsed if tree is not None), sources[0])


def _parse(source: str) -> ast.Module | None:
    tree = parse_or_none(source, mode="exec")
    return tree if isinstance(tree, ast.Module) else None


def _defined(tree: ast.Module) -> list[str]:
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def validate(
    source: str,
    func: Func,
    known_names: Collection[str] = (),
    local_modules: Collection[str] = (),
) -> Extracted:
    """Check one piece of code against the declared function; keep what may stay."""
    with quiet_syntax_warnings():
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            return _rejected(f"syntax error on line {exc.lineno}: {exc.msg}")
        except NOT_PYTHON as exc:  # the rest: a null byte, deep nesting
            return _rejected(f"not Python: {exc or type(exc).__name__}")
    kept: list[ast.stmt] = []
    problems: list[str] = []
    dropped: list[str] = []
    for node in tree.body:
        verdict = top_level.verdict(node, set(known_names) - {func.name}, local_modules)
        if verdict is None:
            kept.append(node)
        elif verdict.startswith("dropped"):
            dropped.append(f"line {_first_line(node)}: {verdict}")
        else:
            problems.append(f"line {_first_line(node)}: {verdict}")
    kept = _last_definitions(kept, dropped)
    problems += _look_alike_names(source)
    problems += import_time.problems(kept)
    problems += tampering.problems(ast.Module(body=kept, type_ignores=[]))
    problems += _function_problems(kept, func)
    problems += _import_problems(kept, local_modules)
    code = _assemble(source, tree.body, kept)
    return Extracted(not problems, code, tuple(problems), tuple(dropped))


def _last_definitions(kept: list[ast.stmt], dropped: list[str]) -> list[ast.stmt]:
    """`kept` with only the last top-level definition of each name: Python keeps the last,
    and the module shows only the one that runs (an earlier `def f` above the real one
    would be read as the function)."""
    names = [n.name if isinstance(n, _DEFINITIONS) else None for n in kept]
    out: list[ast.stmt] = []
    for i, node in enumerate(kept):
        if names[i] is not None and names[i] in names[i + 1 :]:
            dropped.append(f"line {_first_line(node)}: dropped an earlier definition of "
                           f"'{names[i]}' (Python keeps the last one)")  # fmt: skip
            continue
        out.append(node)
    return out


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _look_alike_names(source: str) -> list[str]:
    """Names spelled with characters Python reads as others (`ｓquare` is `square`, NFKC):
    the module would show one name and run another."""
    problems = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.NAME:
                continue
            read = unicodedata.normalize("NFKC", token.string)
            if read != token.string:
                problems.append(
                    f"line {token.start[0]}: the name '{token.string}' is '{read}' to Python; "
                    f"write it as '{read}'"
                )
    except (tokenize.TokenError, SyntaxError):
        pass  # the parse above already said what is wrong
    return problems


def _function_problems(kept: list[ast.stmt], func: Func) -> list[str]:
    defs = [n for n in kept if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    # Python keeps the last definition of a name, so that is the one to check.
    target = next((d for d in reversed(defs) if d.name == func.name), None)
    if target is None:
        others = ", ".join(f"'{d.name}'" for d in defs)
        suffix = f" (it defines {others})" if others else ""
        return [f"the code does not define function '{func.name}'{suffix}"]
    if isinstance(target, ast.AsyncFunctionDef):
        return [f"'{func.name}' is async; the spec needs a plain function"]
    stub = _stub_problem(target, func)
    return _signature_problems(target, func) + ([stub] if stub else [])


def _stub_problem(node: ast.FunctionDef, func: Func) -> str | None:
    """Why the function is a stub where the spec wants a value back: its body, past the
    docstring, only passes, says `...`, raises NotImplementedError or returns None."""
    wants_value = func.returns is not None or any(
        e.outcome == "returns" and e.expected != "None" for e in func.examples
    )
    body = node.body
    if body and _is_docstring(body[0]):
        body = body[1:]
    if not wants_value or not all(_does_nothing(statement) for statement in body):
        return None
    return f"'{func.name}' is a stub (its body does nothing); the spec wants a value back"


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _does_nothing(node: ast.stmt) -> bool:
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant) and node.value.value in (Ellipsis, None)
    if isinstance(node, ast.Return):
        return node.value is None or (
            isinstance(node.value, ast.Constant) and node.value.value is None
        )
    if isinstance(node, ast.Raise) and node.exc is not None:
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
    return False


def _signature_problems(node: ast.FunctionDef, func: Func) -> list[str]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    declared = len(func.params)
    problems = []
    # The spec's parameters and no others: `*args` would take any call (and `f()` raise
    # IndexError inside), an extra one is an interface the spec does not have.
    if len(positional) != declared:
        takes = str(required) if required == len(positional) else f"{required} to {len(positional)}"
        problems.append(
            f"'{func.name}' takes {takes} parameter{'' if takes == '1' else 's'}; "
            f"the spec declares {declared}"
        )
    for star, what in ((args.vararg, "*"), (args.kwarg, "**")):
        if star is not None:
            problems.append(f"'{func.name}' takes {what}{star.arg}; the spec does not declare it")
    for arg in args.kwonlyargs:
        keyword = f"keyword-only parameter '{arg.arg}'"
        problems.append(f"'{func.name}' takes {keyword}; the spec does not declare it")
    named = [p.name for p in func.params[: len(args.posonlyargs)] if p.name is not None]
    if named:
        problems.append(
            f"'{func.name}' takes '{named[0]}' by position only; the spec names it, so a "
            "caller may pass it by name"
        )
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for index, (param, arg) in enumerate(zip(func.params, positional, strict=False), 1):
        if param.name is not None and param.name != arg.arg:
            problems.append(
                f"parameter {index} of '{func.name}' is named '{arg.arg}'; "
                f"the spec names it '{param.name}'"
            )
        default = defaults[index - 1]
        if param.default is not None and not _same_default(default, param.default):
            given = "none" if default is None else ast.unparse(default)
            problems.append(
                f"parameter {index} of '{func.name}' has the default {given}; "
                f"the spec gives it {param.default}"
            )
    return problems


def _same_default(node: ast.expr | None, declared: str) -> bool:
    """Whether the code's default is the one the spec declares: the same value where both
    are literals (`'Hello'` is `"Hello"`), else the same expression."""
    wanted = parse_or_none(declared, "eval")
    if not isinstance(wanted, ast.Expression):  # the parser has already said so
        return True
    if node is None:
        return False
    try:
        value, expected = ast.literal_eval(node), ast.literal_eval(wanted.body)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ast.dump(node) == ast.dump(wanted.body)
    return type(value) is type(expected) and value == expected


def _import_problems(kept: list[ast.stmt], local_modules: Collection[str]) -> list[str]:
    problems = []
    for node in (n for stmt in kept for n in ast.walk(stmt)):
        if isinstance(node, ast.ImportFrom) and node.level:
            problems.append(
                f"line {node.lineno}: relative imports cannot work in a generated module"
            )
            continue
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for top in dict.fromkeys(m.partition(".")[0] for m in modules):
            if top not in local_modules and not installed(top):
                problems.append(f"line {node.lineno}: module '{top}' is not installed")
    return problems


@functools.cache
def installed(module: str) -> bool:
    """Whether a top-level module can be imported here, without importing it."""
    if module in sys.stdlib_module_names or module == "__future__":
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _assemble(source: str, body: list[ast.stmt], kept: list[ast.stmt]) -> str:
    """The kept statements' own source lines (comments inside them survive), two blank
    lines around definitions as PEP 8 has it."""
    lines = source.splitlines()
    spans = [(_first_line(n), n.end_lineno or n.lineno) for n in body]
    parts: list[str] = []
    previous: ast.stmt | None = None
    for node in kept:
        start, end = _first_line(node), node.end_lineno or node.lineno
        shared = sum(1 for s, e in spans if s <= end and e >= start) > 1
        text = ast.unparse(node) if shared else "\n".join(lines[start - 1 : end])
        if previous is not None:
            parts.append("\n\n\n" if _is_definition(previous) or _is_definition(node) else "\n")
        parts.append(text)
        previous = node
    return "".join(parts) + "\n" if parts else ""


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _is_definition(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
