"""Outputs that are not regular UTF-8 files: a FIFO, a folder, bytes that are not UTF-8.
Nothing blocks reading them, and each is one line or one finding, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.build.output import foreign_output, read_regular, write_if_changed
from marshalike.cli.main import cli

SPEC = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
"""

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def answer(request: object) -> str:
    return "```python\ndef square(x):\n    return x * x\n```"


@pytest.fixture
def compiled(tmp_path: Path):
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    server = FakeOpenAI(script=answer).start()
    argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
            "--model", "fake-model", "--candidates", "1"]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    yield tmp_path
    server.stop()


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """In a process of its own, with a deadline: a hang is a failure, not a stuck run."""
    command = [sys.executable, "-m", "marshalike", *args]
    pipe = subprocess.PIPE
    process = subprocess.Popen(
        command, cwd=folder, stdout=pipe, stderr=pipe, text=True, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"marshalike {' '.join(args)} hung")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@needs_fifo
def test_read_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p")
    with pytest.raises(OSError, match="not a regular file"):
        read_regular(tmp_path / "p")
    assert read_regular(tmp_path / "absent") is None


@needs_fifo
def test_foreign_output_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "square.py")
    with pytest.raises(Exception, match=r"square\.py is not a regular file \(a FIFO\): move it"):
        foreign_output(tmp_path, "square")


@needs_fifo
def test_write_if_changed_does_not_read_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "out.txt")
    with pytest.raises(OSError):
        write_if_changed(tmp_path / "out.txt", "a\n")


@needs_fifo
def test_compile_into_a_fifo_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    os.mkfifo(tmp_path / "square.py")
    # The output is refused before any model is asked: no server is needed.
    result = run(tmp_path, "compile", "square.mrsh", "--backend", "openai", "--base-url",
                 "http://127.0.0.1:9", "--model", "m")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "square.py is not a regular file (a FIFO): move it" in result.stderr
    assert "Traceback" not in result.stderr


@needs_fifo
@pytest.mark.parametrize("name", ["square.py", "square.lock.json"])
def test_check_reports_a_fifo_output(compiled: Path, name: str) -> None:
    (compiled / name).unlink()
    os.mkfifo(compiled / name)
    # bytecode beside it, which check compares with what the module's source compiles to
    (compiled / "__pycache__").mkdir(exist_ok=True)
    (compiled / "__pycache__" / f"square.{sys.implementation.cache_tag}.pyc").write_bytes(b"")
    result = run(compiled, "check", ".")
    assert result.returncode == 1, result.stderr
    assert f"{name} is not a regular file (a FIFO): move it" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_reports_a_folder_in_place_of_an_output(compiled: Path) -> None:
    (compiled / "test_square.py").unlink()
    (compiled / "test_square.py").mkdir()
    result = CliRunner().invoke(cli, ["check", str(compiled)])
    assert result.exit_code == 1, result.output
    assert f"missing: {compiled / 'test_square.py'} is not a regular file" in result.stdout


def test_check_calls_an_output_that_is_not_utf8_edited(compiled: Path) -> None:
    with (compiled / "square.py").open("ab") as handle:
        handle.write(b"\xff\xfe")
    result = CliRunner().invoke(cli, ["check", str(compiled)])
    assert result.exit_code == 1, result.output
    assert f"edited: {compiled / 'square.py'} is not UTF-8 text" in result.stdout
    assert "is missing" not in result.stdout
