"""Where things are in a document's text, as the parser counts and as an editor counts.

The parser numbers lines split at `\\n`, `\\r\\n` and `\\r` (`diagnostics.source_lines`) and
columns in characters, from 1. The protocol numbers lines the same way, and columns in
UTF-16 code units, from 0. `TextMap` converts between the two through offsets into the
text, so a diagnostic after an emoji or a lone carriage return still lands on the
characters it names.
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from marshalike.language.diagnostics import Span, source_lines

_BREAK = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"\w+")


class TextMap:
    """Offsets, parser spans and protocol positions of one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._parser_starts = [0]
        for line in source_lines(text, keepends=True):
            self._parser_starts.append(self._parser_starts[-1] + len(line))
        if text.startswith("\ufeff"):  # a byte-order mark: no column of the parser's
            self._parser_starts[0] = 1
        self._starts = [0, *(m.end() for m in _BREAK.finditer(text))]

    @property
    def parser_lines(self) -> int:
        return len(self._parser_starts) - 1

    def offset(self, line: int, column: int) -> int:
        """The offset of a parser position (1-based line and column), kept on its line."""
        if line < 1:
            return 0
        if line > self.parser_lines:
            return len(self.text)
        start, end = self._parser_starts[line - 1], self._parser_starts[line]
        content = self.text[start:end].rstrip("\r\n")
        return start + min(max(column - 1, 0), len(content))

    def position(self, offset: int) -> types.Position:
        """The protocol position of an offset."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self._starts, offset) - 1
        before = self.text[self._starts[line] : offset]
        return types.Position(line, _utf16(before))

    def range(self, span: Span) -> types.Range:
        start = self.offset(span.line, span.column)
        end = max(self.offset(span.end_line, span.end_column), start)
        return types.Range(self.position(start), self.position(end))

    def whole(self) -> types.Range:
        return types.Range(self.position(0), self.position(len(self.text)))

    def at(self, position: types.Position) -> int:
        """The offset of a protocol position (past a line's end: the line's end)."""
        if position.line >= len(self._starts):
            return len(self.text)
        start = self._starts[position.line]
        end = self._starts[position.line + 1] if position.line + 1 < len(self._starts) else None
        line = self.text[start:end].rstrip("\r\n")
        units = 0
        for index, char in enumerate(line):
            if units >= position.character:
                return start + index
            units += 2 if ord(char) > 0xFFFF else 1
        return start + len(line)

    def parser_point(self, offset: int) -> tuple[int, int]:
        """The parser's (line, column) of an offset."""
        line = max(bisect.bisect_right(self._parser_starts, offset) - 1, 0)
        line = min(line, max(self.parser_lines - 1, 0))
        return line + 1, offset - self._parser_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The parser's line `line` (1-based) without its ending; "" past the end."""
        if not 1 <= line <= self.parser_lines:
            return ""
        start, end = self._parser_starts[line - 1], self._parser_starts[line]
        return self.text[start:end].rstrip("\r\n")

    def word(self, offset: int) -> tuple[str, int] | None:
        """The identifier at (or just before) `offset` and where it starts."""
        line, _ = self.parser_point(offset)
        start = self._parser_starts[line - 1] if self.parser_lines else 0
        for match in _WORD.finditer(self.line_text(line)):
            if start + match.start() <= offset <= start + match.end():
                return match.group(0), start + match.start()
        return None

    def in_span(self, offset: int, span: Span) -> bool:
        return (
            self.offset(span.line, span.column)
            <= offset
            <= self.offset(span.end_line, span.end_column)
        )


def _utf16(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def uri_to_path(uri: str) -> Path:
    """The file a `file:` URI names; another scheme (an unsaved buffer) gets a name of its
    own in the current folder, so it can still be read as a spec."""
    local = to_fs_path(uri) if uri.startswith("file:") else None
    if local is not None:
        return Path(local)
    name = re.sub(r"\W+", "-", unquote(uri.partition(":")[2] or uri)).strip("-") or "untitled"
    return Path.cwd() / f"{name}.mrsh"


def path_to_uri(path: Path) -> str:
    return from_fs_path(str(path.absolute())) or path.absolute().as_uri()
