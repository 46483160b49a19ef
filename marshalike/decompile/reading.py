"""What a Python module holds, read without running it: its top-level functions (signature
as type phrases, docstring, doctests, where its text is), the dataclasses and NamedTuples
their signatures name, and the reasons some of it cannot be a spec.

A function cannot be a spec when what it returns is not the whole of what it does, or not
the same on every call: it reads or writes files, the console, the network or other
processes (`open`, `print`, `input`, `os`, `socket`, `subprocess`, `requests`, ...), or
depends on the clock or on chance (`time`, `random`, `datetime.now`), itself or through the
module's other functions it calls. Generators, coroutines, functions taking `*args` or
`**kwargs`, methods of classes and functions whose names a spec cannot declare (private
ones, `_helper`; ones pytest would collect, `test_x`: `language.reserved`) are refused
too. What this reading cannot see (a dependence on chance through another module, say)
running the function twice does (`examples`).
"""

from __future__ import annotations

import ast
import doctest
import functools
import io
import re
import tokenize
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from marshalike.decompile.phrases import Phrase, canonical, phrase_of
from marshalike.language.reserved import declared_name_problem

# Module -> what using it means; "*" is any use, else the attributes that count.
_EFFECTS: dict[str, tuple[str, frozenset[str]]] = {
    "os": ("does I/O", frozenset("*")),
    "io": ("does I/O", frozenset("*")),
    "shutil": ("does I/O", frozenset("*")),
    "socket": ("does I/O", frozenset("*")),
    "subprocess": ("does I/O", frozenset("*")),
    "requests": ("does I/O", frozenset("*")),
    "urllib": ("does I/O", frozenset("*")),
    "http": ("does I/O", frozenset("*")),
    "sqlite3": ("does I/O", frozenset("*")),
    "glob": ("does I/O", frozenset("*")),
    "sys": ("does I/O", frozenset({"stdin", "stdout", "stderr", "argv", "exit"})),
    "time": ("depends on the time", frozenset("*")),
    "random": ("depends on randomness", frozenset("*")),
    "secrets": ("depends on randomness", frozenset("*")),
    "uuid": ("depends on randomness", frozenset({"uuid1", "uuid4"})),
    "datetime": ("depends on the time", frozenset({"now", "today", "utcnow"})),
}
_IO_BUILTINS = frozenset({"open", "print", "input", "breakpoint"})


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str | None  # canonical (`phrases.canonical`); None: none, or unknown
    phrase: Phrase
    default: str | None  # Python source of the default
    keyword_only: bool
    annotated: bool  # the source gives an annotation (known or not)


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]
    returns: str | None  # canonical return annotation
    returns_phrase: Phrase | None  # None: the source gives no return annotation
    docstring: str
    doctests: tuple[str, ...]  # the source of each `>>>` example
    signature: str  # `def f(x: int) -> int` as written
    source: str  # the whole definition, decorators included
    first_line: int  # 1-based, of the first decorator or the `def`
    last_line: int
    refused: str  # why it cannot be a spec; "" when it can
    # The module's constants it reads (`ADULT_AGE = 18`): name, and the literal's source.
    constants: tuple[tuple[str, str], ...] = ()

    def with_constants(self) -> str:
        """The definition with each module constant it reads written as its value (`age >=
        18` for `age >= ADULT_AGE`), to read what it compares with; its own source where
        it reads none. Made once per function: each reader of each parameter reads it."""
        return self._inlined

    def tree_with_constants(self) -> ast.Module:
        """`with_constants()` parsed, once per function: its readers walk it, none changes
        it. SyntaxError where it does not parse."""
        return self._inlined_tree

    @functools.cached_property
    def _inlined(self) -> str:
        if not self.constants:
            return self.source
        return ast.unparse(_Inline(dict(self.constants)).visit(ast.parse(self.source)))

    @functools.cached_property
    def _inlined_tree(self) -> ast.Module:
        return ast.parse(self._inlined)


