"""Rendering a diagnostic: whatever a spec holds, what reaches the terminal is one escape
per control character, with the caret still under the characters it points at."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from marshalike.cli.main import cli
from marshalike.language.diagnostics import Diagnostic, Span, printable, render


def test_control_characters_in_the_message_and_line_are_escaped_and_the_caret_follows() -> None:
    source = "# type P bad\x01\x0b.csv\n"
    found = Diagnostic("error", "M002", "unexpected 'bad\x01\x0b.csv'", Span(1, 10, 1, 19),
                       "s\x1b[2J.mrsh", "no \x07 here")  # fmt: skip
    assert render(found, source) == (
        "s\\x1b[2J.mrsh:1:10: error[M002]: unexpected 'bad\\x01\\x0b.csv'\n"
        "    # type P bad\\x01\\x0b.csv\n"
        "             ^^^^^^^^^^^^^^^\n"
        "  hint: no \\x07 here"
    )
    after = Diagnostic("error", "M001", "m", Span(1, 9, 1, 10))  # the `x`
    assert render(after, "a\x1b]0;t\x07 x b\n").splitlines()[1:] == [
        "    a\\x1b]0;t\\x07 x b",
        "    " + " " * len("a\\x1b]0;t\\x07 ") + "^",
    ]


def test_tabs_stay_and_bidi_and_line_separators_are_escaped() -> None:
    assert printable("a\tb\u202ec\u2028d\r\n") == "a\tb\\u202ec\\u2028d\\x0d\\x0a"
    found = Diagnostic("warning", "M024", "m", Span(1, 2, 1, 3))
    assert render(found, "\tx\n").splitlines()[1:] == ["    \tx", "    \t^"]


def test_a_byte_order_mark_that_starts_the_spec_is_not_shown() -> None:
    found = Diagnostic("warning", "M024", "spec declares no functions or types", Span(1, 1, 1, 2))
    assert render(found, "\ufeff") == (
        "<spec>:1:1: warning[M024]: spec declares no functions or types\n    \n    ^"
    )
    later = Diagnostic("error", "M001", "m", Span(1, 2, 1, 3))  # no column: editors show none
    assert render(later, "\ufeffab\n").splitlines()[1:] == ["    ab", "     ^"]


def test_parse_prints_no_raw_control_character(tmp_path: Path) -> None:
    spec = tmp_path / "e.mrsh"
    spec.write_bytes(b"# func f\x1b]0;pwned\x07\x1b[2J(x: int): int\n\nA thing.\n\n* f(1) = 1\n")
    bom = tmp_path / "bom.mrsh"
    bom.write_bytes(b"\xef\xbb\xbf")
    result = CliRunner().invoke(cli, ["parse", str(spec), str(bom)])
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\ufeff" not in result.output
    assert "    # func f\\x1b]0;pwned\\x07\\x1b[2J(x: int): int\n" in result.stderr
