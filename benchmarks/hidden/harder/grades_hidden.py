"""Hidden tests for grades.mrsh: what its description states beyond its examples."""

from grades import grade_report, letter_grade


def test_boundaries():
    assert [letter_grade(s) for s in (90, 89, 80, 79, 70, 69, 60, 59)] == [
        "A",
        "B",
        "B",
        "C",
        "C",
        "D",
        "D",
        "F",
    ]


def test_names_sorted():
    assert grade_report({"zed": 85, "amy": 81, "bo": 91}) == {"A": ["bo"], "B": ["amy", "zed"]}


def test_empty():
    assert grade_report({}) == {}
