"""Diagnostics are values: collected while reading a spec, rendered at the edge."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# Where a spec's lines end: `\n`, `\r\n` or `\r`, as editors and the language server
# protocol count them. `str.splitlines` also splits at a form feed, a vertical tab, \x1c-\x1e,
# U+0085, U+2028 and U+2029, which would cut an example in two and put every later line
# number out of step with the editor's.
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of a spec's text, split where a line ends (see above): what the parser
    numbers, the diagnostics show and edits count. Like `str.splitlines`, no empty line
    follows a final line break."""
    if _OTHER_BREAKS.search(text) is None:
        return text.splitlines(keepends)  # the same lines, faster
    lines = _LINE.findall(text)
    return lines if keepends else [line.rstrip("\r\n") for line in lines]


@dataclass(frozen=True, order=True)
class Span:
    """A 1-based source range; end_column is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int, column: int) -> Span:
        return cls(line, column, line, column + 1)


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span
    path: str = "<spec>"
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, Span, str]:
    return (d.path, d.span, d.code)


def render(diagnostic: Diagnostic, source: str | None) -> str:
    """Render like a C compiler: location, message, the line, a caret, a hint."""
    span = diagnostic.span
    head = (
        f"{diagnostic.path}:{span.line}:{span.column}: "
        f"{diagnostic.severity}[{diagnostic.code}]: {diagnostic.message}"
    )
    lines = [head]
    text = _source_line(source, span.line)
    if text is not None:
        lines.append("    " + text)
        lines.append("    " + _caret(text, span))
    if diagnostic.hint:
        lines.append(f"  hint: {diagnostic.hint}")
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic], sources: dict[str, str]) -> str:
    ordered = sorted(diagnostics, key=sort_key)
    return "\n".join(render(d, sources.get(d.path)) for d in ordered)


def _source_line(source: str | None, line: int) -> str | None:
    if source is None:
        return None
    lines = source_lines(source)
    if not 1 <= line <= len(lines):
        return None
    return lines[line - 1]


def _caret(text: str, span: Span) -> str:
    start = max(span.column - 1, 0)
    if span.end_line == span.line:
        width = max(span.end_column - span.column, 1)
    else:
        width = max(len(text) - start, 1)
    width = min(width, max(len(text) - start, 1))
    # Keep tabs in the indent so the caret lines up however the terminal renders them.
    indent = "".join(c if c == "\t" else " " for c in text[:start])
    return indent + "^" * width
