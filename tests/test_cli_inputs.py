"""What every command accepts as a spec: `.mrsh` files and folders of them; a FIFO or a
device is refused at once, never waited on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = ["parse", "compile", "check", "watch"]


def marshalike(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A hang is the bug under test: the timeout turns it into a failure, not a stuck suite.
    return subprocess.run(
        [sys.executable, "-m", "marshalike", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_fifo_given_as_a_spec_is_refused_at_once(tmp_path: Path, command: str) -> None:
    os.mkfifo(tmp_path / "pipe.mrsh")
    done = marshalike(command, "pipe.mrsh", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "marshalike: error: pipe.mrsh: not a regular file (a FIFO); give a .mrsh file\n"
    )


@pytest.mark.parametrize("command", ["parse", "compile", "check"])
def test_a_file_without_the_suffix_that_is_no_spec_gets_no_outputs(
    tmp_path: Path, command: str
) -> None:
    (tmp_path / "notes").write_text("just some notes\n", encoding="utf-8")
    done = marshalike(command, "notes", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "marshalike: error: notes: not a .mrsh file, and it declares no `# func` or "
        "`# type`; name the spec with the .mrsh suffix\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
