"""The generated test file, run with plain pytest, is not fooled by a value that only claims
to be equal, and accepts what the verifier accepts."""

from __future__ import annotations

import math
import subprocess
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from http import HTTPStatus
from pathlib import Path

import pytest
from pytest_run import run_pytest

from marshalike.codegen import emit
from marshalike.codegen.testfile import SAME_HELPER
from marshalike.language.parse import parse

SPEC = """\
# func add(integer, integer): integer

Add them.

* add(1, 2) = 3

# func mean(list of numbers): float

The mean.

* mean([1, 2]) = 1.5
* mean([2]) = 2

# func counts(string): dict of string to integer

How often each letter occurs.

* counts('aab') = {'b': 1, 'a': 2}
"""
RIGHT = """\
def add(a, b):
    return a + b


def mean(xs):
    return sum(xs) / len(xs)


def counts(s):
    return {c: s.count(c) for c in s}
"""
PLUS_ONE = timezone(timedelta(hours=1))
FOOLS = {
    "always equal": (
        "class _Any:\n    def __init__(self, value):\n        pass\n\n"
        "    def __eq__(self, other):\n        return True\n\n"
        "    def __repr__(self):\n        return '3'\n"
    ),
    "int subclass": (
        "class _Any(int):\n    def __eq__(self, other):\n        return True\n\n"
        "    __hash__ = int.__hash__\n\n    def __repr__(self):\n        return '3'\n"
    ),
}


def run(tmp_path: Path, module: str) -> subprocess.CompletedProcess[str]:
    parsed = parse(SPEC, "calc.mrsh")
    assert parsed.module is not None
    tests = emit.test_source(
        parsed.module, module_name="calc", spec_name="calc.mrsh", spec_hash=emit.spec_hash(SPEC)
    )
    (tmp_path / "calc.py").write_text(module, encoding="utf-8")
    (tmp_path / "test_calc.py").write_text(tests, encoding="utf-8")
    return run_pytest(tmp_path, "test_calc.py")


def test_the_right_answer_passes(tmp_path: Path) -> None:
    result = run(tmp_path, RIGHT)
    assert result.returncode == 0, result.stdout
    assert "4 passed" in result.stdout


@pytest.mark.parametrize("fool", sorted(FOOLS))
def test_a_value_equal_to_everything_fails(tmp_path: Path, fool: str) -> None:
    module = RIGHT.replace("return a + b", "return _Any(a + b)") + "\n\n" + FOOLS[fool]
    result = run(tmp_path, module)
    assert result.returncode == 1
    assert "AssertionError: 3 (_Any) is not 3" in result.stdout
    assert "3 passed" in result.stdout


def test_true_is_not_one(tmp_path: Path) -> None:
    module = RIGHT.replace("return {c: s.count(c) for c in s}", "return {'a': 2, 'b': True}")
    result = run(tmp_path, module)
    assert "AssertionError: {'a': 2, 'b': True} (dict) is not {'b': 1, 'a': 2}" in result.stdout
    assert "3 passed" in result.stdout


def test_numbers_match_as_the_verifier_matches_them(tmp_path: Path) -> None:
    # an int where a float is expected, and a float where the declared float return
    # type has an int example, both pass; a float from an integer function does not
    module = RIGHT.replace("return sum(xs) / len(xs)", "return 2 if xs == [2] else 1.5000001")
    module = module.replace("return a + b", "return float(a + b)")
    result = run(tmp_path, module)
    assert "AssertionError: 3.0 (float) is not 3" in result.stdout
    assert "3 passed" in result.stdout


