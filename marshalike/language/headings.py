"""Section headings of a .mrsh spec: `# func` signatures, `# type`, `# use`, and typos.

The text after `# func` is parsed by `grammar/signature.lark` (LALR), except for the common
plain form, which a regex takes without Lark (see `simple_signature`). Problems go to a
`Report` callback as M001-M004 and M008 diagnostics; a heading that fails gives None.
This module also finds the grammar files, for itself and for marshalike.language.parse.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Protocol

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken

from marshalike.language.codes import Code
from marshalike.language.diagnostics import Severity, Span
from marshalike.language.examples import is_expression, normalize
from marshalike.language.spec import Param, Use
from marshalike.language.typemap import MAX_TYPE_DEPTH, type_depth

KEYWORDS = ("func", "type", "use")


def grammar_text(name: str) -> str:
    """The wheel puts grammar/ inside the package; an editable install reads the repo's."""
    packaged: Traversable = importlib.resources.files("marshalike") / "grammar" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / name).read_text("utf-8")


@functools.cache
def signature_parser() -> Lark:
    return Lark(grammar_text("signature.lark"), parser="lalr", propagate_positions=True)


class Report(Protocol):
    def __call__(
        self,
        code: str,
        message: str,
        span: Span,
        hint: str | None = None,
        severity: Severity = "error",
    ) -> None: ...


@dataclass(frozen=True)
class Where:
    """The text after a heading's keyword, its line, and where that text starts in the line."""

    text: str
    line: int
    offset: int

    def span(self, start: int, end: int) -> Span:
        """The span of text[start:end], at least one column wide."""
        column = self.offset + start + 1
        return Span(self.line, column, self.line, column + max(end - start, 1))


@dataclass(frozen=True)
class FuncHead:
    name: str
    name_span: Span
    params: tuple[Param, ...]
    returns: str | None


@dataclass(frozen=True)
class TypeHead:
    name: str
    name_span: Span
    source: str | None


# --- misspelt keywords ---------------------------------------------------------------------

_ALIASES = {
    "function": "func",
    "fn": "func",
    "fun": "func",
    "def": "func",
    "class": "type",
    "struct": "type",
    "record": "type",
    "import": "use",
    "include": "use",
}
# What the rest of a misspelt heading must look like for it to count as a section.
_SECTION_SHAPES = {
    "func": re.compile(r"[ \t]*[^\W\d]\w*[ \t]*\(.*"),
    "type": re.compile(r"[ \t]*[^\W\d]\w*(?:[ \t]+\S+)?[ \t]*"),
    "use": re.compile(r"[ \t]*\S+\.mrsh[ \t]*"),
}


def near_keyword(word: str, rest: str) -> str | None:
    """The section keyword that `word` probably meant, if the heading looks like a section.

    `# fucn f(x)`, `# Type person` and `# def f()` qualify; `# The end` does not.
    """
    lowered = word.lower()
    keyword = _ALIASES.get(lowered) or next(
        iter(difflib.get_close_matches(lowered, KEYWORDS, n=1, cutoff=0.6)), None
    )
    if keyword is None or _SECTION_SHAPES[keyword].fullmatch(rest) is None:
        return None
    return keyword


# --- # type and # use ----------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def type_head(where: Where, report: Report) -> TypeHead | None:
    """`NAME` or `NAME file.csv`."""
    words = where.text.split()
    start = len(where.text) - len(where.text.lstrip())
    if not words or not words[0].isidentifier():
        found = f"'{words[0]}' is not a valid type name" if words else "missing type name"
        width = len(words[0]) if words else 1
        report(
            Code.TYPE_HEADING,
            f"{found} after '# type'",
            where.span(start, start + width),
            "write '# type NAME' followed by CSV lines, or '# type NAME file.csv'",
        )
        return None
    name_span = where.span(start, start + len(words[0]))
    if len(words) > 2 or (len(words) == 2 and not words[1].lower().endswith(".csv")):
        extra = where.text.index(words[1], start + len(words[0]))
        report(
            Code.TYPE_HEADING,
            f"unexpected '{' '.join(words[1:])}' after the type name",
            where.span(extra, len(where.text.rstrip())),
            "only a CSV file name may follow: '# type NAME file.csv'",
        )
        return None
    return TypeHead(python_name(words[0]), name_span, words[1] if len(words) == 2 else None)


def use_head(where: Where, report: Report) -> Use | None:
    """One path ending in .mrsh; the Use spans the whole heading."""
    words = where.text.split()
    start = len(where.text) - len(where.text.lstrip())
    end = len(where.text.rstrip())
    if len(words) != 1 or not words[0].endswith(".mrsh"):
        report(
            Code.USE_HEADING,
            "'# use' takes one .mrsh file name",
            where.span(start, end),
            "write '# use other.mrsh'",
        )
        return None
    return Use(words[0], Span(where.line, 1, where.line, where.offset + end + 1))


# --- # func: the fast path -----------------------------------------------------------------

