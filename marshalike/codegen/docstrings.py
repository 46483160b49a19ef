"""Docstrings for generated stubs: the description, then the examples as doctests.

Checkable examples become `>>> call` / `expected` pairs (raises as a Traceback doctest),
informal ones are listed in prose. The doctests are written for the reader and for a base
model continuing the stub; they are not run: the expected text is the spec's expression,
not a repr, and the pytest file is what checks the examples.
"""

from __future__ import annotations

import re
import textwrap

from marshalike.language.spec import Example, Func

_INDENT = "    "
# Control characters are not allowed (NUL) or change line structure (CR) in source text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def docstring_body(func: Func) -> str:
    """The docstring's text, unindented and unquoted; empty when there is nothing to say."""
    parts = [_description(func.description)]
    doctests = [_doctest(e) for e in func.examples if e.checkable]
    parts.append("\n".join(doctests))
    informal = [e.text.strip() for e in func.examples if not e.checkable]
    if informal:
        listed = "\n".join(_INDENT + text.replace("\n", " ") for text in informal)
        parts.append("Informal examples (not checked):\n" + listed)
    return "\n\n".join(p for p in parts if p)


def docstring_literal(body: str, indent: str = _INDENT) -> str:
    """`body` as an indented triple-quoted literal, escaped so any text stays valid Python."""
    escaped = body.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    escaped = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", escaped)
    lines = escaped.split("\n")
    if len(lines) == 1:
        # A closing quote right before the delimiter would end the literal early.
        line = lines[0][:-1] + '\\"' if lines[0].endswith('"') else lines[0]
        return f'{indent}"""{line}"""'
    inner = "\n".join(indent + line if line else "" for line in lines)
    return f'{indent}"""{inner.removeprefix(indent)}\n{indent}"""'


def _description(text: str) -> str:
    lines = [line.rstrip() for line in textwrap.dedent(text).strip("\n").split("\n")]
    return "\n".join(lines).strip()


def _doctest(example: Example) -> str:
    call = _prompted(example.call or "")
    if example.outcome == "raises":
        exception = example.exception or "Exception"
        return f"{call}\nTraceback (most recent call last):\n{_INDENT}...\n{exception}"
    expected = (example.expected or "").strip()
    # A doctest shows nothing for a call that returns None.
    return call if expected == "None" else f"{call}\n{expected}"


def _prompted(source: str) -> str:
    first, *rest = source.strip().split("\n")
    return "\n".join([f">>> {first}", *(f"... {line}" for line in rest)])
