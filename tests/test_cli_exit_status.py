"""One exit-status convention across commands (README, "Exit status"): 0 done, 1 the work
ran and did not succeed, 2 the input or the settings are wrong, 70 a bug of ours."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from marshalike.cli.main import cli

SPEC = "# func square(n: int): int\n\nn times n.\n\n* square(2) = 4\n"
BROKEN = "# func square(n: int): int\n\nn times n.\n\n* sqaure(2) = 4\n"
# A server nothing listens on: no test here may get as far as asking a model.
OFFLINE = ["--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MARSHALIKE_")]:
        monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [("parse",), ("compile", *OFFLINE), ("check",), ("watch", *OFFLINE)],
    ids=["parse", "compile", "check", "watch"],
)
def test_a_missing_spec_exits_2_with_one_line_from_every_command(args: tuple[str, ...]) -> None:
    result = run(args[0], "nope.mrsh", *args[1:])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "marshalike: error: nope.mrsh: no such file or directory\n"


@pytest.mark.parametrize("command", ["parse", "compile", "check"])
def test_a_spec_with_errors_exits_2(in_tmp: Path, command: str) -> None:
    (in_tmp / "square.mrsh").write_text(BROKEN, encoding="utf-8")
    extra = OFFLINE if command == "compile" else []
    result = run(command, "square.mrsh", *extra)
    assert result.exit_code == 2
    assert "square.mrsh:5:3: error[M012]: example calls unknown function 'sqaure'" in (
        result.stderr
    )
    assert list(in_tmp.iterdir()) == [in_tmp / "square.mrsh"]


@pytest.mark.parametrize("command", ["compile", "check", "watch", "config"])
def test_a_bad_setting_exits_2(in_tmp: Path, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (in_tmp / "square.mrsh").write_text(SPEC, encoding="utf-8")
    (in_tmp / "pyproject.toml").write_text("[tool.marshalike]\ntimeout = 0\n", "utf-8")
    args = [] if command == "config" else ["square.mrsh"]
    result = run(command, *args)
    assert result.exit_code == 2
    assert result.stderr == (
        f"marshalike: error: {in_tmp / 'pyproject.toml'}: timeout must be > 0 and at most 3600\n"
    )


def test_an_unreadable_pyproject_exits_2_not_70(in_tmp: Path) -> None:
    (in_tmp / "pyproject.toml").write_bytes(b"\xff\xfe[tool]\n")
    result = run("config")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"marshalike: error: {in_tmp / 'pyproject.toml'}: cannot read")


def test_a_missing_model_exits_2(in_tmp: Path) -> None:
    (in_tmp / "square.mrsh").write_text(SPEC, encoding="utf-8")
    result = run("compile", "square.mrsh", "--backend", "openai", "--base-url", "http://x/v1")
    assert result.exit_code == 2
    assert result.stderr.startswith("marshalike: error: no model configured for the openai")


@pytest.mark.parametrize("command", ["parse", "compile", "check", "watch", "serve", "config"])
def test_a_usage_error_exits_2(command: str) -> None:
    assert run(command, "--no-such-option").exit_code == 2


def test_check_of_a_spec_never_compiled_exits_1(in_tmp: Path) -> None:
    (in_tmp / "square.mrsh").write_text(SPEC, encoding="utf-8")
    result = run("check", "square.mrsh")
    assert result.exit_code == 1
