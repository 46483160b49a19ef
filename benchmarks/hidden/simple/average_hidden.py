"""Hidden tests for average.mrsh: what its description states beyond its examples."""

import math

from average import average


def test_empty():
    assert average([]) == 0.0


def test_fraction():
    assert math.isclose(average([1.0, 2.0]), 1.5)


def test_negative():
    assert math.isclose(average([-1.0, -3.0]), -2.0)
