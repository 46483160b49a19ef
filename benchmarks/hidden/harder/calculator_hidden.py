"""Hidden tests for calculator.mrsh: what its description states beyond its examples."""

import pytest
from calculator import evaluate, tokenize


def test_tokens_of_several_digits():
    assert tokenize("12*(3+45)") == ["12", "*", "(", "3", "+", "45", ")"]


def test_precedence():
    assert evaluate("2 + 3 * 4") == 14.0


def test_parentheses():
    assert evaluate("(2 + 3) * 4") == 20.0


def test_left_to_right():
    assert evaluate("10 - 4 - 3") == 3.0
    assert evaluate("16 / 4 / 2") == 2.0


def test_division_by_zero():
    with pytest.raises(ZeroDivisionError):
        evaluate("1 / 0")
