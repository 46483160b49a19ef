"""Hidden tests for clamp.mrsh: what its description states beyond its examples."""

from clamp import clamp


def test_above_high():
    assert clamp(11, 0, 10) == 10


def test_bounds_included():
    assert clamp(0, 0, 10) == 0
    assert clamp(10, 0, 10) == 10
