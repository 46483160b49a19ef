"""Hidden tests for slugify.mrsh: what its description states beyond its examples."""

from slugify import slugify


def test_punctuation_separates():
    assert slugify("Hello, World!") == "hello-world"


def test_runs_of_spaces_and_edges():
    assert slugify("  Many   spaces  ") == "many-spaces"


def test_digits_kept():
    assert slugify("C3PO and R2D2") == "c3po-and-r2d2"
