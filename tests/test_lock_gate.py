"""A lock cannot smuggle code in: code taken from a lock, `--frozen` or a plain cache hit,
is checked as a model's code is (extraction's checks, then the examples in the sandbox)
before anything is written, and a lock whose code fails names the file and the function."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.cli.main import cli

SQUARE = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
"""
RIGHT = "```python\ndef square(x):\n    return x * x\n```"
OUTPUTS = ("square.py", "test_square.py", "square.lock.json")


@pytest.fixture
def compiled(tmp_path: Path) -> Path:
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        result = CliRunner().invoke(cli, argv(tmp_path, server.base_url))
    assert result.exit_code == 0, result.output
    return tmp_path


def argv(folder: Path, base_url: str, *extra: str) -> list[str]:
    return ["compile", str(folder / "square.mrsh"), "--backend", "openai", "--base-url",
            base_url, "--model", "fake-model", "--candidates", "1", *extra]  # fmt: skip


def smuggle(folder: Path, code: str) -> dict[str, bytes | None]:
    """Put `code` in the lock as square's, key and status untouched; returns the outputs
    as they are now, to compare with after."""
    path = folder / "square.lock.json"
    lock = json.loads(path.read_text())
    lock["units"]["square"]["code"] = code
    path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    return snapshot(folder)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {n: (folder / n).read_bytes() if (folder / n).exists() else None for n in OUTPUTS}


def compile_(folder: Path, *extra: str) -> tuple[int, str, int]:
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        result = CliRunner().invoke(cli, argv(folder, server.base_url, *extra))
        return result.exit_code, result.stdout, server.count


RECOMPILE = "; delete the lock file (or that unit in it) to compile it again"


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "cache hit"])
def test_wrong_code_in_the_lock_is_an_error_and_nothing_is_written(
    compiled: Path, frozen: bool
) -> None:
    before = smuggle(compiled, "def square(x):\n    return x + x\n")
    status, out, asked = compile_(compiled, *(["--frozen"] if frozen else []))
    assert (status, asked) == (1, 0)
    assert out.splitlines()[0] == (
        f"{compiled / 'square.mrsh'}: not compiled: {compiled / 'square.lock.json'}: the code "
        f"stored for square fails its examples (square(-3) should return 9, but it returned "
        f"-6){RECOMPILE}"
    )
    assert " ok " not in out  # no unit is shown as if its code had been taken
    assert snapshot(compiled) == before


def test_a_syntax_error_in_the_lock_is_refused_before_it_runs(compiled: Path) -> None:
    before = smuggle(compiled, "def square(x):\n    return x *\n")
    status, out, _ = compile_(compiled, "--frozen")
    assert status == 1
    assert out.splitlines()[0] == (
        f"{compiled / 'square.mrsh'}: not compiled: {compiled / 'square.lock.json'}: the code "
        f"stored for square is refused: syntax error on line 2: invalid syntax{RECOMPILE}"
    )
    assert snapshot(compiled) == before


HOSTILE = {
    "reads the environment": "import os\n\ndef square(x):\n    return len(os.environ) or x * x\n",
    "runs code on import": "import os\nos.system('touch /tmp/marshalike-smuggled')\n\n"
    "def square(x):\n    return x * x\n",
    "is equal to everything": "class _Any(int):\n    def __eq__(self, other):\n"
    "        return True\n\ndef square(x):\n    return _Any(0)\n",
    "is not the function": "def cube(x):\n    return x * x * x\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_code_in_the_lock_is_never_written(compiled: Path, case: str) -> None:
    before = smuggle(compiled, HOSTILE[case])
    status, out, asked = compile_(compiled, "--frozen")
    assert (status, asked) == (1, 0), out
    assert f"{compiled / 'square.lock.json'}: the code stored for square " in out
    assert snapshot(compiled) == before


def test_wrong_code_in_the_lock_never_creates_the_outputs(compiled: Path) -> None:
    for name in ("square.py", "test_square.py"):
        (compiled / name).unlink()
    smuggle(compiled, "def square(x):\n    return 0\n")
    status, _, _ = compile_(compiled, "--frozen")
    assert status == 1
    assert not (compiled / "square.py").exists()
    assert not (compiled / "test_square.py").exists()


def test_good_code_from_the_lock_is_written_without_a_model(compiled: Path) -> None:
    for name in ("square.py", "test_square.py"):
        (compiled / name).unlink()
    status, out, asked = compile_(compiled, "--frozen")
    assert (status, asked) == (0, 0), out
    assert "return x * x" in (compiled / "square.py").read_text()
    check = CliRunner().invoke(cli, ["check", str(compiled / "square.mrsh")])
    assert check.exit_code == 0, check.output
