"""Hidden tests for is_valid_email.mrsh: what its description states beyond its examples."""

from is_valid_email import is_valid_email


def test_space():
    assert is_valid_email("a b@c.com") is False


def test_domain_without_dot():
    assert is_valid_email("a@b") is False


def test_domain_edges():
    assert is_valid_email("a@.com") is False
    assert is_valid_email("a@b.com.") is False


def test_empty_local_part():
    assert is_valid_email("@b.com") is False


def test_two_at_signs():
    assert is_valid_email("a@@b.com") is False
