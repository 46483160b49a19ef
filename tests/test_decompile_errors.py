"""A module decompile cannot read as Python is one line naming the file and, where there is
one, the 1-based line: a null byte, for which Python gives no line, is found on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli
from marshalike.decompile.module import DecompileError, decompile_source


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("def f(x):\n    return x\x00\n", 2),
        ("\x00x = 1\n", 1),
        ("a = 1\r\nb = 2\rc = 3\n\x00", 4),  # each line ending counted as Python counts it
    ],
)
def test_a_null_byte_is_reported_at_its_line(source: str, line: int) -> None:
    with pytest.raises(DecompileError) as raised:
        decompile_source(source, filename="nul.py")
    assert str(raised.value) == (
        f"nul.py:{line}: not Python: source code string cannot contain null bytes"
    )


def test_the_command_reports_a_null_byte_at_its_line_never_line_0(tmp_path: Path) -> None:
    (tmp_path / "nul.py").write_bytes(b"def f(x):\n    return x\x00\n")
    result = CliRunner().invoke(cli, ["decompile", str(tmp_path / "nul.py"), "--no-model"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"marshalike: error: {tmp_path / 'nul.py'}:2: not Python: source code string cannot "
        "contain null bytes\n"
    )
    assert result.stdout == "" and not (tmp_path / "nul.mrsh").exists()