# Most headings are `name(type, name: type = default): return` with plain words. Lark costs
# tens of microseconds a token here, so this regex takes exactly that subset (no brackets or
# quotes; a default of one word) and builds what the grammar would; anything else, errors
# included, goes to signature.lark. tests/test_parse.py checks that both paths agree.
_PLAIN = r"[^\s,()\[\]{}:=\"'#]+"
_SIMPLE_SIGNATURE = re.compile(
    r"[ \t]*([^\W\d]\w*)\(([^()\[\]{}\"']*)\)(?:[ \t]*:[ \t]*(\S(?:.*\S)?))?[ \t]*"
)
_SIMPLE_PARAM = re.compile(
    rf"[ \t]*(?:([^\W\d]\w*)[ \t]*:[ \t]*)?({_PLAIN}(?:[ \t]+{_PLAIN})*)"
    rf"(?:[ \t]*=[ \t]*({_PLAIN}))?[ \t]*"
)


def func_head(where: Where, report: Report) -> FuncHead | None:
    """`NAME(PARAMS): RETURN`, `NAME(PARAMS)` for a void function; its names as Python
    reads them (`python_name`)."""
    head = simple_signature(where) or grammar_signature(where, report)
    if head is None or _types_too_deep(head, where, report):
        return None
    return _python_names(head, report)


def python_name(name: str) -> str:
    """A declared name as Python reads it: identifiers are NFKC-normalised, so `ﬁx` in
    source is `fix`, and an example calling either calls the same function."""
    return name if name.isascii() else unicodedata.normalize("NFKC", name)


def _python_names(head: FuncHead, report: Report) -> FuncHead | None:
    """`head` with its names normalised, or None where one is no Python identifier (`x²`:
    the heading's pattern takes any letters and digits, Python fewer)."""
    if not head.name.isidentifier():
        message = f"'{head.name}' is not a valid function name"
        report(Code.FUNC_HEADING, message, head.name_span, "use letters, digits and '_'")
        return None
    for param in head.params:
        if param.name is not None and not param.name.isidentifier():
            report(
                Code.FUNC_HEADING,
                f"parameter name '{param.name}' is not a Python identifier",
                param.span,
                "write 'name: type', or just the type",
            )
            return None
    if head.name.isascii() and all(p.name is None or p.name.isascii() for p in head.params):
        return head
    params = tuple(
        replace(p, name=python_name(p.name)) if p.name is not None else p for p in head.params
    )
    return replace(head, name=python_name(head.name), params=params)


def _types_too_deep(head: FuncHead, where: Where, report: Report) -> bool:
    """Report a parameter or return type nested past what the type reader can follow."""
    typed = [(f"parameter type '{_short(p.type)}'", p.type, p.span) for p in head.params]
    if head.returns is not None:
        start = where.text.rindex(head.returns)
        span = where.span(start, start + len(head.returns))
        typed.append((f"return type '{_short(head.returns)}'", head.returns, span))
    for what, text, span in typed:
        if type_depth(text) > MAX_TYPE_DEPTH:
            message = f"{what} nests more than {MAX_TYPE_DEPTH} levels deep"
            report(Code.FUNC_HEADING, message, span, "name an inner part with its own `# type`")
            return True
    return False


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def simple_signature(where: Where) -> FuncHead | None:
    match = _SIMPLE_SIGNATURE.fullmatch(where.text)
    if match is None:
        return None
    params = _simple_params(match.group(2), where, match.start(2))
    if params is None:
        return None
    name_span = where.span(match.start(1), match.end(1))
    returns = match.group(3).strip() if match.group(3) is not None else None
    return FuncHead(match.group(1), name_span, params, returns)


def _simple_params(inner: str, where: Where, start: int) -> tuple[Param, ...] | None:
    if not inner.strip(" \t"):
        return ()
    params: list[Param] = []
    for piece in inner.split(","):
        param = _simple_param(piece, where, start)
        if param is None:
            return None
        params.append(param)
        start += len(piece) + 1
    return tuple(params)


def _simple_param(piece: str, where: Where, start: int) -> Param | None:
    match = _SIMPLE_PARAM.fullmatch(piece)
    if match is None:
        return None
    default = match.group(3)
    if default is not None:
        default = normalize(default)
        if not is_expression(default):
            return None  # the grammar path reports it
    span = where.span(
        start + len(piece) - len(piece.lstrip(" \t")), start + len(piece.rstrip(" \t"))
    )
    return Param(match.group(1), match.group(2), default, span)


# --- # func: the grammar -------------------------------------------------------------------


def grammar_signature(where: Where, report: Report) -> FuncHead | None:
    try:
        tree = signature_parser().parse(where.text)
    except UnexpectedInput as error:
        _signature_error(error, where, report)
        return None
    name = tree.children[0]
    assert isinstance(name, Token)
    name_span = where.span(_start(name), _end(name))
    found = [_param(node, where, report) for node in _subtrees(tree, "param")]
    params = tuple(p for p in found if p is not None)
    if len(params) < len(found):
        return None
    returns = _returns(tree, where, report)
    return FuncHead(str(name), name_span, params, returns)


