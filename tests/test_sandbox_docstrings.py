"""The module under test loses its docstrings, and every other line keeps its number."""

from __future__ import annotations

from marshalike.sandbox.docstrings import without_docstrings

SOURCE = '''\
"""The module's own docstring,
over two lines."""
import re


def add(a, b):
    """Add.

    >>> add(1, 2)
    3
    """
    return a + b


class Empty:
    """Only a docstring: the body stays a body."""


class Packed:
    """Two lines, é,
    then a statement on the same line"""; x = 1

    async def method(self):
        r"""A raw docstring."""
        return add.__doc__, Packed.__doc__, Empty.__doc__, __doc__


def not_first():
    value = 1
    """A string that is not a docstring stays."""
    return value
'''


def test_every_docstring_goes_and_every_line_keeps_its_number() -> None:
    out = without_docstrings(SOURCE)
    assert len(out.splitlines()) == len(SOURCE.splitlines())
    for before, after in zip(SOURCE.splitlines(), out.splitlines(), strict=True):
        if "return" in before or "def " in before or "class " in before:
            assert after == before
    assert ">>>" not in out and "Only a docstring" not in out and "raw docstring" not in out
    assert "A string that is not a docstring stays." in out
    namespace: dict = {}
    exec(compile(out, "m.py", "exec"), namespace)
    assert namespace["Packed"].x == 1
    assert namespace["add"](1, 2) == 3 and namespace["add"].__doc__ is None
    assert namespace["Empty"].__doc__ is None and namespace.get("__doc__") is None


def test_text_that_does_not_parse_or_has_no_docstring_is_left_as_it_is() -> None:
    broken = 'def f(:\n    """doc"""\n'
    plain = "def f():\n    return 1\n"
    assert without_docstrings(broken) == broken
    assert without_docstrings(plain) == plain
