"""English type phrases -> Python annotations, and column types inferred from CSV cells.

Marsha writes types as free English ("person list ordered by age", "a positive integer",
"list of n tuples of words and counts"). The mapping reads a phrase left to right and
stops at the first word that names a type: a declared type, a scalar ("integer",
"string", "flag"), or a container ("list of X", "X list", "dict of K to V", "tuple of A
and B"). Words before it are adjectives, words after it are qualifiers. Anything it
cannot read becomes `Any`: an annotation is a hint to the model, never a reason to fail.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from marshalike.language.naming import identifier, parse_or_none

ANY = "Any"
# Each "of", "or", "as" and bracket is a level of recursion in the reader; no real phrase
# comes near this many, and Python's own recursion limit is not far above it.
MAX_TYPE_DEPTH = 64

_SCALARS = {
    "int": "int",
    "integer": "int",
    "count": "int",
    "float": "float",
    "double": "float",
    "real": "float",
    "number": "float",
    "decimal": "float",
    "str": "str",
    "string": "str",
    "text": "str",
    "word": "str",
    "char": "str",
    "character": "str",
    "letter": "str",
    "name": "str",
    "filename": "str",
    "path": "str",
    "url": "str",
    "uri": "str",
    "email": "str",
    "key": "str",
    "bool": "bool",
    "boolean": "bool",
    "flag": "bool",
    "bytes": "bytes",
    "none": "None",
    "nothing": "None",
    "null": "None",
    "date": "datetime.date",
    "datetime": "datetime.datetime",
    "timestamp": "datetime.datetime",
    "any": ANY,
    "jsonobject": "dict[str, Any]",
}
_CONTAINERS = {
    "list": "list",
    "array": "list",
    "sequence": "list",
    "set": "set",
    "tuple": "tuple",
    "pair": "tuple",
    "dict": "dict",
    "dictionary": "dict",
    "mapping": "dict",
    "map": "dict",
}
_BARE = {
    "list": "list[Any]",
    "set": "set[Any]",
    "tuple": "tuple[Any, ...]",
    "dict": "dict[str, Any]",
}
_OF_WORDS = frozenset({"of", "containing", "from"})
_QUALIFIERS = frozenset(
    "where that which whose ordered sorted with in for by representing separated "
    "without if when".split()
)
_NESTING_WORDS = _OF_WORDS | {"or", "as"}
_OPTIONAL_WORDS = frozenset({"optional", "nullable", "maybe"})
_PHRASES = (
    ("date and time", "datetime"),
    ("json object", "jsonobject"),
    ("number of", "count of"),
    ("true or false", "boolean"),
)
_TOKEN = re.compile(r"\w+|[^\s\w]")
_PY_NAMES = frozenset(
    {"int", "float", "str", "bool", "bytes", "complex", "object", "list", "dict", "set"}
    | {"tuple", "frozenset", "Any", "None"}
)


def phrases() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The words a type phrase may use, for an editor's completion: the plain types
    ("integer", "date and time"), the collections ("list of"), the optional words."""
    plain = [w for w in _SCALARS if w.isalpha() and w != "jsonobject"]
    plain += [phrase for phrase, _ in _PHRASES if not phrase.endswith(" of")]
    containers = tuple(f"{w} of" for w in _CONTAINERS)
    return tuple(plain), containers, tuple(sorted(_OPTIONAL_WORDS))


def annotation(phrase: str, known_types: set[str]) -> str:
    """The Python annotation for an English (or already Pythonic) type phrase."""
    if type_depth(phrase) > MAX_TYPE_DEPTH:
        return ANY  # the parser reports such a heading (M001); never recurse that deep
    lookup = {name.lower(): identifier(name) for name in known_types}
    python = _python_annotation(phrase, lookup)
    if python is not None:
        return python
    return _Reader(_tokens(phrase), lookup).whole()


def type_depth(phrase: str) -> int:
    """An upper bound on how deeply the phrase nests: its nesting words ("of", "or", "as",
    ...) plus its deepest bracket."""
    words = sum(1 for token in _TOKEN.findall(phrase.lower()) if token in _NESTING_WORDS)
    deepest = level = 0
    for char in phrase:
        if char in "[(":
            level += 1
            deepest = max(deepest, level)
        elif char in "])":
            level -= 1
    return words + deepest


def infer_column_type(values: list[str]) -> str:
    """The type of one CSV column from its cells: int, float, bool or str.

    Empty cells make it optional (`int | None`); a column of only empty cells is
    `str | None`, since nothing says otherwise.
    """
    cells = [v.strip() for v in values]
    filled = [c for c in cells if c]
    base = _cell_type(filled)
    return f"{base} | None" if len(filled) < len(cells) else base


def infer_literal_type(sources: list[str]) -> str:
    """The type shared by Python literals (an example's arguments or results), else Any.

    Used where a phrase said nothing readable ("MRR", "period") but every example passes
    or returns, say, a string: the annotation then says so.
    """
    kinds = {_literal_kind(s) for s in sources}
    if not sources or ANY in kinds or kinds == {"None"}:
        return ANY
    if kinds - {"None"} == {"int", "float"}:
        kinds = (kinds - {"int"}) | {"float"}
    named = sorted(kinds - {"None"})
    if len(named) != 1:
        return ANY
    return f"{named[0]} | None" if "None" in kinds else named[0]


