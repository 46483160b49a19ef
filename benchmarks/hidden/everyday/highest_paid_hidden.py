"""Hidden tests for highest_paid.mrsh: what its description states beyond its examples."""

from highest_paid import Employee, highest_paid


def test_tie_goes_to_first():
    staff = [Employee("Ann", "it", 5000), Employee("Bob", "it", 5000)]
    assert highest_paid(staff, "it") == "Ann"


def test_other_departments_ignored():
    staff = [Employee("Ann", "sales", 9000), Employee("Bob", "it", 5000)]
    assert highest_paid(staff, "it") == "Bob"


def test_nobody():
    assert highest_paid([Employee("Ann", "sales", 5000)], "it") is None
