"""Edits to a spec's text that keep everything else byte for byte: adding an example
bullet under a function (how `marshalike clarify` records an answer)."""

from __future__ import annotations

import re

from marshalike.language.comments import blank_comments
from marshalike.language.diagnostics import source_lines
from marshalike.language.parse import FENCE, closes, parse

# A heading ends a function's section (the parser's rule), however it is indented.
_HEADING = re.compile(r" {0,3}#")
# A line that starts a block of its own, so it never runs on from the line above as a
# paragraph's continuation does: a list item, a code fence, a rule.
_BLOCK_START = re.compile(
    r"[ \t]*(?:[*+-]|\d{1,9}[.)])(?:\s|$)"  # a bullet
    r"| {0,3}(?:`{3,}|~{3,})"
    r"| {0,3}([-*_=])(?:[ \t]*\1)*\s*$"
)


def add_example(text: str, func: str, call: str, expected: str) -> str:
    """`text` with the bullet `* CALL = EXPECTED` added after the last example of `func`
    and what belongs to it (`_item_end`), or after its description, set off by a blank
    line, where it has none. The bullet marker and line endings follow the file's own.
    ValueError where `text` has no such function."""
    module = parse(text).module
    found = [f for f in module.funcs if f.name == func] if module is not None else []
    if not found:
        raise ValueError(f"no function {func!r} in the spec")
    target = found[0]
    lines = source_lines(text, keepends=True)
    newline = "\r\n" if "\r\n" in text else "\n"
    marker = "*"
    if target.examples:
        # Read as the parser reads it, comments blanked: a comment after the example, with
        # examples commented out in it, is no part of it; nor is the bullet added in one.
        shown, _ = blank_comments(source_lines(text))
        last = _item_end(shown, max(e.span.end_line for e in target.examples) - 1)
        _, opened = blank_comments(lines[:last])
        while last < len(lines) and opened is not None:
            # A comment opened in the example's line runs on past it: read on line by line.
            _, opened = blank_comments(lines[last : last + 1], opened, last + 1)
            last += 1
        first_line = lines[target.examples[0].span.line - 1].lstrip()
        marker = first_line[:1] if first_line[:1] in "*-+" else "*"
        added = [f"{marker} {call} = {expected}{newline}"]
        if last < len(shown) and _runs_on(shown[last]):
            added.append(newline)  # prose after that comment stays no example's
    else:
        last = target.span.end_line
        added = [newline, f"{marker} {call} = {expected}{newline}"]
    before, after = lines[:last], lines[last:]
    if before and not before[-1].endswith(("\n", "\r")):
        before[-1] += newline
    return "".join([*before, *added, *after])


def _item_end(lines: list[str], bullet: int) -> int:
    """How many lines there are up to the end of the list item whose bullet is
    `lines[bullet]`, as markdown reads it: the lines indented under it (sub-bullets,
    notes, also past a blank line), lines run on from it without a blank line, and a code
    block opened among them, to its closing line. An unindented bullet added there starts
    the next item instead of splitting this one."""
    end = bullet + 1
    fence: str | None = None
    blank = False
    for number in range(bullet + 1, len(lines)):
        line = lines[number]
        if fence is not None:
            fence = None if closes(line, fence) else fence
        elif not line.strip():
            blank = True
            continue
        elif _HEADING.match(line) is None and (
            _indented(line) or not (blank or _BLOCK_START.match(line))
        ):
            opening = FENCE.match(line)
            fence = opening.group(1) if opening is not None else None
        else:
            break
        blank, end = False, number + 1
    return end


def _runs_on(line: str) -> bool:
    """Whether `line` after a bullet would be read as run on from it."""
    return bool(line.strip()) and not (_HEADING.match(line) or _BLOCK_START.match(line))


def _indented(line: str) -> bool:
    return line[:1] in (" ", "\t")
