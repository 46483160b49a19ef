"""Hidden tests for largest.mrsh: what its description states beyond its examples."""

from largest import largest


def test_all_negative():
    assert largest([-3, -1, -2]) == -1


def test_single():
    assert largest([7]) == 7
