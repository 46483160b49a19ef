"""`check_solution`: one given solution judged by the examples, then by the probe gate, as
the loop judges a candidate. The solutions are written here; no model runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from marshalike.sandbox.isolation import Limits
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.solution_check import SolutionVerdict, check_solution

HALF = (
    "# func half(n: integer): integer\n\nHalf of n, rounded down.\n\n* half(8) = 4\n* half(9) = 4\n"
)
PROBING = LoopSettings(kind="completion", probe=True, limits=Limits(timeout_s=10))


def spec(tmp_path: Path, text: str, name: str = "half") -> Path:
    path = tmp_path / f"{name}.mrsh"
    path.write_text(text, encoding="utf-8")
    return path


def test_right_code_is_accepted(tmp_path: Path) -> None:
    code = "def half(n: int) -> int:\n    return n // 2\n"
    assert check_solution(spec(tmp_path, HALF), code, PROBING) == SolutionVerdict("accepted")


def test_code_that_fails_an_example_says_which(tmp_path: Path) -> None:
    code = "def half(n: int) -> int:\n    return n / 2\n"
    verdict = check_solution(spec(tmp_path, HALF), code, PROBING)
    assert verdict.outcome == "failing"
    assert verdict.reason.startswith("half(8) should return 4, but it returned 4.0")


def test_code_whose_test_file_fails_under_pytest_is_failing(tmp_path: Path) -> None:
    """Right for the verifier, wrong wherever a frame of pytest's is on the stack: compile
    would not write it, so it is no right answer."""
    code = (
        "import warnings\n\n\ndef half(n: int) -> int:\n"
        "    with warnings.catch_warnings(record=True) as seen:\n"
        "        warnings.simplefilter('always')\n"
        "        for level in range(2, 40):\n"
        "            warnings.warn('where', stacklevel=level)\n"
        "    return n // 2 + any('pytest' in str(w.filename) for w in seen)\n"
    )
    verdict = check_solution(spec(tmp_path, HALF), code, PROBING)
    assert verdict.outcome == "failing"
    assert verdict.reason.startswith(
        "its test file fails under pytest (FAILED test_half.py::test_half_1 - "
    ), verdict.reason


def test_code_the_gate_turns_away_gives_the_gate_s_reason(tmp_path: Path) -> None:
    code = "def half(n: int) -> int:\n    return 4 if 8 <= n <= 9 else n // 2\n"
    verdict = check_solution(spec(tmp_path, HALF), code, PROBING)
    assert verdict == SolutionVerdict(
        "rejected", "it special-cases 8, an argument of the examples: `8 <= n <= 9`"
    )


def test_a_crash_on_a_probe_input_is_a_rejection(tmp_path: Path) -> None:
    code = "def half(n: int) -> int:\n    if n > 0:\n        return n // 2\n"
    verdict = check_solution(spec(tmp_path, HALF), code, PROBING)
    assert verdict.outcome == "rejected"
    assert verdict.reason.endswith("returned None, not an int as the spec declares")


def test_a_crash_where_the_spec_is_silent_is_a_question_not_a_rejection(tmp_path: Path) -> None:
    text = (
        "# func first(items: list of integers): integer\n\nThe first item.\n\n* first([4, 5]) = 4\n"
    )
    code = "def first(items: list[int]) -> int:\n    return items[0]\n"
    verdict = check_solution(spec(tmp_path, text), code, PROBING)
    assert verdict == SolutionVerdict(
        "asked", "first([]) raised IndexError: list index out of range"
    )


def test_without_the_probe_gate_passing_the_examples_is_enough(tmp_path: Path) -> None:
    code = "def half(n: int) -> int:\n    return 4 if 8 <= n <= 9 else n // 2\n"
    plain = LoopSettings(kind="completion", probe=False, limits=Limits(timeout_s=10))
    assert check_solution(spec(tmp_path, HALF), code, plain) == SolutionVerdict("accepted")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# func half(n: integer): integer\n\nHalf of n.\n", "no checkable example"),
        (HALF + "\n# func twice(n: integer): integer\n\nTwice n.\n\n* twice(2) = 4\n",
         "more than one function or a # use"),
        ("# func half(n: integer): integer\n\n* nope(8) = 4\n", "the spec has errors"),
    ],
)  # fmt: skip
def test_specs_it_cannot_judge(tmp_path: Path, text: str, reason: str) -> None:
    code = "def half(n: int) -> int:\n    return n // 2\n"
    assert check_solution(spec(tmp_path, text), code, PROBING) == SolutionVerdict(
        "unjudged", reason
    )
