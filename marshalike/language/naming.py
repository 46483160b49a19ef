"""Python identifiers for the names a spec writes freely: types, CSV columns, parameters;
and the one guarded way emit parses Python text it was given.

Specs are English, so names may be keywords, contain spaces or start with a digit. Emit
must still produce valid Python (the checker reports the odd names; emit never crashes),
and every choice here is deterministic so generated files are stable.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import keyword
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator

_NOT_IDENT = re.compile(r"\W+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z0-9_]+")

# Words that carry no meaning in a parameter name derived from a type phrase.
_FILLER = frozenset(
    "a an the of with to for and as in by on from or each all some its their".split()
)
_MAX_NAME_WORDS = 3
_LEADING_CONTAINERS = frozenset({"list", "array", "set", "sequence", "tuple"})

BUILTIN_NAMES = frozenset(dir(builtins))


def identifier(text: str, fallback: str = "_") -> str:
    """`text` as a valid, non-keyword identifier: as Python reads it (NFKC, as Python
    normalises identifiers) where it is one already, so `_x` and `x_` stay as written;
    otherwise made into one, keeping its spelling where it can (`first name` ->
    `first_name`)."""
    name = unicodedata.normalize("NFKC", text)
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    return _made_identifier(text, fallback)


def _made_identifier(text: str, fallback: str) -> str:
    """Runs of characters an identifier cannot hold become one `_`, and underscores at the
    ends go, so a header cell `" age (years) "` gives `age_years`."""
    # Unicode `\w` admits characters such as "¼" that Python identifiers do not.
    normal = unicodedata.normalize("NFKC", text)
    kept = "".join(c if ("_" + c).isidentifier() else " " for c in normal)
    name = _NOT_IDENT.sub("_", kept.strip()).strip("_") or fallback
    if not name[0].isidentifier():
        name = "_" + name
    if keyword.iskeyword(name):
        name += "_"
    return name


def field_names(columns: Iterable[str]) -> list[str]:
    """Dataclass field names for CSV header cells: valid, and unique in order. A cell's
    underscores at the ends go even where it is an identifier already: a record's fields
    are plain data, and a field `__id` would be name-mangled inside the class."""
    names: list[str] = []
    for index, column in enumerate(columns, start=1):
        base = _made_identifier(column, fallback=f"field_{index}")
        names.append(_unique(base, set(names)))
    return names


def snake(word: str) -> str:
    """`EmployeesByDepartment` -> `employees_by_department`; lowercase words stay as they are."""
    return _CAMEL.sub("_", word).lower()


def param_name(phrase: str, index: int, taken: set[str]) -> str:
    """A parameter name for a bare Marsha type phrase, or `arg{index}` when none fits.

    "person list" -> person_list, "integer n" -> n; long phrases, and names that would
    shadow a builtin, a type, a function or another parameter, fall back to argN.
    """
    candidate = _name_from_phrase(phrase)
    if candidate and _usable(candidate, taken):
        return candidate
    return _unique(f"arg{index}", taken | BUILTIN_NAMES)


def _name_from_phrase(phrase: str) -> str | None:
    words = [w for w in _WORD.findall(phrase) if w.lower() not in _FILLER]
    if not words:
        return None
    last = words[-1]
    # "integer n", "int x": a short trailing word after a type is the writer's own name.
    if len(words) > 1 and len(last) <= 2 and last.isalpha() and last.islower():
        return last
    if len(words) > _MAX_NAME_WORDS:
        return None
    if len(words) > 1 and words[0].lower() in _LEADING_CONTAINERS:
        words = [*words[1:], words[0]]  # "list of Person" -> person_list, like "person list"
    return "_".join(snake(w) for w in words)


def _usable(name: str, taken: set[str]) -> bool:
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and name not in BUILTIN_NAMES
        and name not in taken
        and name.lower() not in {t.lower() for t in taken}
    )


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def parse_or_none(source: str, mode: str = "eval") -> ast.Module | ast.Expression | None:
    """`ast.parse`, or None for text that is not Python.

    Beyond SyntaxError, the parser gives up on pathological nesting with MemoryError or
    RecursionError; emit must not crash on any spec text, so those count as "not Python".
    """
    with quiet_syntax_warnings():
        try:
            tree = ast.parse(source, mode=mode)
        except NOT_PYTHON:
            return None
    return tree if isinstance(tree, ast.Module | ast.Expression) else None


def compiles(source: str) -> bool:
    """Whether `source` compiles: stricter than parsing (`yield` outside a function)."""
    with quiet_syntax_warnings():
        try:
            compile(source, "<emit>", "exec")
        except NOT_PYTHON:
            return False
    return True


# What ast.parse and compile raise for text that is not Python (a null byte, deep nesting).
NOT_PYTHON = (SyntaxError, ValueError, MemoryError, RecursionError)


@contextlib.contextmanager
def quiet_syntax_warnings() -> Iterator[None]:
    """Silence SyntaxWarning ("invalid decimal literal" for `1if`): spec text and model
    output are data here, and their problems are the checker's or the loop's to report,
    not stray lines on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        yield


def dotted(expr: ast.expr) -> str:
    """The dotted name an expression spells (`os.path.join`); "" where it is not one."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return f"{dotted(expr.value)}.{expr.attr}"
    return ""
