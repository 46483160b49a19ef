"""The text of a decompiled spec: prose made safe to stand in a spec, type sections, function
sections, and the prose-only sections kept for a human.

Docstrings are prose the spec's reader must not mistake for structure: a line starting with
`#` would open a section, a list item starting with a call an example, `<!--` a comment, an
odd fence a code block running to the end. Each is escaped (`\\#`, `\\*`), and doctest
lines are left out of the description, since the examples say what they said, measured.
What cannot be a spec goes in the title prose at the top, which the compiler ignores, under
a heading that says it is for a human.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from marshalike.decompile.examples import Example
from marshalike.decompile.reading import Function, Record, Refusal
from marshalike.gate.overfit import special_values
from marshalike.gate.typed_inputs import values_of
from marshalike.language.parse import FENCE, closes, parse

# Any list item: the spec reads one holding `CALL = VALUE` as an example, whatever the call
# looks like (`f.__call__(2)`, a name in full-width letters), so none is left unescaped.
_LIST_ITEM = re.compile(r"^(\s*)(\d*)([*+\-.)])(\s|$)")
_CSV_SAFE = {"int", "float", "str", "bool"}
NO_DOCSTRING = (
    "The code has no docstring: say here what `{name}` does (left for a human by "
    "`marshalike decompile`; the examples below are what the code returns)."
)
CONSTANTS = "Constants of the code, as it has them: {shown}."


@dataclass(frozen=True)
class Section:
    """One function's section: its heading, description and examples."""

    func: Function
    heading: str
    examples: tuple[Example, ...]
    description: str = ""  # written for it (by a model); "" for its docstring


def _escaped_item(found: re.Match[str]) -> str:
    """A list item's marker escaped (`\\*`, `1\\.`), if it is one."""
    indent, number, mark, space = found.groups()
    if bool(number) != (mark in ".)"):
        return found[0]
    return f"{indent}{number}\\{mark}{space}"


def prose(text: str) -> str:
    """`text` with doctest lines left out and every line that would be read as structure
    escaped."""
    lines: list[str] = []
    in_doctest = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_doctest = True
            continue
        if in_doctest:
            if stripped and not stripped.startswith("..."):
                continue  # the doctest's expected output
            in_doctest = bool(stripped)
            if stripped:
                continue
        if stripped.startswith("#"):
            line = line.replace("#", "\\#", 1)
        line = _LIST_ITEM.sub(_escaped_item, line)
        lines.append(line.replace("<!--", "&lt;!--").rstrip())
    if (left_open := _open_fence(lines)) is not None:
        lines.append(left_open)
    return "\n".join(lines).strip("\n")


def _open_fence(lines: list[str]) -> str | None:
    """The marker of a code block the lines open and do not close, read as the spec's
    parser reads them (`language.parse`): a block closes with a line of its marker's
    character only, at least as long; None where every block closes."""
    opened: str | None = None
    for line in lines:
        if opened is not None:
            if closes(line, opened):
                opened = None
        elif found := FENCE.match(line):
            opened = found.group(1)
    return opened


def heading(func: Function, returns: str | None) -> str:
    """`# func NAME(PARAMS): RETURN`, the return phrase given (None: returns nothing)."""
    params = []
    for param in func.params:
        said = f"{param.name}: {param.phrase.text}"
        params.append(said if param.default is None else f"{said} = {param.default}")
    tail = f": {returns}" if returns is not None else ""
    return f"# func {func.name}({', '.join(params)}){tail}"


def type_section(record: Record) -> tuple[str, str]:
    """The `# type` section of a record, and a report line where it has no sample row."""
    header = ", ".join(name for name, _ in record.fields)
    row = []
    for name, annotation in record.fields:
        if annotation not in _CSV_SAFE:
            return (
                f"# type {record.name}\n{header}\n",
                f"type {record.name}: no sample row (field `{name}` is "
                f"{annotation or 'of no known type'}, which a CSV cell cannot hold)",
            )
        row.append(_cell(annotation))
    return f"# type {record.name}\n{header}\n{', '.join(row)}\n", ""


def _cell(annotation: str) -> str:
    if annotation == "str":
        return "hello world"  # not read as a number or a truth value
    value = values_of(annotation)[0]
    return str(value).lower() if isinstance(value, bool) else str(value)


def spec_text(
    title: str,
    intro: str,
    refusals: Sequence[Refusal],
    types: Sequence[str],
    sections: Sequence[Section],
    uses: Sequence[str] = (),
) -> str:
    """The spec: title and prose (the refusals' too), then `# use` lines (the used specs'
    paths), types and functions."""
    parts = [f"# {title}", intro]
    if refusals:
        parts.append("## For a human: not decompiled")
        parts.append(
            "These parts of the module cannot be specs as they are; each says why. "
            "The compiler ignores this prose."
        )
        for refusal in refusals:
            said = f"### `{refusal.name}`\n\n`{refusal.signature}`: {refusal.why}."
            if refusal.docstring:
                said += "\n\n" + prose(refusal.docstring)
            parts.append(said)
    parts += [f"# use {path}" for path in uses]
    parts += [t.rstrip("\n") for t in types]
    for section in sections:
        body = section.description or prose(section.func.docstring)
        body = body or NO_DOCSTRING.format(name=section.func.name)
        bullets = "\n".join(example.bullet() for example in section.examples)
        stated = constants(section, body, bullets)
        parts.append("\n\n".join(p for p in (section.heading, body, stated, bullets) if p))
    return "\n\n".join(p for p in parts if p) + "\n"


def constants(section: Section, body: str, bullets: str) -> str:
    """A line that states the constants of the code its examples land on and `body` does
    not say (`age >= 18` beside `adult(18)`, `return 'big'` beside `size(500) = 'big'`), as
    the code has them; "" where there are none. Without it the compiler's probe gate
    (`overfit.special_values`) would take the original code for code fitted to the
    examples, since the description never named the constant the code tests."""
    parsed = parse(f"{section.heading}\n\n{body}\n\n{bullets}\n").module
    if parsed is None or len(parsed.funcs) != 1:
        return ""
    found = list(special_values(section.func.with_constants(), parsed.funcs[0]))
    shown = dict.fromkeys(f"`{special.shown}`" for special in found)
    values = [special.value for special in found]
    for name, value in section.func.constants:  # where it read them, by name: `LIMIT = 18`
        if ast.literal_eval(value) in values:
            shown[f"`{name} = {value}`"] = None
    return prose(CONSTANTS.format(shown=", ".join(shown))) if shown else ""
