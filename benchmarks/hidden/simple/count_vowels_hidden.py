"""Hidden tests for count_vowels.mrsh: what its description states beyond its examples."""

from count_vowels import count_vowels


def test_upper_case():
    assert count_vowels("AEIOU") == 5


def test_y_is_not_a_vowel():
    assert count_vowels("yay") == 1


def test_empty():
    assert count_vowels("") == 0