class _Inline(ast.NodeTransformer):
    """Each name of `values` read in the tree written as its value's source."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.values and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.parse(self.values[node.id], mode="eval").body, node)
        return node


@dataclass(frozen=True)
class Record:
    """A dataclass or NamedTuple: the fields in order, each with its canonical annotation."""

    name: str
    fields: tuple[tuple[str, str | None], ...]
    named_tuple: bool


@dataclass(frozen=True)
class Refusal:
    """Something of the module no spec can hold: where, and why."""

    name: str
    signature: str
    docstring: str
    why: str


@dataclass(frozen=True)
class Reading:
    docstring: str
    functions: tuple[Function, ...]
    records: dict[str, Record]
    methods: tuple[Refusal, ...]


# A coding declaration (PEP 263), on the first two lines of a module.
_CODING = re.compile(r"^([ \t\f]*#.*?)coding([:=])", re.ASCII)


def python_text(raw: bytes) -> str:
    """A module's bytes as Python reads them: in the encoding its byte-order mark or its
    coding declaration names, UTF-8 by default (`tokenize.detect_encoding`), the mark
    dropped. The text goes on as UTF-8 (to the sandbox, beside the module's neighbours), so
    a declaration of another encoding is made inert, on its line, keeping the line numbers.
    SyntaxError for an encoding Python does not know; UnicodeDecodeError for bytes that are
    not in the encoding named, or not UTF-8 where none is (in the first two lines too,
    where `detect_encoding` says only that a declaration is missing)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError:
        raw.decode("utf-8")  # raises where the bytes are the reason
        raise
    text = raw.decode(encoding)
    if encoding in ("utf-8", "utf-8-sig"):
        return text
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines[:2]):
        if _CODING.match(line):
            lines[index] = _CODING.sub(r"\1coding (read as UTF-8)\2", line, count=1)
            break
    return "".join(lines)


