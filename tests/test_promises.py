"""Promises of a description that code must show a sign of keeping: case blindness."""

from __future__ import annotations

import pytest

from marshalike.gate.promises import case_blind, unkept
from marshalike.language.parse import parse
from marshalike.language.spec import Func

UNKEPT = "the description says case does not matter, and the code never changes case"


@pytest.mark.parametrize(
    ("text", "blind"),
    [
        ("True when it reads the same backwards, ignoring the difference between upper and "
         "lower case.", True),
        ("Units are case-insensitive.", True),
        ("Words are compared case insensitively.", True),
        ("Counted without regard to case: the keys are lower case.", True),
        ("Distinct characters, regardless of case.", True),
        ("In any case, return 0.", False),  # "in any case": anyway
        ("A character that is not a letter (in either case) is returned unchanged.", False),
        ("Ignore upper/lower case.", True),
        ("The comparison does not ignore case.", False),
        ("The comparison doesn't ignore case.", False),
        ("Vowels (a, e, i, o, u) in upper or lower case.", True),
        ("Letters in upper- or lower-case.", True),
        ("Letters in upper and lower case alike.", True),
        ("The name in upper case.", False),
        ("Upper case letters or lower case digits.", False),
        ("The name in title case.", False),
        ("Ignore spaces. The result is lower case.", False),  # the sentence ends before
        ("In this case return 0.", False),
    ],
)  # fmt: skip
def test_case_blind_descriptions(text: str, blind: bool) -> None:
    assert case_blind(text) is blind


def func(description: str) -> Func:
    text = f"# func same(a string): a boolean\n\n{description}\n\n* same('level') = True\n"
    module = parse(text, "unit.mrsh").module
    assert module is not None
    return module.funcs[0]


BLIND = func("A palindrome, ignoring case.")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("def same(w):\n    return w == w[::-1]\n", UNKEPT),
        ('def same(w):\n    """Ignoring Case."""\n    return w == w[::-1]\n', UNKEPT),
        ("def same(w):\n    return w.lower() == w[::-1].lower()\n", None),
        ("def same(w):\n    w = w.casefold()\n    return w == w[::-1]\n", None),
        ("def same(w):\n    return str.upper(w) == str.upper(w)[::-1]\n", None),
        ("import re\ndef same(w):\n    return bool(re.fullmatch(w[::-1], w, re.I))\n", None),
        ("from string import ascii_lowercase\ndef same(w):\n    return w[0] in ascii_lowercase\n",
         None),
        # a helper whose body the check cannot see may fold the case
        ("def same(w):\n    return normalized(w) == normalized(w)[::-1]\n", None),
        # a function the code defines is seen: it changes no case
        ("def rev(w):\n    return w[::-1]\ndef same(w):\n    return w == rev(w)\n", UNKEPT),
        # a standard library function is no helper of the spec
        ("from operator import eq\ndef same(w):\n    return eq(w, w[::-1])\n", UNKEPT),
        ("def same(w:\n", None),  # not Python: other checks say so
        ("def same(w):\n    return sum(c in 'aeiouAEIOU' for c in w) > 0\n", None),
        ("def same(w):\n    return sum(c in 'aeiou' for c in w) > 0\n", UNKEPT),
        ("def same(w):\n    return all('a' <= c <= 'z' or 'A' <= c <= 'Z' for c in w)\n", None),
        ("def same(w):\n    return w in ('Xyz', 'Qrs')\n", UNKEPT),  # no letter in both
    ],
)  # fmt: skip
def test_unkept_case_blindness(code: str, reason: str | None) -> None:
    assert unkept(code, BLIND) == reason


def test_a_description_that_promises_nothing_keeps_any_code() -> None:
    assert unkept("def same(w):\n    return w == w[::-1]\n", func("A palindrome.")) is None