@pytest.mark.parametrize(
    ("actual", "expected", "float_ok", "same"),
    [
        (1, 1, False, True),
        (True, 1, False, False),
        (1, True, False, False),
        (1, 1.0, False, True),
        (1.0, 1, False, False),
        (1.0, 1, True, True),
        (0.1 + 0.2, 0.3, False, True),
        (1e-13, 0.0, False, True),
        (1.001, 1.0, False, False),
        (float("nan"), float("nan"), False, False),
        (float("inf"), float("inf"), False, True),
        (float("-inf"), float("inf"), False, False),
        ([1, (2, 3.0)], [1, (2, 3.0)], False, True),
        ([1, [2, 3]], [1, (2, 3)], False, False),
        ([1, 2], [1, 2, 3], False, False),
        ({"b": 1, "a": [2]}, {"a": [2], "b": 1}, False, True),
        ({1: "x"}, {True: "x"}, False, False),
        ({1, 2}, {2, 1}, False, True),
        ({1, 2}, {True, 2}, False, False),
        (frozenset({(1, 2)}), frozenset({(1, 2)}), False, True),
        ({1, 2}, frozenset({1, 2}), False, False),
        (None, None, False, True),
        ("a", b"a", False, False),
        # set members and dict keys: NaN matches nothing, even the same object
        ({math.nan}, {math.nan}, False, False),
        ({(1, math.nan)}, {(1, math.nan)}, False, False),
        ({frozenset({math.nan})}, {frozenset({math.nan})}, False, False),
        ({math.nan: 1}, {math.nan: 1}, False, False),
        (OrderedDict([(math.nan, 1)]), OrderedDict([(math.nan, 1)]), False, False),
        ({Decimal("NaN")}, {Decimal("NaN")}, False, False),
        ({Decimal("1.00")}, {Decimal("1.0")}, False, True),
        ({complex(0, -0.0)}, {0j}, False, True),
        # a datetime or time keeps its zone and fold there too
        (
            {datetime(2024, 1, 1, 13, tzinfo=PLUS_ONE)},
            {datetime(2024, 1, 1, 12, tzinfo=UTC)},
            False,
            False,
        ),
        ({datetime(2024, 1, 1, 12, fold=1): 1}, {datetime(2024, 1, 1, 12): 1}, False, False),
        (
            {datetime(2024, 1, 1, 12, tzinfo=UTC)},
            {datetime(2024, 1, 1, 12, tzinfo=UTC)},
            False,
            True,
        ),
        # a type the verifier cannot read matches nothing
        (range(3), range(3), False, False),
        (HTTPStatus.OK, HTTPStatus.OK, False, False),
        (Fraction(1, 2), Fraction(2, 4), False, True),
    ],
)
def test_same(actual: object, expected: object, float_ok: bool, same: bool) -> None:
    namespace: dict[str, object] = {}
    exec(compile(emit_helper(), "<helper>", "exec"), namespace)
    assert namespace["_same"](actual, expected, float_ok) is same  # type: ignore[operator]


class _ClaimsInt(type):
    """A metaclass that makes its classes equal to `int`, hashed alike."""

    def __eq__(cls, other: object) -> bool:
        return True

    def __hash__(cls) -> int:
        return hash(int)


class _Liar(metaclass=_ClaimsInt):
    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(self.n)


def test_a_set_of_values_whose_class_claims_to_be_int_is_no_set_of_ints() -> None:
    namespace: dict[str, object] = {}
    exec(compile(emit_helper(), "<helper>", "exec"), namespace)
    same = namespace["_same"]
    assert same({_Liar(1), _Liar(2)}, {1, 2}, False) is False  # type: ignore[operator]
    assert same({_Liar(1): "a"}, {1: "a"}, False) is False  # type: ignore[operator]
    assert same({(1, _Liar(2))}, {(1, 2)}, False) is False  # type: ignore[operator]


def test_records_compare_field_by_field() -> None:
    namespace: dict[str, object] = {}
    exec(
        compile(
            "from dataclasses import dataclass\n\n@dataclass\nclass P:\n    x: float\n"
            "\n\n@dataclass\nclass Q:\n    x: float\n\n" + emit_helper(),
            "<helper>",
            "exec",
        ),
        namespace,
    )
    same, p, q = namespace["_same"], namespace["P"], namespace["Q"]
    assert same(p(1.0000000001), p(1.0))  # type: ignore[operator]
    assert not same(p(True), p(1))  # type: ignore[operator]
    assert not same(q(1.0), p(1.0))  # type: ignore[operator]


def emit_helper() -> str:
    return SAME_HELPER + "\n"


def test_a_nested_standard_library_exception_imports_its_module() -> None:
    """`raises xml.parsers.expat.ExpatError` needs `import xml.parsers.expat`: `import
    xml` alone leaves `xml.parsers` unloaded where nothing else loaded it."""
    from marshalike.codegen.testfile import _exception, _Needs

    needs = _Needs()
    assert _exception("xml.parsers.expat.ExpatError", needs)[0] == "xml.parsers.expat.ExpatError"
    assert "xml.parsers.expat" in needs.names
