"""Hand-written reference solution, used by the quality benchmark's simulated user."""

LETTERS = ((90, "A"), (80, "B"), (70, "C"), (60, "D"))


def letter_grade(score: int) -> str:
    for lowest, letter in LETTERS:
        if score >= lowest:
            return letter
    return "F"


def grade_report(scores: dict[str, int]) -> dict[str, list[str]]:
    report: dict[str, list[str]] = {}
    for name in sorted(scores):
        report.setdefault(letter_grade(scores[name]), []).append(name)
    return {letter: report[letter] for letter in "ABCDF" if letter in report}
