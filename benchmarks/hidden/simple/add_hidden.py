"""Hidden tests for add.mrsh: what its description states beyond its examples."""

from add import add


def test_negative():
    assert add(-5, 3) == -2


def test_large():
    assert add(10**18, 1) == 10**18 + 1
