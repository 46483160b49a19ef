"""Parse .mrsh text into the AST of `marshalike.language.spec`; every problem becomes a diagnostic.

Markdown is not context-free, so parsing is line-oriented:

1. HTML comments (`<!-- -->`, also across lines) are blanked to spaces, keeping columns
   (`marshalike.language.comments`).
2. A scanner classifies each remaining line: section heading, other heading, example bullet,
   other list item, prose, or a line of a fenced code block. Only a line that *starts* with
   `#` can be a heading, and never inside a code block, so a `#` in prose, a code span or a
   URL never starts a section (Marsha splits on every `#`).
3. The document grammar (`grammar/mrsh.lark`, LALR) says which lines may follow which;
   `grammar/signature.lark` parses the text of `# func` headings, `marshalike.language.examples` the
   example bullets.

Headings. `# func`, `# type` and `# use` start sections at any level (`#` to `######`),
with or without a space (`#func`). A heading that misspells one of them and otherwise looks
like a section (`# fucn f(x)`, `# Type person`, `# def f()`) is an error with a hint. Any
other markdown heading is prose: a title before the first section, a sub-heading inside a
function's description, or, after a type's CSV or a `# use` line, a title that starts prose
ignored until the next section.

A list item in a function section is an example when it starts with a call (`name(`) and
contains `=`, `throws` or `raises`; other list items are description.

Codes M001-M009 are syntax errors (M010+ belong to the semantic checker). The module is None
whenever an error was found, so later phases never see a partial AST.
"""

from __future__ import annotations

import bisect
import functools
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer, LexerState

from marshalike.language.codes import Code
from marshalike.language.comments import blank_comments
from marshalike.language.diagnostics import Diagnostic, Severity, Span, has_errors, source_lines
from marshalike.language.examples import parse_example, warm_fast_path
from marshalike.language.headings import (
    FuncHead,
    TypeHead,
    Where,
    func_head,
    grammar_text,
    near_keyword,
    type_head,
    use_head,
)
from marshalike.language.spec import Example, Func, Module, TypeDef, Use

__all__ = ["ParseResult", "document_parser", "parse"]


@dataclass(frozen=True)
class ParseResult:
    """The module (None when there are errors) and every diagnostic, in source order."""

    module: Module | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


# From this size on, the examples' regex fast path is worth compiling (see examples.py).
FAST_PATH_LINES = 2_000


def parse(text: str, path: str = "<spec>") -> ParseResult:
    """Parse the text of one .mrsh file; never raises on any `str`."""
    # A parse allocates many small objects and no cycles; pausing the cycle collector
    # meanwhile saves 10-20% (benchmarks/parse_bench.py). Its previous state is restored.
    if text.count("\n") >= FAST_PATH_LINES:
        warm_fast_path()
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Reader(text, path).read()
    finally:
        if collecting:
            gc.enable()


# --- the grammars -------------------------------------------------------------------------


class _TokenFeed(Lexer):
    """Lark's lexer slot: the scanner has made the line tokens already, so pass them on.

    The input is an iterator, so resuming after a syntax error continues where it stopped.
    """

    # Lark's current lexer interface: `lex` gets the lexer state, whose `text` is whatever
    # was passed to `parse` (here the iterator of line tokens).
    __future_interface__ = 2

    def __init__(self, lexer_conf: object) -> None:
        pass

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        tokens = lexer_state.text
        if not isinstance(tokens, Iterator):
            raise TypeError("the document parser reads an iterator of line tokens")
        return tokens


@functools.cache
def document_parser() -> Lark:
    return Lark(grammar_text("mrsh.lark"), parser="lalr", lexer=_TokenFeed)


# --- line classification -------------------------------------------------------------------

_HEADING = re.compile(r" {0,3}(#{1,6})([ \t]*)(\w*)(.*)")
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")  # a code block's opening line
_BULLET = re.compile(r"[ \t]*(?:[*+-]|\d{1,9}[.)])[ \t]+(.*\S)")
_EXAMPLE_START = re.compile(r"[^\W\d][\w.]*[ \t]*\(.*?(?:=|throws|raises)")
_HEAD_TOKENS = {"func": "FUNC_HEAD", "type": "TYPE_HEAD", "use": "USE_HEAD"}


