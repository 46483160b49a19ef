"""Hidden tests for clock.mrsh: what its description states beyond its examples."""

import pytest
from clock import format_time, meeting_end, parse_time


def test_limits():
    assert parse_time("00:00") == 0
    assert parse_time("23:59") == 1439


def test_invalid_times():
    for text in ("24:00", "12:60"):
        with pytest.raises(ValueError):
            parse_time(text)


def test_wraps_and_pads():
    assert format_time(5) == "00:05"
    assert format_time(1440) == "00:00"
    assert format_time(1500) == "01:00"


def test_after_midnight():
    assert meeting_end("23:30", 45) == "00:15"
