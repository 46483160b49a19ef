"""Hidden tests for capitalize_name.mrsh: what its description states beyond its examples."""

from capitalize_name import capitalize_name


def test_hyphen_and_upper_case():
    assert capitalize_name("anne-marie DUPONT") == "Anne-Marie Dupont"
