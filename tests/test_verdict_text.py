"""One line per failing example, shared by the repair prompt and `marshalike check`."""

from __future__ import annotations

import pytest

from marshalike.language.parse import parse
from marshalike.language.spec import Func
from marshalike.sandbox.verify import ExampleResult
from marshalike.synth.verdict_text import describe

SPEC = """\
# func halve(an even integer): half of it

Divide by two; odd numbers are refused.

* halve(4) = 2
* halve(3) raises ValueError
"""


def halve() -> Func:
    module = parse(SPEC, "halve.mrsh").module
    assert module is not None
    return module.funcs[0]


@pytest.mark.parametrize(
    ("result", "line"),
    [
        (ExampleResult("test_halve_1", "pass"), None),
        (ExampleResult("test_halve_1", "fail", "2", "2.0"),
         "halve(4) should return 2, but it returned 2.0"),
        (ExampleResult("test_halve_1", "timeout"), "halve(4) did not finish within 2.5 s"),
        (ExampleResult("test_halve_1", "not_run", message="the run was killed"),
         "halve(4) was not run: the run was killed"),
        (ExampleResult("test_halve_2", "error", error_type="Failed", message="DID NOT RAISE"),
         "halve(3) should raise ValueError, but it did not"),
        (ExampleResult("test_halve_1", "error", error_type="Failed", message="DID NOT RAISE"),
         "halve(4) raised Failed: DID NOT RAISE"),
        (ExampleResult("test_halve_1", "error", error_type="ZeroDivisionError"),
         "halve(4) raised ZeroDivisionError"),
        (ExampleResult("test_halve_1", "error"), "halve(4) raised an error"),
    ],
)  # fmt: skip
def test_each_status_reads_as_one_line(result: ExampleResult, line: str | None) -> None:
    assert describe(result, halve(), 2.5) == line


def test_without_the_function_the_line_names_the_test() -> None:
    result = ExampleResult("test_halve_9", "timeout")
    assert describe(result, halve(), 10) == "test_halve_9 did not finish within 10 s"
    assert describe(result, None, 10) == "test_halve_9 did not finish within 10 s"


def test_a_value_of_the_wrong_type_says_why() -> None:
    why = "an instance of m.I, a subclass of int"
    result = ExampleResult("test_f_1", "fail", expected="4", actual="4", message=why)
    assert describe(result, None, 10) == (
        "test_f_1 should return 4, but it returned 4: an instance of m.I, a subclass of int"
    )
    plain = ExampleResult("test_f_1", "fail", expected="4", actual="5", message="a different value")
    assert describe(plain, None, 10) == "test_f_1 should return 4, but it returned 5"
