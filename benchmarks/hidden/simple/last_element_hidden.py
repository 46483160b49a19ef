"""Hidden tests for last_element.mrsh: what its description states beyond its examples."""

from last_element import last_element


def test_empty():
    assert last_element([]) is None


def test_none_inside():
    assert last_element([None, 5]) == 5
