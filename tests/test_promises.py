"""Promises of a description that code must show a sign of keeping: case blindness."""

from __future__ import annotations

import pytest

from marshalike.parse import parse
from marshalike.promises import case_blind, unkept
from marshalike.spec import Func

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
        ("Letters in any case are accepted.", True),
        ("Ignore upper/lower case.", True),
        ("The comparison does not ignore case.", False),
        ("Vowels in upper or lower case.", False),  # says both count, not that case is lost
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
    ],
)  # fmt: skip
def test_unkept_case_blindness(code: str, reason: str | None) -> None:
    assert unkept(code, BLIND) == reason


def test_a_description_that_promises_nothing_keeps_any_code() -> None:
    assert unkept("def same(w):\n    return w == w[::-1]\n", func("A palindrome.")) is None
