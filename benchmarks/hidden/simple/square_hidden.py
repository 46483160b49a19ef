"""Hidden tests for square.mrsh: what its description states beyond its examples."""

from square import square


def test_negative():
    assert square(-4) == 16


def test_zero():
    assert square(0) == 0
