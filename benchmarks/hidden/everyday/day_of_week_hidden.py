"""Hidden tests for day_of_week.mrsh: what its description states beyond its examples."""

from day_of_week import day_of_week


def test_leap_day():
    assert day_of_week("2000-02-29") == "Tuesday"


def test_sunday():
    assert day_of_week("2023-12-31") == "Sunday"
