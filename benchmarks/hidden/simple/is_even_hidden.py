"""Hidden tests for is_even.mrsh: what its description states beyond its examples."""

from is_even import is_even


def test_zero_is_even():
    assert is_even(0) is True


def test_negative_even():
    assert is_even(-2) is True


def test_negative_odd():
    assert is_even(-3) is False
