"""Hidden tests for caesar.mrsh: what its description states beyond its examples."""

from caesar import decrypt, encrypt, shift_letter


def test_keeps_case():
    assert shift_letter("A", 1) == "B"
    assert shift_letter("Z", 2) == "B"


def test_negative_and_large_shifts():
    assert shift_letter("a", -1) == "z"
    assert shift_letter("a", 27) == "b"


def test_other_characters_unchanged():
    assert shift_letter("!", 5) == "!"
    assert shift_letter("é", 5) == "é"


def test_sentence():
    assert encrypt("Hello, World!", 3) == "Khoor, Zruog!"


def test_round_trip():
    assert decrypt(encrypt("Zebra", 30), 30) == "Zebra"
