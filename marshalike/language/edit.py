"""Edits to a spec's text that keep everything else byte for byte: adding an example
bullet under a function (how `marshalike clarify` records an answer)."""

from __future__ import annotations

from marshalike.language.diagnostics import source_lines
from marshalike.language.parse import parse


def add_example(text: str, func: str, call: str, expected: str) -> str:
    """`text` with the bullet `* CALL = EXPECTED` added after the last example of `func`
    (after its description, set off by a blank line, where it has none). The bullet marker
    and line endings follow the file's own. ValueError where `text` has no such function."""
    module = parse(text).module
    found = [f for f in module.funcs if f.name == func] if module is not None else []
    if not found:
        raise ValueError(f"no function {func!r} in the spec")
    target = found[0]
    lines = source_lines(text, keepends=True)
    newline = "\r\n" if "\r\n" in text else "\n"
    marker = "*"
    if target.examples:
        last = max(e.span.end_line for e in target.examples)
        first_line = lines[target.examples[0].span.line - 1].lstrip()
        marker = first_line[:1] if first_line[:1] in "*-+" else "*"
        added = [f"{marker} {call} = {expected}{newline}"]
    else:
        last = target.span.end_line
        added = [newline, f"{marker} {call} = {expected}{newline}"]
    before, after = lines[:last], lines[last:]
    if before and not before[-1].endswith(("\n", "\r")):
        before[-1] += newline
    return "".join([*before, *added, *after])
