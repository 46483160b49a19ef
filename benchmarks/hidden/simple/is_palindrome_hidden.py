"""Hidden tests for is_palindrome.mrsh: what its description states beyond its examples."""

from is_palindrome import is_palindrome


def test_ignores_case():
    assert is_palindrome("Level") is True


def test_empty():
    assert is_palindrome("") is True


def test_almost():
    assert is_palindrome("abca") is False
