"""A Pygments lexer for .mrsh specs, so Sphinx, mkdocs and `pygmentize` highlight them.

Registered through the `pygments.lexers` entry point. Like the parser, it reads the spec a
line at a time: headings, the `# func` signature, CSV rows under `# type`, prose with
inline code, HTML comments, fenced code, and example bullets whose call and expected value
are highlighted by the Python lexer. It never changes the text: the tokens join back into
exactly the input, and no input yields an `Error` token.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from typing import Any

from pygments.lexer import RegexLexer, bygroups, default, include
from pygments.lexers.python import PythonLexer
from pygments.token import (
    Comment,
    Error,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

__all__ = ["MrshLexer"]

Tokens = Iterator[tuple[int, Any, str]]

_OUTCOME_WORDS = ("throws", "raises")


def _is_expression(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes warn; only validity matters here
        try:
            ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def _python(offset: int, text: str) -> Tokens:
    """`text` lexed as Python when it is a Python expression, else as plain text (an
    informal outcome such as "it's odd" would otherwise start a string)."""
    if not text:
        return
    tokens = list(PythonLexer().get_tokens_unprocessed(text)) if _is_expression(text) else []
    if not tokens or any(token in Error for _, token, _ in tokens):
        yield offset, Text, text
        return
    for index, token, value in tokens:
        yield offset + index, token, value


def _top_level(text: str) -> Iterator[int]:
    """Indexes of the characters of `text` outside brackets and string literals."""
    depth, quote, index = 0, "", 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0:
            yield index
        index += 1


def _split(text: str) -> tuple[int, int]:
    """Where the call ends and the outcome starts: a top-level `=` (not `==`, `<=` ...),
    or a top-level `throws`/`raises`; (len, len) when there is neither."""
    for index in _top_level(text):
        before, after = text[index - 1 : index], text[index + 1 : index + 2]
        if text[index] == "=" and (not before or before not in "=<>!") and after != "=":
            return index, index + 1
        if text[index] in "tr" and not before.isalnum() and _word_at(text, index):
            return index, index
    return len(text), len(text)


def _word_at(text: str, index: int) -> bool:
    """Whether `throws` or `raises` starts at `index` as a whole word."""
    for word in _OUTCOME_WORDS:
        end = index + len(word)
        if text.startswith(word, index) and not text[end : end + 1].isalnum():
            return True
    return False


def _outcome(offset: int, text: str) -> Tokens:
    """The expected part: `throws an error`, `raises KeyError`, or a Python value."""
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    if lead:
        yield offset, Whitespace, text[:lead]
    word = stripped.split(None, 1)[0] if stripped else ""
    if word not in _OUTCOME_WORDS:
        yield from _python(offset + lead, stripped)
        return
    yield offset + lead, Keyword, word
    rest = stripped[len(word) :]
    name = rest.strip()
    if word == "raises" and name.isidentifier():
        at = offset + lead + len(word)
        gap = rest.index(name)
        yield at, Whitespace, rest[:gap]
        yield at + gap, Name.Exception, name
        if rest[gap + len(name) :]:
            yield at + gap + len(name), Whitespace, rest[gap + len(name) :]
    elif rest:
        yield offset + lead + len(word), Text, rest


def _header(lexer: Any, match: Any, ctx: Any = None) -> Tokens:
    """The CSV header line: column names between commas (or tabs)."""
    offset = match.start()
    for part in re.split(r"([,\t])", match.group()):
        token = Punctuation if part in (",", "\t") else Name.Attribute
        if part:
            yield offset, token, part
        offset += len(part)


def _example(lexer: Any, match: Any, ctx: Any = None) -> Tokens:
    """`CALL = EXPECTED` (or `CALL throws ...`) after a bullet marker."""
    text, offset = match.group(), match.start()
    end, start = _split(text)
    call = text[:end]
    trailing = len(call) - len(call.rstrip())
    yield from _python(offset, call[: len(call) - trailing])
    if trailing:
        yield offset + end - trailing, Whitespace, call[len(call) - trailing :]
    if start > end:
        yield offset + end, Operator, text[end:start]
    if start < len(text):
        yield from _outcome(offset + start, text[start:])


class MrshLexer(RegexLexer):
    """Lexer for marshalike .mrsh specs (markdown-flavoured functions, types, examples)."""

    name = "Marshalike spec"
    aliases = ["mrsh", "marshalike"]
    filenames = ["*.mrsh"]
    mimetypes = ["text/x-mrsh"]
    url = "https://pypi.org/project/marshalike/"

    tokens = {
        "root": [
            include("comment"),
            (
                r"^( {0,3})(`{3,}|~{3,})(.*)(\n?)",
                bygroups(Whitespace, String.Backtick, Name.Label, Whitespace),
                "fence",
            ),
            (
                r"^( {0,3})(#)([ \t]*)(func)\b([ \t]*)",
                bygroups(Whitespace, Generic.Heading, Whitespace, Keyword.Declaration, Whitespace),
                "signature",
            ),
            (
                r"^( {0,3})(#)([ \t]*)(type)\b([ \t]*)",
                bygroups(Whitespace, Generic.Heading, Whitespace, Keyword.Declaration, Whitespace),
                ("csv_rows", "csv_header", "type_head"),
            ),
            (
                r"^( {0,3})(#)([ \t]*)(use)\b([ \t]*)([^\n]*)",
                bygroups(
                    Whitespace, Generic.Heading, Whitespace, Keyword.Namespace, Whitespace, String
                ),
            ),
            (r"^ {0,3}#[^\n]*", Generic.Heading),
            (
                r"^([ \t]*)([*+-]|\d{1,9}[.)])([ \t]+)"
                r"([^\W\d][\w.]*[ \t]*\([^\n]*?(?:=|throws|raises)[^\n]*)",
                bygroups(Whitespace, Punctuation, Whitespace, _example),
            ),
            (
                r"^([ \t]*)([*+-]|\d{1,9}[.)])([ \t]+)",
                bygroups(Whitespace, Punctuation, Whitespace),
            ),
            include("prose"),
        ],
        "comment": [
            (r"<!--", Comment.Multiline, "comment_body"),
        ],
        "comment_body": [
            (r"-->", Comment.Multiline, "#pop"),
            (r"[^-]+|-", Comment.Multiline),
        ],
        "prose": [
            (r"`[^`\n]+`", String.Backtick),
            (r"[^`<\n]+|[`<]", Text),
            (r"\n", Whitespace),
        ],
        "fence": [
            (r"^ {0,3}(`{3,}|~{3,})[ \t]*(\n|\Z)", String.Backtick, "#pop"),
            (r"[^\n]*\n|[^\n]+", String),
        ],
        "signature": [
            (
                r"([^\W\d]\w*)([ \t]*)(\()",
                bygroups(Name.Function, Whitespace, Punctuation),
                ("returns", "params"),
            ),
            default("returns"),
        ],
        "params": [
            (r"\)", Punctuation, "#pop"),
            (r"([^\W\d]\w*)([ \t]*)(:)(?!:)", bygroups(Name.Variable, Whitespace, Punctuation)),
            (r"=", Operator, "default"),
            (r",", Punctuation),
            include("type_words"),
            (r"\n", Whitespace, "#pop:3"),
            (r".", Text),
        ],
        "default": [
            (r"(?=[,)\n])", Text, "#pop"),
            include("values"),
        ],
        "returns": [
            (r"[^\S\n]+", Whitespace),
            (r"(:)([ \t]*)([^\n]*)", bygroups(Punctuation, Whitespace, Keyword.Type)),
            (r"[^:\n]+", Keyword.Type),
            (r"\n", Whitespace, "#pop:2"),
            (r".", Text),
        ],
        "type_words": [
            (r"[^\S\n]+", Whitespace),
            (r"[\[\](){}]", Punctuation),
            (r"'[^'\n]*'|\"[^\"\n]*\"", String),
            (r"[^\s,()\[\]{}:=]+", Keyword.Type),
            (r"[:=]", Punctuation),
            (r".", Text),
        ],
        "values": [
            (r"[^\S\n]+", Whitespace),
            (r"'[^'\n]*'|\"[^\"\n]*\"", String),
            (r"-?\d+(\.\d+)?", Number),
            (r"[\[\]{}():]", Punctuation),
            (r"[^\s,()\[\]{}:'\"]+", Name.Constant),
            (r"['\"]", String),
            (r".", Text),
        ],
        "type_head": [
            (r"([^\W\d]\w*)([ \t]+)(\S+)", bygroups(Name.Class, Whitespace, String)),
            (r"[^\W\d]\w*", Name.Class),
            (r"[^\n]+", Text),
            (r"\n", Whitespace, "#pop"),
        ],
        "csv_header": [
            (r"^(?= {0,3}#|<!--)", Text, "#pop"),
            (r"[ \t]*\n", Whitespace),
            (r"([^\n]+)(\n?)", bygroups(_header, Whitespace), "#pop"),
        ],
        "csv_rows": [
            (r"^(?= {0,3}#)", Text, "#pop"),
            include("comment"),
            (r"\s+", Whitespace),
            (r",|\t", Punctuation),
            (r"-?\d+(\.\d+)?(?=[ \t]*(,|\t|$))", Number),
            (r"(true|false|True|False)(?=[ \t]*(,|\t|$))", Keyword.Constant),
            (r"'[^'\n]*'|\"(?:[^\"\n]|\"\")*\"", String),
            (r"[^,\t\n<]+|<", String),
        ],
    }
