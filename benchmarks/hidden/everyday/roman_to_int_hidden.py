"""Hidden tests for roman_to_int.mrsh: what its description states beyond its examples."""

from roman_to_int import roman_to_int


def test_long_numeral():
    assert roman_to_int("MCMXCIV") == 1994


def test_subtractive_forms():
    assert roman_to_int("XL") == 40
    assert roman_to_int("CD") == 400
