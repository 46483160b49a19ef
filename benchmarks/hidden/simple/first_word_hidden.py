"""Hidden tests for first_word.mrsh: what its description states beyond its examples."""

from first_word import first_word


def test_leading_spaces():
    assert first_word("   padded text") == "padded"


def test_no_word():
    assert first_word("") == ""
    assert first_word("   ") == ""
