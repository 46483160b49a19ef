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


# Characters a terminal or a log viewer acts on rather than shows, and those XML 1.0 cannot
# hold: the C0 and C1 controls but tab, DEL, the bidirectional controls, the line and
# paragraph separators, a byte-order mark, the noncharacters U+FFFE and U+FFFF, and lone
# surrogates. A spec, and a path, may hold any of them: shown, each is an escape.
_HIDDEN = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]"
)


def printable(text: str) -> str:
    """`text` with each character of `_HIDDEN` written as a Python escape (`\\x1b`,
    `\\u202e`): safe for a terminal, a CI log and an XML report, and still one line."""
    return _HIDDEN.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def render(diagnostic: Diagnostic, source: str | None) -> str:
    """Render like a C compiler: location, message, the line, a caret, a hint; every part
    `printable`, the caret under the same characters however they are shown."""
    span = diagnostic.span
    head = (
        f"{diagnostic.path}:{span.line}:{span.column}: "
        f"{diagnostic.severity}[{diagnostic.code}]: {diagnostic.message}"
    )
    lines = [printable(head)]
    text = _source_line(source, span.line)
    if text is not None:
        # A byte-order mark that starts the spec is no part of its first line (no column).
        if span.line == 1:
            text = text.removeprefix("\ufeff")
        shown = [printable(c) for c in text]
        lines.append("    " + "".join(shown))
        lines.append("    " + _caret(text, shown, span))
    if diagnostic.hint:
        lines.append(printable(f"  hint: {diagnostic.hint}"))
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


def _caret(text: str, shown: list[str], span: Span) -> str:
    """The caret under `span` of `text`, whose characters are shown as `shown`."""
    start = max(span.column - 1, 0)
    if span.end_line == span.line:
        width = max(span.end_column - span.column, 1)
    else:
        width = max(len(text) - start, 1)
    width = min(width, max(len(text) - start, 1))
    # Keep tabs in the indent so the caret lines up however the terminal renders them.
    indent = "".join(
        c if c == "\t" else " " * len(s) for c, s in zip(text[:start], shown, strict=False)
    )
    return indent + "^" * max(sum(len(s) for s in shown[start : start + width]), 1)