def _returns(tree: Tree, where: Where, report: Report) -> str | None:
    node = next(_subtrees(tree, "returns", "bare_returns"), None)
    if node is None:
        return None
    token = node.children[-1]
    assert isinstance(token, Token)
    text = str(token).strip()
    if node.data == "bare_returns":
        report(
            Code.RETURN_WITHOUT_COLON,
            "missing ':' before the return type",
            where.span(_start(token), _start(token) + len(text)),
            f"write '): {text}'",
            severity="warning",
        )
    return text


def _param(node: Tree, where: Where, report: Report) -> Param | None:
    first = node.children[0]
    name = first if isinstance(first, Token) else None
    span = where.span(node.meta.start_pos, node.meta.end_pos)
    if name is not None and _IDENTIFIER.fullmatch(name) is None:
        report(
            Code.FUNC_HEADING,
            f"parameter name '{name}' is not a Python identifier",
            span,
            "write 'name: type', or just the type",
        )
        return None
    ptype = next(_subtrees(node, "ptype"))
    default_node = next(_subtrees(node, "default"), None)
    default = None
    if default_node is not None:
        default = normalize(_slice(where.text, default_node.children).strip())
        if not is_expression(default):
            report(
                Code.FUNC_HEADING,
                f"default value '{default}' is not a Python expression",
                span,
                "write a Python literal, e.g. 'flag: boolean = True'",
            )
            return None
    type_text = _slice(where.text, ptype.children).strip()
    return Param(str(name) if name is not None else None, type_text, default, span)


def _signature_error(error: UnexpectedInput, where: Where, report: Report) -> None:
    message, hint = _signature_message(error, where.text)
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        end = len(where.text.rstrip())
        span = where.span(end, end + 1)
    elif isinstance(error, UnexpectedToken):
        span = where.span(_start(error.token), _start(error.token) + len(_shown(error.token)))
    else:
        position = error.pos_in_stream or 0
        span = where.span(position, position + 1)
    report(Code.FUNC_HEADING, message, span, hint)


# --- messages ------------------------------------------------------------------------------

_FUNC_FORM = "write '# func NAME(PARAMS): RETURN'"


def _shown(token: Token) -> str:
    """The offending text: the first character where the lexer grabbed the rest of the line."""
    if token.type in ("RETURN_TEXT", "BARE_RETURN"):
        return token.value[:1]
    return token.value


def _signature_message(error: UnexpectedInput, text: str) -> tuple[str, str]:
    if not isinstance(error, UnexpectedToken):
        position = error.pos_in_stream or 0
        found = text[position : position + 1]
        return f"unexpected character {found!r} in the signature", _FUNC_FORM
    token, expected = error.token, error.expected
    shown = _shown(token)
    if "NAME" in expected:
        if token.type == "$END":
            return "missing function name after '# func'", _FUNC_FORM
        if token.type != "WORD":
            return f"missing function name before '{shown}'", _FUNC_FORM
        return f"'{token}' is not a valid function name", "use letters, digits and '_'"
    if expected == {"LPAR"}:
        return "missing '(' after the function name", f"{_FUNC_FORM}; use '()' for no parameters"
    if "RETURN_TEXT" in expected:
        return "missing return type after ':'", "drop the ':' for a function that returns nothing"
    if token.type == "$END":
        return "unclosed '(' in the signature", "close the parameter list with ')'"
    before = text[: token.start_pos]
    if before.rstrip().endswith("="):
        return "missing default value after '='", "write a Python literal after '=', or drop it"
    if shown == ":":
        return _colon_message(before)
    return f"unexpected '{shown}' in the signature", _FUNC_FORM


def _colon_message(before: str) -> tuple[str, str]:
    """A stray ':' in the parameters: a second one in a parameter usually means the ')'
    before the return type is missing; otherwise the name had several words."""
    hint = "a parameter name is one word: 'name: type'"
    if ":" in re.split(r"[(,]", before)[-1]:
        hint = "close the parameter list with ')' before ': RETURN'"
    return "unexpected ':' in the parameters", hint


# --- helpers -------------------------------------------------------------------------------


def _subtrees(tree: Tree, *names: str) -> Iterator[Tree]:
    return (c for c in tree.children if isinstance(c, Tree) and c.data in names)


def _slice(text: str, nodes: Sequence[Token | Tree]) -> str:
    """The source text from the first node to the last."""
    return text[_start(nodes[0]) : _end(nodes[-1])]


def _start(node: Token | Tree) -> int:
    return _position(node.start_pos if isinstance(node, Token) else node.meta.start_pos)


def _end(node: Token | Tree) -> int:
    return _position(node.end_pos if isinstance(node, Token) else node.meta.end_pos)


def _position(offset: int | None) -> int:
    """Lark's lexer gives each token (and, propagating positions, each tree) its offsets."""
    if offset is None:
        raise ValueError("signature node without a position")
    return offset
