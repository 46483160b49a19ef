"""Hidden tests for add_days.mrsh: what its description states beyond its examples."""

from add_days import add_days


def test_leap_day():
    assert add_days("2024-02-28", 1) == "2024-02-29"


def test_negative():
    assert add_days("2023-03-01", -1) == "2023-02-28"


def test_year_rolls_over():
    assert add_days("2024-12-31", 1) == "2025-01-01"
