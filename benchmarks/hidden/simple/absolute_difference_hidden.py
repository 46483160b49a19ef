"""Hidden tests for absolute_difference.mrsh: what its description states beyond its examples."""

from absolute_difference import absolute_difference


def test_smaller_first():
    assert absolute_difference(3, 5) == 2


def test_negative_numbers():
    assert absolute_difference(-4, 6) == 10
