"""Hidden tests for format_bytes.mrsh: what its description states beyond its examples."""

from format_bytes import format_bytes


def test_fraction_of_kb():
    assert format_bytes(1536) == "1.5 KB"


def test_megabyte_and_gigabyte():
    assert format_bytes(1048576) == "1.0 MB"
    assert format_bytes(1073741824) == "1.0 GB"


def test_small():
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
