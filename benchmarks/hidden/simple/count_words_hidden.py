"""Hidden tests for count_words.mrsh: what its description states beyond its examples."""

from count_words import count_words


def test_several_spaces():
    assert count_words("a   b") == 2


def test_tabs_and_newlines():
    assert count_words("  one\ttwo\nthree  ") == 3


def test_empty():
    assert count_words("") == 0