def _without_bom(lines: list[str]) -> list[str]:
    """Editors may save a byte-order mark, and show none: it is no column of line 1."""
    if lines and lines[0].startswith("\ufeff"):
        return [lines[0][1:], *lines[1:]]
    return lines


# --- the reader ----------------------------------------------------------------------------


class _Reader:
    """One parse: the source, its cleaned lines, what headings said, and the diagnostics."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.raw = source_lines(text)
        self.lines, unclosed = blank_comments(_without_bom(self.raw))
        self.diagnostics: list[Diagnostic] = []
        self.heads: dict[int, FuncHead | TypeHead | Use] = {}
        # Where each section starts and its token kind, ascending, to word M005 messages.
        self.starts: list[int] = []
        self.start_kinds: list[str] = []
        if unclosed is not None:
            line, column = unclosed
            self._error(
                Code.UNCLOSED_BLOCK,
                "unclosed HTML comment",
                Span(line, column, line, column + 4),
                "close it with '-->'",
            )

    def read(self) -> ParseResult:
        tokens = self._scan()
        tree = document_parser().parse(iter(tokens), on_error=self._misplaced)
        module = self._module(tree)
        diagnostics = tuple(sorted(self.diagnostics, key=lambda d: (d.span, d.code)))
        return ParseResult(None if has_errors(diagnostics) else module, diagnostics)

    def _error(
        self,
        code: str,
        message: str,
        span: Span,
        hint: str | None = None,
        severity: Severity = "error",
    ) -> None:
        self.diagnostics.append(Diagnostic(severity, code, message, span, self.path, hint))

    # scanning -----------------------------------------------------------------------------

    def _scan(self) -> list[Token]:
        tokens: list[Token] = []
        fence: tuple[str, int] | None = None
        prose = True  # outside type sections and `# use`: prose lines merge into one token
        for number, line in enumerate(self.lines, 1):
            if fence is not None:
                _append(tokens, "CODE", line, number, prose)
                if closes(line, fence[0]):
                    fence = None
                continue
            kind = self._classify(line, number)
            if kind == "FENCE":
                opening = FENCE.match(line)
                assert opening is not None  # _classify says FENCE only where it matches
                fence, kind = (opening.group(1), number), "CODE"
            if kind == "HEADING" and not prose:
                kind = "TITLE"  # a markdown heading ends a type's CSV or a `# use` line
            if kind in _HEADS:
                prose = kind in _PROSE_HEADS
                self.starts.append(number)
                self.start_kinds.append(kind)
            if kind is not None:
                _append(tokens, kind, line, number, prose)
        if fence is not None:
            self._unclosed_fence(*fence)
        return tokens

    def _classify(self, line: str, number: int) -> str | None:
        stripped = line.lstrip()
        if not stripped:
            return None
        first = stripped[0]
        if first == "#":
            return self._heading(line, number)
        if first in "`~" and FENCE.match(line):
            return "FENCE"
        bullet = _BULLET.match(line) if first in "*+-0123456789" else None
        if bullet is None:
            return "TEXT"
        return "EXAMPLE" if _EXAMPLE_START.match(bullet.group(1)) else "ITEM"

    def _unclosed_fence(self, marker: str, number: int) -> None:
        column = self.lines[number - 1].index(marker) + 1
        self._error(
            Code.UNCLOSED_BLOCK,
            "unclosed code block",
            Span(number, column, number, column + len(marker)),
            f"close it with a line of {marker}",
        )

    def _heading(self, line: str, number: int) -> str | None:
        match = _HEADING.match(line)
        if match is None:
            return "TEXT"
        _, gap, word, rest = match.groups()
        column = match.start(3) + 1
        # `# func(x)` and `# type:` are sections gone wrong; `# type-safe sorting` is a title.
        if word in _HEAD_TOKENS and (not rest or rest[0] in " \t(:"):
            return self._section_head(word, rest, number, match.end(3))
        keyword = near_keyword(word, rest) if word else None
        if keyword is not None:
            span = Span(number, column, number, column + len(word))
            self._error(
                Code.UNKNOWN_SECTION,
                f"unknown section '{match.group(1)} {word}'",
                span,
                f"did you mean '{match.group(1)} {keyword}'?",
            )
            return "BAD_HEAD"
        return "HEADING" if gap or not word else "TEXT"

    def _section_head(self, word: str, rest: str, number: int, offset: int) -> str:
        where = Where(rest, number, offset)
        head: FuncHead | TypeHead | Use | None
        if word == "func":
            head = func_head(where, self._error)
        elif word == "type":
            head = type_head(where, self._error)
        else:
            head = use_head(where, self._error)
        if head is None:
            return "BAD_HEAD"
        self.heads[number] = head
        if isinstance(head, TypeHead) and head.source is not None:
            return "TYPE_FILE_HEAD"
        return _HEAD_TOKENS[word]

    # structure ----------------------------------------------------------------------------

    def _misplaced(self, error: UnexpectedInput) -> bool:
        """Report a line the document grammar does not allow where it is; skip it."""
        if not isinstance(error, UnexpectedToken) or error.token.type == "$END":
            return False
        token = error.token
        message, hint = _misplaced_message(token.type, self._section_before(token.line))
        self._error(Code.MISPLACED_LINE, message, _line_span(token), hint)
        return True

    def _section_before(self, number: int) -> str | None:
        """The token kind of the section heading above line `number`, if any."""
        at = bisect.bisect_left(self.starts, number)
        return self.start_kinds[at - 1] if at else None

    def _module(self, tree: Tree) -> Module:
        uses: list[Use] = []
        types: list[TypeDef] = []
        funcs: list[Func] = []
        for section in tree.children:
            if not isinstance(section, Tree) or section.data in ("bad", "title"):
                continue
            tokens = [t for t in section.children if isinstance(t, Token)]
            if section.data == "func":
                funcs.append(self._func(tokens))
            elif section.data == "use":
                head = self.heads[_line(tokens[0])]
                assert isinstance(head, Use)
                uses.append(head)
            else:
                types.append(self._type(tokens))
        return Module(self.path, tuple(uses), tuple(types), tuple(funcs), self._whole())

    def _whole(self) -> Span:
        if not self.raw:
            return Span(1, 1, 1, 1)
        return Span(1, 1, len(self.raw), len(self.raw[-1]) + 1)

    def _section_text(self, tokens: list[Token]) -> tuple[str, Span]:
        first, last = _line(tokens[0]), _line(tokens[-1], end=True)
        text = "\n".join(self.raw[first - 1 : last])
        end = len(self.raw[last - 1].rstrip()) + 1
        return text, Span(first, 1, last, end)

    def _func(self, tokens: list[Token]) -> Func:
        head = self.heads[_line(tokens[0])]
        assert isinstance(head, FuncHead)
        text, span = self._section_text(tokens)
        examples = tuple(self._example(t) for t in tokens if t.type == "EXAMPLE")
        description = _description(self.lines, tokens)
        return Func(
            head.name, head.params, head.returns, description, examples, text, span, head.name_span
        )

    def _example(self, token: Token) -> Example:
        bullet = _BULLET.match(token.value)
        assert bullet is not None
        column = bullet.start(1) + 1
        start = len(token.value) - len(token.value.lstrip()) + 1
        number = _line(token)
        span = Span(number, start, number, bullet.end(1) + 1)
        return parse_example(bullet.group(1), span, column)

    def _type(self, tokens: list[Token]) -> TypeDef:
        head = self.heads[_line(tokens[0])]
        assert isinstance(head, TypeHead)
        text, span = self._section_text(tokens)
        rows = [self._csv_row(t) for t in tokens[1:]]
        spans = tuple(_line_span(t) for t in tokens[2:])
        if head.source is None and not rows:
            self._error(
                Code.TYPE_WITHOUT_HEADER,
                f"type '{head.name}' has no CSV header",
                head.name_span,
                f"add a header line such as 'name, age' and sample rows, "
                f"or read them from a file: '# type {head.name} file.csv'",
            )
        columns = rows[0] if rows else ()
        return TypeDef(
            head.name, columns, tuple(rows[1:]), head.source, text, span, head.name_span, spans
        )

    def _csv_row(self, token: Token) -> tuple[str, ...]:
        line = token.value.strip()
        cells = _csv_cells(line, "," if "," in line or "\t" not in line else "\t")
        if cells is None:
            column = token.value.find('"') + 1
            self._error(
                Code.OPEN_QUOTE,
                "unterminated quoted field in CSV row",
                Span.point(_line(token), max(column, 1)),
                "close the quote, or write the field without the '\"'",
            )
            return ()
        return cells


# A cell: a quoted field ("" escapes a quote) or plain text, then a delimiter or the end.
_CSV_CELL = {
    ",": re.compile(r'[ \t]*(?:"((?:[^"]|"")*)"[ \t]*|([^,]*))(,|$)'),
    "\t": re.compile(r'[ ]*(?:"((?:[^"]|"")*)"[ ]*|([^\t]*))(\t|$)'),
}


def _csv_cells(line: str, delimiter: str) -> tuple[str, ...] | None:
    """Split one CSV line (commas or tabs, quoted fields); None if a quote is left open."""
    pattern = _CSV_CELL[delimiter]
    cells: list[str] = []
    position = 0
    while True:
        match = pattern.match(line, position)
        assert match is not None  # the plain alternative matches anything up to a delimiter
        quoted, plain, end = match.groups()
        if quoted is not None:
            cells.append(quoted.replace('""', '"'))
        elif plain.lstrip().startswith('"'):
            return None
        else:
            cells.append(plain.strip())
        if not end:
            return tuple(cells)
        position = match.end()


# --- helpers -------------------------------------------------------------------------------


# Lines that are only ever prose; a run of them outside a type section is one TEXT token,
# which keeps the document parse short (CSV rows stay one token each).
_PROSE = {"TEXT", "ITEM", "HEADING", "CODE"}
_HEADS = {"FUNC_HEAD", "TYPE_HEAD", "TYPE_FILE_HEAD", "USE_HEAD", "BAD_HEAD", "TITLE"}
_PROSE_HEADS = {"FUNC_HEAD", "BAD_HEAD", "TITLE"}


def _append(tokens: list[Token], kind: str, line: str, number: int, prose: bool) -> None:
    """Add a line token; where `prose`, a prose line joins the previous prose run."""
    if prose and kind in _PROSE:
        if tokens and tokens[-1].type == "TEXT":
            tokens[-1].end_line = number
            return
        kind = "TEXT"
    tokens.append(Token(kind, line, 0, number, 1, number, len(line) + 1, 0))


def _line(token: Token, end: bool = False) -> int:
    """The line a token starts (or, with `end`, ends) on; `_append` gives every token both."""
    number = token.end_line if end else token.line
    if number is None:
        raise ValueError(f"{token.type} token without a line number")
    return number


def closes(line: str, marker: str) -> bool:
    """A code block closes with a line of its marker's character, at least as long."""
    stripped = line.strip()
    return stripped.startswith(marker) and not stripped.strip(marker[0])


