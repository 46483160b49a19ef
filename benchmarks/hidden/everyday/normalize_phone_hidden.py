"""Hidden tests for normalize_phone.mrsh: what its description states beyond its examples."""

import pytest
from normalize_phone import normalize_phone


def test_country_code_and_dots():
    assert normalize_phone("+1 555.123.4567") == "555-123-4567"


def test_country_code_without_plus():
    assert normalize_phone("15551234567") == "555-123-4567"


def test_too_short():
    with pytest.raises(ValueError):
        normalize_phone("555-1234")
