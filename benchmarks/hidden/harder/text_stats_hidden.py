"""Hidden tests for text_stats.mrsh: what its description states beyond its examples."""

from text_stats import average_sentence_length, sentences


def test_all_marks_and_trailing_text():
    assert sentences("Wait! Really? Yes") == ["Wait", "Really", "Yes"]


def test_no_sentences():
    assert average_sentence_length("") == 0.0


def test_mixed_lengths():
    assert average_sentence_length("a b. c d e! f") == 2.0


def test_rounded():
    assert average_sentence_length("a. b. c d.") == 1.33
