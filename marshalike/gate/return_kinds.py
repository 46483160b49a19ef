"""The return type a spec declares, as an oracle for the probe gate: whatever the right
answer on a probe input is, it is a value of that type.

The gate's probes report canonical text (`consensus.probe_outcomes`): `None`, `True`,
`'text'`, `list[1,2]`, `dict{...}`, numbers (a float with no fraction reads as an int). A
function declared to return "an integer" that returns None, False or 2.5 on a probe input
has a bug the examples did not reach (`if a < 0 or b < 0: return None` in an `add`). Only
kinds the text tells apart are compared; a declared record type, `Any` or an output the
text does not classify (a Decimal, a record) promise or show nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from marshalike.gate.consensus import ProbeOutcome

# Annotation heads -> the kinds of output text that may stand for their values.
_ACCEPTS = {
    "int": {"integral"},
    "float": {"integral", "fractional"},
    "str": {"string"},
    "bool": {"boolean"},
    "list": {"list"},
    "tuple": {"tuple"},
    "dict": {"dict"},
    "set": {"set"},
    "frozenset": {"set"},
}
_NAMES = {
    "integral": "an integer", "fractional": "a fraction", "string": "a string",
    "boolean": "a boolean", "list": "a list", "tuple": "a tuple", "dict": "a dict",
    "set": "a set", "none": "None",
}  # fmt: skip
_INTEGRAL = re.compile(r"-?\d+")
_FRACTIONAL = re.compile(r"-?(\d+\.\d*|\d+(\.\d*)?e[+-]?\d+|inf|nan)")
_CONTAINERS = (("list[", "list"), ("tuple[", "tuple"), ("set{", "set"), ("dict{", "dict"))
_SHOWN = 60  # characters of an output a message quotes


def mistyped(
    calls: Sequence[str], outcomes: Sequence[ProbeOutcome], annotation: str, description: str
) -> str | None:
    """The first probe call whose value is not of the declared return type, as "add(-3, 5)
    returned None, not an int as the spec declares"; None when every value may be."""
    declared = accepted(annotation, none_ok="None" in description)
    if declared is None:
        return None
    for call, outcome in zip(calls, outcomes, strict=True):
        kind = output_kind(outcome.output)
        if kind is not None and kind not in declared:
            shown = outcome.output if len(outcome.output) <= _SHOWN else _NAMES[kind]
            return f"{call} returned {shown}, not {_phrase(annotation)} as the spec declares"
    return None


def accepted(annotation: str, *, none_ok: bool = False) -> set[str] | None:
    """The output kinds a value of `annotation` may show; None where the annotation is not
    one whose values the output text tells apart."""
    kinds = {"none"} if none_ok else set()
    for part in _union_parts(annotation):
        if part == "None":
            kinds.add("none")
            continue
        head = part.partition("[")[0]
        if head not in _ACCEPTS:
            return None
        kinds |= _ACCEPTS[head]
    return kinds


def output_kind(output: str) -> str | None:
    """The kind of a probe's canonical output text; None for an exception, a timeout, no
    output, or a value whose text does not say (a record, a Decimal)."""
    if output == "None":
        return "none"
    if output in ("True", "False"):
        return "boolean"
    if output[:1] in ("'", '"'):
        return "string"
    for prefix, kind in _CONTAINERS:
        if output.startswith(prefix):
            return kind
    if _INTEGRAL.fullmatch(output):
        return "integral"
    if _FRACTIONAL.fullmatch(output):
        return "fractional"
    return None


def _union_parts(annotation: str) -> list[str]:
    """`int | None` -> ["int", "None"]; a `|` inside brackets stays in its part."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(annotation):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(annotation[start:i].strip())
            start = i + 1
    parts.append(annotation[start:].strip())
    return parts


def _phrase(annotation: str) -> str:
    article = "an" if annotation[:1] in "aeiou" else "a"
    return f"{article} {annotation}"