def _literal_kind(source: str) -> str:
    try:
        value = ast.literal_eval(source.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ANY
    if value is None:
        return "None"
    kind = type(value).__name__
    return kind if kind in ("int", "float", "str", "bool") else ANY


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def _cell_type(cells: list[str]) -> str:
    if not cells:
        return "str"
    if all(_INT.fullmatch(c) for c in cells):
        return "int"
    if all(_FLOAT.fullmatch(c) for c in cells):
        return "float"
    if all(c.lower() in ("true", "false") for c in cells):
        return "bool"
    return "str"


def _python_annotation(phrase: str, lookup: dict[str, str]) -> str | None:
    """`list[int]`, `Person | None` and the like, written by a spec author who knows Python."""
    tree = parse_or_none(phrase.strip())
    if not isinstance(tree, ast.Expression):
        return None
    if isinstance(tree.body, ast.Name) and tree.body.id in _BARE:
        return None  # a bare "list" reads better as list[Any], like "a list"
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in _PY_NAMES and node.id.lower() not in lookup:
                return None
            node.id = node.id if node.id in _PY_NAMES else lookup[node.id.lower()]
        elif not isinstance(node, _PY_NODES) and not _is_none_or_ellipsis(node):
            return None
    return ast.unparse(tree)


_PY_NODES = (ast.Expression, ast.Subscript, ast.Tuple, ast.Load, ast.BinOp, ast.BitOr)


def _is_none_or_ellipsis(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis)


def _tokens(phrase: str) -> list[str]:
    # Declared types are matched case-insensitively, so everything is compared lowercase.
    text = " " + phrase.lower().replace("->", " to ") + " "
    for words, replacement in _PHRASES:
        text = text.replace(f" {words} ", f" {replacement} ")
    return _TOKEN.findall(text)


@dataclass
class _Reader:
    """Reads one phrase's tokens; each method returns an annotation string."""

    tokens: list[str]
    types: dict[str, str]

    def whole(self) -> str:
        return self.phrase(self.tokens)

    def phrase(self, tokens: list[str]) -> str:
        if "as" in tokens:
            # "H3 index as a string": the part after the last "as" says what it is.
            cut = len(tokens) - 1 - tokens[::-1].index("as")
            after = self.phrase(tokens[cut + 1 :])
            return after if after != ANY else self.phrase(tokens[:cut])
        if "or" in tokens:
            return self._union(tokens, tokens.index("or"))
        return self._first_type(tokens)

    def _union(self, tokens: list[str], cut: int) -> str:
        left, right = self.phrase(tokens[:cut]), self.phrase(tokens[cut + 1 :])
        if right == "None":
            return ANY if left == ANY else f"{left} | None"
        if ANY in (left, right) or left == right:
            return left if left != ANY else right
        return f"{left} | {right}"

    def _first_type(self, tokens: list[str]) -> str:
        optional = False
        for i, token in enumerate(tokens):
            optional = optional or token in _OPTIONAL_WORDS
            found = self._type_at(tokens, i)
            if found is not None:
                return f"{found} | None" if optional and found != "None" else found
        return ANY

    def _type_at(self, tokens: list[str], i: int) -> str | None:
        token, rest = tokens[i], tokens[i + 1 :]
        if token in self.types and rest and _singular(rest[0], _SCALARS):
            return _singular(rest[0], _SCALARS)  # "Team name" is a str, not a Team
        if _word(token, self.types) is not None and (not rest or rest[0] not in _CONTAINERS):
            return _word(token, self.types)
        container = _singular(token, _CONTAINERS)
        if container is not None:
            return self._container(container, rest)
        item = _word(token, self.types)
        if item is None:
            return None
        # "person list", "string array": a postfix container of the item.
        postfix = _CONTAINERS[rest[0]]
        if postfix == "dict" and token in self.types:
            return item  # Marsha's "task dict" is a task record
        if postfix == "dict":
            return f"dict[str, {item}]"
        return f"{postfix}[{item}]" if postfix != "tuple" else f"tuple[{item}, ...]"

    def _container(self, kind: str, rest: list[str]) -> str:
        if not rest or rest[0] not in _OF_WORDS:
            return _BARE[kind]
        inner = rest[1:]
        if kind == "tuple":
            return self._tuple(_until(inner, _QUALIFIERS))
        inner = _until(inner, _QUALIFIERS | {","})
        if kind == "dict":
            return self._dict(inner)
        return f"{kind}[{self.phrase(inner)}]"

    def _tuple(self, tokens: list[str]) -> str:
        parts = _split(tokens, {",", "and"})
        if not parts:
            return _BARE["tuple"]
        return f"tuple[{', '.join(self.phrase(p) for p in parts)}]"

    def _dict(self, tokens: list[str]) -> str:
        for separator in ("to", "and"):
            if separator in tokens:
                cut = tokens.index(separator)
                key, value = self.phrase(tokens[:cut]), self.phrase(tokens[cut + 1 :])
                return f"dict[{key}, {value}]"
        return f"dict[str, {self.phrase(tokens)}]"


def _word(token: str, types: dict[str, str]) -> str | None:
    """A declared type or scalar named by one word, singular or plural."""
    if token in types:
        return types[token]
    if token.endswith("s") and token[:-1] in types:
        return types[token[:-1]]
    return _singular(token, _SCALARS)


def _singular(token: str, table: dict[str, str]) -> str | None:
    if token in table:
        return table[token]
    if token.endswith("s") and token[:-1] in table:
        return table[token[:-1]]
    return None


def _until(tokens: list[str], stops: frozenset[str] | set[str]) -> list[str]:
    for i, token in enumerate(tokens):
        if token in stops:
            return tokens[:i]
    return tokens


def _split(tokens: list[str], separators: set[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token in separators:
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if p]
