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

from marshalike.language.spec import Func

_NOUNS = (
    r"(?:integers?|ints?|numbers?|whole numbers?|floats?|floating[- ]point numbers?|values?|"
    r"amounts?|counts?|sizes?|lengths?)"
)
_NON_EMPTY = re.compile(r"\b(?:non-?empty|not empty|never empty)\b", re.IGNORECASE)
_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4}
# "at least two numbers", "of length at least 2": a smallest size for collections and texts.
_AT_LEAST = re.compile(
    r"\b(?:(?:of\s+)?(?:length|size)\s+(?:of\s+)?at\s+least\s+(?P<n1>one|two|three|four|\d+)|"
    r"at\s+least\s+(?P<n2>one|two|three|four|\d+)\s+(?:elements?|items?|numbers?|values?|"
    r"characters?|chars?|words?|entries|entry|letters?|strings?|integers?|floats?)\b)",
    re.IGNORECASE,
)
# "a positive number" is an input; "return only positive numbers" speaks of the output.
_ONE = r"\b(?:a|an|each|every|two|both)\s+"
_POSITIVE = re.compile(rf"{_ONE}(?:strictly )?positive {_NOUNS}\b", re.IGNORECASE)
_NON_NEGATIVE = re.compile(rf"{_ONE}(?:non-?negative|natural) {_NOUNS}\b", re.IGNORECASE)


def admits(func: Func) -> Callable[[object], bool]:
    """A test of one argument value of `func`: False when the description rules it out."""
    prose = " ".join([func.description, *(p.type for p in func.params)])
    smallest = _smallest_size(prose)
    positive = _POSITIVE.search(prose) is not None
    non_negative = _NON_NEGATIVE.search(prose) is not None
    return lambda value: not _excluded(value, smallest, positive, non_negative)


def _smallest_size(prose: str) -> int:
    """The fewest items (or characters) the description allows a collection or text."""
    sizes = [1] if _NON_EMPTY.search(prose) else [0]
    for match in _AT_LEAST.finditer(prose):
        word = (match["n1"] or match["n2"]).lower()
        sizes.append(_COUNTS[word] if word in _COUNTS else int(word))
    return max(sizes)


def _excluded(value: object, smallest: int, positive: bool, non_negative: bool) -> bool:
    if isinstance(value, str | list | tuple | dict | set):
        return len(value) < smallest
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (positive and value <= 0) or (non_negative and value < 0)
