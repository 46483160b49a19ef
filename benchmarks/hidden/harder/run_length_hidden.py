"""Hidden tests for run_length.mrsh: what its description states beyond its examples."""

from run_length import decode, encode


def test_long_run():
    assert encode("a" * 12) == "a12"


def test_decode_several_digits():
    assert decode("a12b2") == "a" * 12 + "bb"


def test_empty():
    assert encode("") == ""
    assert decode("") == ""


def test_round_trip():
    assert decode(encode("aabcccccccccccd")) == "aabcccccccccccd"