def read_module(source: str, filename: str) -> Reading:
    """The module's functions, records and methods; SyntaxError where it is not Python."""
    tree = ast.parse(source, filename=filename)
    records = {r.name: r for r in _records(tree)}
    imports = _imports(tree)
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    lines = source.splitlines(keepends=True)
    constants = _constants(tree)
    functions = []
    for node in defs.values():
        found = _function(node, lines, set(records), _refusal(node, defs, imports))
        functions.append(replace(found, constants=_read_constants(node, constants)))
    methods = []
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for item in cls.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                if not (item.name.startswith("__") and item.name.endswith("__")):
                    methods.append(
                        Refusal(
                            f"{cls.name}.{item.name}",
                            _signature(item),
                            ast.get_docstring(item) or "",
                            f"a method of class {cls.name}: a spec holds functions",
                        )
                    )
    return Reading(ast.get_docstring(tree) or "", tuple(functions), records, tuple(methods))


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's names bound once, at its top level, to a number or a string (`LIMIT =
    18`, `LIMIT: int = 18`), and nowhere else: name -> the literal's source."""
    bound = _bindings(tree)
    literal: dict[str, str] = {}
    for statement in tree.body:
        target = value = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        if isinstance(target, ast.Name) and value is not None and _scalar(value):
            literal[target.id] = ast.unparse(value)
    return {name: source for name, source in literal.items() if bound[name] == 1}


def _bindings(tree: ast.AST) -> Counter[str]:
    """How many times each name is bound in `tree`: assigned or deleted, a parameter, a
    function or class, an import, an `except ... as` or a `case` capture."""
    found: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found[node.id] += 1
        elif isinstance(node, ast.arg):
            found[node.arg] += 1
        elif isinstance(node, ast.alias):
            found[(node.asname or node.name).split(".")[0]] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] += 1
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            found[node.name] += 1
    return found


def _scalar(node: ast.expr) -> bool:
    """A number or a string literal (a negative number too), not a bool."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, str)


def _read_constants(
    node: ast.FunctionDef | ast.AsyncFunctionDef, constants: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    """The constants the function reads: names it loads, and never binds itself."""
    own = _bindings(node)
    read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return tuple(
        (name, constants[name]) for name in sorted(read) if name in constants and not own[name]
    )


def _function(
    node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str], classes: set[str], why: str
) -> Function:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    params = [_param(a, d, classes, False) for a, d in zip(positional, defaults, strict=True)]
    params += [
        _param(a, d, classes, True) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    returns = canonical(node.returns, classes)
    docstring = ast.get_docstring(node) or ""
    try:
        found = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        found = []
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    last = node.end_lineno or node.lineno
    return Function(
        name=node.name,
        params=tuple(params),
        returns=returns,
        returns_phrase=None if node.returns is None else phrase_of(returns, classes),
        docstring=docstring,
        doctests=tuple(example.source.strip() for example in found),
        signature=_signature(node),
        source="".join(lines[first - 1 : last]),
        first_line=first,
        last_line=last,
        refused=why,
    )


def _param(arg: ast.arg, default: ast.expr | None, classes: set[str], keyword: bool) -> Param:
    found = canonical(arg.annotation, classes)
    return Param(
        name=arg.arg,
        annotation=found,
        phrase=phrase_of(found, classes),
        default=None if default is None else ast.unparse(default),
        keyword_only=keyword,
        annotated=arg.annotation is not None,
    )


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    return f"{keyword} {node.name}({ast.unparse(node.args)}){returns}"


def _refusal(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
    imports: dict[str, str],
) -> str:
    named = declared_name_problem("function", node.name)
    if named is not None:
        return f"{named[0]}; a spec cannot declare it"
    if isinstance(node, ast.AsyncFunctionDef):
        return "a coroutine (async def): its result is awaited, not returned"
    if node.args.vararg is not None or node.args.kwarg is not None:
        return "takes *args or **kwargs, which a spec heading cannot declare"
    if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in _own_nodes(node)):
        return "a generator: it yields values one at a time instead of returning one"
    seen: set[str] = set()
    todo = [node.name]
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        effect = _effect(defs[name], imports)
        if effect:
            via = "" if name == node.name else f" (through `{name}`)"
            return f"{effect}{via}: its examples would not be facts"
        todo += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name)]
    return ""


def _effect(node: ast.AST, imports: dict[str, str]) -> str:
    """What in the function's body makes its result more than its arguments' function."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
            if sub.func.id in _IO_BUILTINS and sub.func.id not in imports:
                return f"does I/O (`{sub.func.id}`)"
        if isinstance(sub, ast.Name) and sub.id in imports:
            dotted = imports[sub.id]
            top, _, rest = dotted.partition(".")
            if top in _EFFECTS:
                what, names = _EFFECTS[top]
                attribute = rest.rsplit(".", 1)[-1] if rest else ""
                if "*" in names or attribute in names:
                    return f"{what} (`{dotted}`)"
        if isinstance(sub, ast.Attribute):
            target = _imported(sub.value, imports)
            if target is not None and target.split(".")[0] in _EFFECTS:
                what, names = _EFFECTS[target.split(".")[0]]
                if "*" not in names and sub.attr in names:
                    return f"{what} (`{target}.{sub.attr}`)"
    return ""


def _imported(node: ast.expr, imports: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return imports.get(node.id)
    if isinstance(node, ast.Attribute):
        head = _imported(node.value, imports)
        return None if head is None else f"{head}.{node.attr}"
    return None


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted module or module attribute it stands for."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's own body, not of functions or lambdas defined in it."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        yield child
        yield from _own_nodes(child)


def _records(tree: ast.Module) -> Iterator[Record]:
    found = [(node, _record_kind(node)) for node in tree.body if isinstance(node, ast.ClassDef)]
    names = {node.name for node, kind in found if kind}
    for node, kind in found:
        if not kind:
            continue
        fields = []
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if "ClassVar" not in ast.unparse(item.annotation):
                    fields.append((item.target.id, canonical(item.annotation, names)))
        yield Record(node.name, tuple(fields), kind == "NamedTuple")


def _record_kind(node: ast.ClassDef) -> str:
    """`NamedTuple`, `dataclass`, or an empty string for another class."""
    if any(_last_name(b) == "NamedTuple" for b in node.bases):
        return "NamedTuple"
    if any(_last_name(d) == "dataclass" for d in node.decorator_list):
        return "dataclass"
    return ""


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""
