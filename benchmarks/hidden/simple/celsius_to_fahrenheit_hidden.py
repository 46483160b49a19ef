"""Hidden tests for celsius_to_fahrenheit.mrsh: what its description states beyond its examples."""

import math

from celsius_to_fahrenheit import celsius_to_fahrenheit


def test_minus_forty():
    assert math.isclose(celsius_to_fahrenheit(-40), -40.0)


def test_body_temperature():
    assert math.isclose(celsius_to_fahrenheit(37), 98.6)
