"""The progress display of `marshalike compile`: a live table at a terminal, timestamped
lines elsewhere, nothing with -q; the report on stdout is the same in every mode."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI
from test_clarify import _in_a_terminal, model_flags
from test_compile import RIGHT, SQUARE

from marshalike.cli.display import Display, choose_mode
from marshalike.cli.main import cli
from marshalike.synth.events import UnitEvent

STAMP = r"\d\d:\d\d:\d\d"


def compile_in(folder: Path, server: FakeOpenAI, *flags: str):
    (folder / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    argv = ["compile", str(folder), *model_flags(server), "--questions", "0", *flags]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def test_without_a_terminal_each_step_is_a_timestamped_line(tmp_path: Path) -> None:
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        plain = compile_in(tmp_path, server)
    assert plain.exit_code == 0, plain.output
    lines = plain.stderr.splitlines()
    assert re.fullmatch(rf"{STAMP} square\.square: compiling", lines[0]), lines
    assert re.fullmatch(rf"{STAMP} square\.square: sampling attempt 1 of 2", lines[1]), lines
    assert re.fullmatch(rf"{STAMP} square\.square: verified", lines[2]), lines
    assert "warning" in plain.stderr  # the spec's diagnostics follow, as ever
    assert "verifying" not in plain.stderr  # a step line only with -v
    (tmp_path / "v").mkdir()
    (tmp_path / "q").mkdir()
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        verbose = compile_in(tmp_path / "v", server, "-v")
    assert re.search(rf"^{STAMP} square\.square: verifying attempt 1 of 2: 1 of 2 candidates "
                     "pass$", verbose.stderr, re.MULTILINE), verbose.stderr  # fmt: skip
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        quiet = compile_in(tmp_path / "q", server, "-q")
    assert quiet.exit_code == 0
    assert "square.square" not in quiet.stderr and "warning" in quiet.stderr

    def report(text: str, folder: Path) -> str:  # the same but for timings
        return re.sub(r"\d+\.\d s", "T s", text.replace(str(folder), ""))

    assert report(quiet.stdout, tmp_path / "q") == report(plain.stdout, tmp_path)


def test_at_a_terminal_a_live_table_ends_as_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    monkeypatch.setenv("NO_COLOR", "1")
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        argv = [sys.executable, "-m", "marshalike", "compile", "square.mrsh",
                *model_flags(server), "--questions", "0"]  # fmt: skip
        status, screen = _in_a_terminal(argv, tmp_path, {})
    assert status == 0, screen
    assert "\x1b[32m" not in screen  # NO_COLOR: no green
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # cursor moves and bold
    header = re.search(r"function\s+state\s+attempt\s+passing\s+tokens/s\s+elapsed", screen)
    assert header, screen
    assert re.search(r"square\.square\s+verified\s+1/2\s+1\s", screen), screen
    assert "square.mrsh: ok (square.py, test_square.py" in screen  # the report, as ever


def test_modes_and_the_table() -> None:
    assert choose_mode(quiet=True, no_progress=False) == "quiet"
    assert choose_mode(quiet=False, no_progress=False, stream=io.StringIO()) == "plain"
    out = io.StringIO()
    display = Display("plain", stream=out)
    display.event("m", UnitEvent("f", "queued"))
    display.event("m", UnitEvent("f", "sampling", 1, 3, completion_tokens=40))
    display.event("m", UnitEvent("f", "verifying", 1, 3, candidates=4, passing=2))
    display.event("m", UnitEvent("f", "done", status="verified"))
    assert re.fullmatch(rf"{STAMP} m\.f: sampling attempt 1 of 3\n", out.getvalue())
    row = display.rows["m.f"]
    assert (row.state, row.attempt, row.passing, row.end is not None) == (
        "verified",
        "1/3",
        2,
        True,
    )
