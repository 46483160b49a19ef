"""Hidden tests for parse_duration.mrsh: what its description states beyond its examples."""

import pytest
from parse_duration import parse_duration


def test_minutes_and_seconds():
    assert parse_duration("2m5s") == 125


def test_hours_only():
    assert parse_duration("1h") == 3600


def test_empty_is_an_error():
    with pytest.raises(ValueError):
        parse_duration("")


def test_unknown_unit_is_an_error():
    with pytest.raises(ValueError):
        parse_duration("5x")
