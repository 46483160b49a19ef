"""Hidden tests for reverse_text.mrsh: what its description states beyond its examples."""

from reverse_text import reverse_text


def test_spaces_and_punctuation():
    assert reverse_text("a b!") == "!b a"


def test_empty():
    assert reverse_text("") == ""
