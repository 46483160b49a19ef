"""The inputs a function's description rules out: "a non-empty list", "a positive number".

The probe gate runs candidates on inputs mutated from the examples (`mutate`), and an empty
list is one of the mutations. A function documented for non-empty lists may index its first
item; that it fails on `[]` says nothing against it, and rejecting it for that throws away a
right answer. So mutated values the description excludes are never drawn as probe
inputs. Only phrases that name an input count: "the square of a negative number
is positive" or "return only positive numbers" limits nothing, "given a positive number"
does. The test is on the mutated value itself: an argument an example gives is never
judged, since the example shows that input is meant.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from marshalike.spec import Func

_NOUNS = (
    r"(?:integers?|ints?|numbers?|whole numbers?|floats?|floating[- ]point numbers?|values?|"
    r"amounts?|counts?|sizes?|lengths?)"
)
_NON_EMPTY = re.compile(
    r"\b(?:non-?empty|not empty|never empty)\b|"
    r"\bat least one (?:element|item|number|value|character|char|word|entry|letter)\b",
    re.IGNORECASE,
)
# "a positive number" is an input; "return only positive numbers" speaks of the output.
_ONE = r"\b(?:a|an|each|every|two|both)\s+"
_POSITIVE = re.compile(rf"{_ONE}(?:strictly )?positive {_NOUNS}\b", re.IGNORECASE)
_NON_NEGATIVE = re.compile(rf"{_ONE}(?:non-?negative|natural) {_NOUNS}\b", re.IGNORECASE)


def admits(func: Func) -> Callable[[object], bool]:
    """A test of one argument value of `func`: False when the description rules it out."""
    prose = " ".join([func.description, *(p.type for p in func.params)])
    non_empty = _NON_EMPTY.search(prose) is not None
    positive = _POSITIVE.search(prose) is not None
    non_negative = _NON_NEGATIVE.search(prose) is not None
    return lambda value: not _excluded(value, non_empty, positive, non_negative)


def _excluded(value: object, non_empty: bool, positive: bool, non_negative: bool) -> bool:
    if non_empty and isinstance(value, str | list | tuple | dict | set):
        return not value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (positive and value <= 0) or (non_negative and value < 0)
