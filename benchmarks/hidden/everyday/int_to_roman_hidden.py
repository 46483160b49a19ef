"""Hidden tests for int_to_roman.mrsh: what its description states beyond its examples."""

import pytest
from int_to_roman import int_to_roman


def test_long_numeral():
    assert int_to_roman(1994) == "MCMXCIV"


def test_largest():
    assert int_to_roman(3999) == "MMMCMXCIX"


def test_out_of_range():
    with pytest.raises(ValueError):
        int_to_roman(0)
    with pytest.raises(ValueError):
        int_to_roman(4000)
