"""Hidden tests for split_csv_line.mrsh: what its description states beyond its examples."""

from split_csv_line import split_csv_line


def test_quoted_comma():
    assert split_csv_line('a,"b,c",d') == ["a", "b,c", "d"]


def test_empty_field():
    assert split_csv_line("x,,y") == ["x", "", "y"]
