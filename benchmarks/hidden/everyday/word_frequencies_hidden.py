"""Hidden tests for word_frequencies.mrsh: what its description states beyond its examples."""

from word_frequencies import word_frequencies


def test_case_and_punctuation():
    assert word_frequencies("The the THE.") == {"the": 3}


def test_several_marks():
    assert word_frequencies("Hi, hi! ok?") == {"hi": 2, "ok": 1}


def test_empty():
    assert word_frequencies("") == {}
