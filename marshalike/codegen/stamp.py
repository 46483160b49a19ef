"""The output hash in the header of a generated module or test file: the hash of the file's
text without that line, written as its third line, under the spec's hash.

The lock records the hash of every output too, and a compile refuses to overwrite an output
that no longer has it (`build.output.edited_output`). This line is what is left where no
lock records it (the lock deleted to compile from scratch; the best attempt NAME.failed.py)
or can be trusted to (a crash left the files out of step): a file that no longer has the
hash its own header records was edited by hand, and a compile that wrote over it would
lose the edit.
"""

from __future__ import annotations

import hashlib

OUTPUT_HASH = "# output-hash: "
_HEADER_LINES = 2  # the "generated from" line and the spec's hash
_LOOKED_AT = 12  # the lines where a hash line is looked for


def stamped(text: str) -> str:
    """`text` with its output hash as its third line (in place of the one it had)."""
    body = unstamped(text)
    lines = body.splitlines(keepends=True)
    if len(lines) < _HEADER_LINES or not lines[_HEADER_LINES - 1].endswith("\n"):
        return text  # no header to stamp
    line = f"{OUTPUT_HASH}{content_hash(body)}\n"
    return "".join([*lines[:_HEADER_LINES], line, *lines[_HEADER_LINES:]])


def unstamped(text: str) -> str:
    """`text` without its output-hash line, where it has one."""
    lines = text.splitlines(keepends=True)
    if len(lines) > _HEADER_LINES and lines[_HEADER_LINES].startswith(OUTPUT_HASH):
        del lines[_HEADER_LINES]
    return "".join(lines)


def stamp_holds(text: str) -> bool | None:
    """Whether `text` has the output hash its header records; None where it records none
    (a file written before outputs carried one, or not by marshalike). A hash line moved
    off the third line (a line put in above it) is an edit too."""
    lines = text.splitlines(keepends=True)
    found = [n for n, line in enumerate(lines[:_LOOKED_AT]) if line.startswith(OUTPUT_HASH)]
    if not found:
        return None
    if found[0] != _HEADER_LINES:
        return False
    recorded = lines[_HEADER_LINES][len(OUTPUT_HASH) :].strip()
    return recorded == content_hash(unstamped(text))


def content_hash(text: str) -> str:
    """The hash of a text written into generated files (the spec's, the file's own) and
    into the lock (an output's); line endings do not count."""
    return "sha256:" + hashlib.sha256(plain_newlines(text).encode("utf-8")).hexdigest()


def plain_newlines(text: str) -> str:
    """`text` with its line endings made `\\n`, as compile writes them (a checkout may
    have turned them into `\\r\\n`)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
