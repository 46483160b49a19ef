"""The reports of `marshalike check`, built from hand-made results (no sandbox run): each
report reads the finding's structured fields, never its message text."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from click.testing import CliRunner

from marshalike.build import check_report
from marshalike.build.freshness import Finding, SpecCheck
from marshalike.cli.main import cli
from marshalike.sandbox.verify import ExampleResult

# A message that does not start with its test's name: reports must not parse it.
ODD = Finding(
    "test-failed", "square(2): odd: should return 4", "out/test_sq.py", test="test_sq_1",
    status="timeout",
)  # fmt: skip
STALE = Finding("stale", "the spec changed since it was compiled: recompile it", "sq.mrsh")
TESTS = (ExampleResult("test_sq_1", "timeout"), ExampleResult("test_sq_2", "pass"))


def suite(checks: list[SpecCheck]) -> ElementTree.Element:
    text = check_report.junit(checks)
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n")
    return ElementTree.fromstring(text.split("\n", 1)[1]).find("testsuite")


def test_junit_matches_failures_to_tests_by_the_finding_test_field() -> None:
    found = suite([SpecCheck("sq.mrsh", "", findings=(ODD,), tests=TESTS)])
    assert (found.get("tests"), found.get("failures")) == ("2", "1")
    cases = found.findall("testcase")
    assert [c.get("name") for c in cases] == ["test_sq_1", "test_sq_2"]
    failure = cases[0].find("failure")
    assert (failure.get("type"), failure.get("message")) == ("timeout", ODD.message)
    assert failure.text == ODD.message
    assert cases[1].find("failure") is None


def test_junit_gives_findings_about_files_a_case_of_their_own() -> None:
    found = suite([SpecCheck("sq.mrsh", "", findings=(STALE,))])
    cases = found.findall("testcase")
    assert [c.get("name") for c in cases] == ["stale"]
    assert cases[0].find("failure").get("type") == "stale"
    assert (found.get("tests"), found.get("failures")) == ("1", "1")


def test_junit_of_a_clean_spec_without_tests_has_one_passing_case() -> None:
    found = suite([SpecCheck("sq.mrsh", "")])
    assert [c.get("name") for c in found.findall("testcase")] == ["outputs"]
    assert (found.get("tests"), found.get("failures")) == ("1", "0")


def test_json_carries_the_structured_fields() -> None:
    data = json.loads(
        check_report.as_json([SpecCheck("sq.mrsh", "", findings=(ODD,), tests=TESTS)])
    )
    assert data == [
        {
            "path": "sq.mrsh",
            "ok": False,
            "findings": [
                {"kind": "test-failed", "message": ODD.message, "path": "out/test_sq.py",
                 "line": 1, "column": 1, "test": "test_sq_1", "status": "timeout"},
            ],
            "tests": [
                {"test": "test_sq_1", "status": "timeout"},
                {"test": "test_sq_2", "status": "pass"},
            ],
            "questions": {},
            "strength": {},
        }
    ]  # fmt: skip


def test_text_and_annotations() -> None:
    checks = [
        SpecCheck("sq.mrsh", "", findings=(STALE,)),
        SpecCheck("ok.mrsh", "", tests=(ExampleResult("test_ok_1", "pass"),)),
    ]
    assert check_report.text(checks) == (
        "sq.mrsh: FAILED\n"
        "  stale: the spec changed since it was compiled: recompile it\n"
        "ok.mrsh: ok (1 test passed)\n"
        "2 specs checked, 1 failed\n"
    )
    multiline = Finding("edited", "50% done\nthen\rgone", "x.py", line=3, column=2)
    assert check_report.github_annotations([SpecCheck("x.mrsh", "", findings=(multiline,))]) == (
        "::error file=x.py,line=3,col=2::50%25 done%0Athen%0Dgone\n"
    )


# A finding quoting a spec line that holds controls: a title change, a bell, a screen
# clear, and two characters XML 1.0 cannot hold at all.
LOUD = Finding("spec-error", "unexpected 'bad\x01\x0b\x1b]0;pwned\x07\x1b[2J'", "s\x1b.mrsh")


def test_control_characters_are_escaped_in_every_report() -> None:
    checks = [SpecCheck("s\x1b.mrsh", "", findings=(LOUD,))]
    shown = "unexpected 'bad\\x01\\x0b\\x1b]0;pwned\\x07\\x1b[2J'"
    failure = suite(checks).find("testcase").find("failure")  # well-formed XML
    assert (failure.get("message"), failure.text) == (shown, shown)
    assert check_report.text(checks) == (
        f"s\\x1b.mrsh: FAILED\n  spec-error: {shown}\n1 spec checked, 1 failed\n"
    )
    assert check_report.github_annotations(checks) == (
        f"::error file=s\\x1b.mrsh,line=1,col=1::{shown}\n"
    )


def test_check_format_junit_is_well_formed_for_a_spec_with_control_characters(
    tmp_path: Path,
) -> None:
    (tmp_path / "ctl.mrsh").write_bytes(
        b"# type P bad\x01\x0b.csv\n\n# func f(x: int): int\n\nSame.\n\n* f(1) = 1\n"
    )
    result = CliRunner().invoke(cli, ["check", str(tmp_path), "--format", "junit"])
    assert result.exit_code == 2, result.output
    found = ElementTree.fromstring(result.stdout.split("\n", 1)[1]).find("testsuite")
    failure = found.find("testcase").find("failure")
    assert failure.get("message") == "unexpected 'bad\\x01 .csv' after the type name"
    assert "\x01" not in result.stderr and "\x0b" not in result.stderr
    assert "# type P bad\\x01\\x0b.csv\n" in result.stderr
