"""Reading a spec file: regular files only, opened without blocking, under one decoding rule.

The rule: a spec is UTF-8 or it is refused with M030 at its first bad byte. A byte-order
mark stays in the text (no column of line 1, as editors show none) and so do
the newlines (the lock hashes the text as read). Loading, the `# use` graph and watch
mode's check for edits all read specs through `read_spec`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from marshalike.language.codes import Code
from marshalike.language.diagnostics import Diagnostic, Span, source_lines


@dataclass(frozen=True)
class SpecText:
    """The bytes of a spec and their text; `text` is None when they are not UTF-8."""

    raw: bytes
    text: str | None

    @property
    def source(self) -> str:
        """The text, or for bytes that are not UTF-8 the text to show under the diagnostic:
        one replacement character per bad byte keeps the caret's column right for the
        common case of Latin-1 text."""
        return self.text if self.text is not None else self.raw.decode("utf-8", "replace")

    def not_utf8(self, display: str) -> Diagnostic | None:
        """M030 at the first byte that is not UTF-8, or None when there is none."""
        if self.text is not None:
            return None
        try:
            self.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _not_utf8(self.raw, exc.start, display)
        return None


def read_spec(file: Path) -> SpecText:
    """The contents of the spec at `file`; raises OSError when it cannot be read."""
    raw = read_regular(file)
    try:
        return SpecText(raw, raw.decode("utf-8"))
    except UnicodeDecodeError:
        return SpecText(raw, None)


def read_regular(file: Path) -> bytes:
    """The bytes of a regular file. The file is opened without blocking and checked once
    open, so a FIFO or device put in its place is refused (OSError), never waited on."""
    descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", str(file))
        if not stat.S_ISREG(mode):
            raise OSError(0, f"not a regular file ({file_kind(mode)})", str(file))
        return handle.read()


def file_kind(mode: int) -> str:
    """What a file that is neither a folder nor a regular file is, for an error message."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def os_reason(exc: OSError) -> str:
    """`Permission denied` -> `permission denied`, to read as part of our sentence."""
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


def _not_utf8(raw: bytes, start: int, display: str) -> Diagnostic:
    # Counted as the parser counts the text shown under it (one character a bad byte):
    # the bytes before the first bad one are UTF-8, and a `\0` stands for the bad one.
    lines = source_lines(raw[:start].decode("utf-8") + "\0")
    line, column = len(lines), len(lines[-1])
    if line == 1 and lines[0].startswith("\ufeff"):  # a byte-order mark is no column
        column -= 1
    return Diagnostic(
        "error",
        Code.NOT_UTF8,
        f"spec is not UTF-8 text (byte 0x{raw[start]:02x})",
        Span(line, column, line, column + 1),
        display,
        "save the file as UTF-8",
    )