def _line_span(token: Token) -> Span:
    """The line's text without surrounding blanks (one column wide for a blank line)."""
    value = token.value
    column = len(value) - len(value.lstrip()) + 1
    end = max(len(value.rstrip()) + 1, column + 1)
    number = _line(token)
    return Span(number, column, number, end)


def _description(lines: list[str], tokens: list[Token]) -> str:
    """The section's prose without its heading and examples, paragraphs kept."""
    examples = {t.line for t in tokens if t.type == "EXAMPLE"}
    first, last = _line(tokens[0]), _line(tokens[-1], end=True)
    kept = [lines[n - 1].rstrip() for n in range(first + 1, last + 1) if n not in examples]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept))
    return text.strip("\n")


_MISPLACED = {
    None: ("example before any '# func' heading", "put examples under the function they test"),
    "TITLE": ("example outside any function", "put examples under the function they test"),
    "TYPE_HEAD": ("only CSV lines may follow '# type NAME'", "start a '# func' section for prose"),
    "TYPE_FILE_HEAD": (
        "a type read from a CSV file takes no lines of its own",
        "put the rows in the file, or drop the file name",
    ),
    "USE_HEAD": ("'# use' takes no lines of its own", "put prose under a '# func' heading"),
}


def _misplaced_message(kind: str, section: str | None) -> tuple[str, str]:
    """Why a `kind` line may not stand in the section that `section` (a head kind) opened."""
    if section in _MISPLACED and (kind == "EXAMPLE" or section not in (None, "TITLE")):
        return _MISPLACED[section]
    return (f"unexpected {kind.lower()} line", "start a '# func' section for prose")
