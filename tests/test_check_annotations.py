"""GitHub Actions annotations escape the `file=` property as the runner requires: a `,`
or `:` in a path would otherwise end it, and `%`, CR and LF are escaped as in messages."""

from __future__ import annotations

from marshalike.build import check_report
from marshalike.build.freshness import Finding, SpecCheck


def test_a_path_with_commas_and_colons_is_one_property() -> None:
    finding = Finding("stale", "a: b, c", "a,b::c/5%\n.mrsh", line=2, column=3)
    checks = [SpecCheck("a,b::c/5%\n.mrsh", "", findings=(finding,))]
    assert check_report.github_annotations(checks) == (
        "::error file=a%2Cb%3A%3Ac/5%25%0A.mrsh,line=2,col=3::a: b, c\n"
    )
