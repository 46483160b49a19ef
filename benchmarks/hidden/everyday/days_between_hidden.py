"""Hidden tests for days_between.mrsh: what its description states beyond its examples."""

from days_between import days_between


def test_leap_february():
    assert days_between("2024-02-28", "2024-03-01") == 2


def test_end_before_start():
    assert days_between("2024-01-31", "2024-01-01") == -30


def test_across_years():
    assert days_between("2023-12-31", "2024-01-01") == 1
