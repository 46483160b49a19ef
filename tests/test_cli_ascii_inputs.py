"""Inputs every command reads alike: a local model that cannot load is exit status 2 (README,
"Exit status") from compile as from serve; numbers in ASCII digits only, from flags as from
the environment; an empty model or host refused, never taken for the default or for every
address."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from marshalike.cli.main import cli, one_line_message

SPEC = "# func double(x: int): int\n\nTwice x.\n\n* double(1) = 2\n* double(3) = 6\n"


@pytest.fixture(autouse=True)
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith(("MARSHALIKE_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "double.mrsh").write_text(SPEC, encoding="utf-8")
    (tmp_path / "not-a-model.gguf").write_bytes(b"garbage")
    (tmp_path / "empty-folder").mkdir()
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("model", ["/nonexistent/model.gguf", "not-a-model.gguf", "empty-folder"])
def test_a_local_model_that_cannot_load_exits_2(model: str) -> None:
    result = run("compile", "double.mrsh", "-q", "--quant", "none", "--model", model)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("marshalike: error: ")
    assert "internal error" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_empty_model_is_refused_by_serve() -> None:
    result = run("serve", "--model", "")
    assert result.exit_code == 2
    assert result.stderr == (
        "marshalike: error: --model is empty — leave it out for the embedded model\n"
    )


def test_an_empty_model_is_refused_by_compile() -> None:
    result = run("compile", "double.mrsh", "-q", "--model", "")
    assert result.exit_code == 2
    assert result.stderr == (
        "marshalike: error: flag: model is empty — leave it unset for the default\n"
    )


@pytest.mark.parametrize("host", ["", "  "])
def test_an_empty_host_is_refused_by_serve(host: str) -> None:
    result = run("serve", "--host", host)
    assert result.exit_code == 2
    assert result.stderr == (
        "marshalike: error: --host is empty — give an address such as 127.0.0.1 (or 0.0.0.0)\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "٨٠"],
        ["serve", "--port", "8_0"],
        ["serve", "--max-request-tokens", "٨"],
        ["decompile", "--jobs", "٢", "x.py"],
    ],
)
def test_a_whole_number_option_takes_ascii_digits_only(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "is not a whole number in ASCII digits" in result.stderr


@pytest.mark.parametrize("command", ["compile", "check"])
def test_shard_takes_ascii_digits_only(command: str) -> None:
    result = run(command, "--shard", "١/٢", "double.mrsh")
    assert result.exit_code == 2
    said = "--shard takes K/N (shard K of N, from 1), not '١/٢'"
    assert result.stderr == f"marshalike: error: {said}\n"


def test_candidates_take_ascii_digits_only_as_the_environment_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flag = run("compile", "double.mrsh", "--candidates", "٨")
    monkeypatch.setenv("MARSHALIKE_CANDIDATES", "٨")
    env = run("config")
    assert (flag.exit_code, env.exit_code) == (2, 2)
    assert "'candidates' must be a number, got '٨'" in flag.stderr
    assert "'candidates' must be a number, got '٨'" in env.stderr


def test_an_errors_one_line_shows_what_a_path_holds_and_not_a_huge_input(tmp_path: Path) -> None:
    """A path with an escape sequence and a line break stays one line, shown, not acted
    on; an answer of 200,000 digits is not quoted whole."""
    odd = tmp_path / "evil\x1b]0;pwned\x07\nline.mrsh"
    odd.write_text("# func f(an integer): an integer\n\nF.\n\n* f(1) = 1\n", encoding="utf-8")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({str(odd): {"f(2)": "9" * 200_000}}))
    result = CliRunner().invoke(cli, ["clarify", str(odd), "--answers", str(answers)])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("marshalike: error: ") and "\x1b" not in line
    assert len(line) < 2100


def test_an_errors_message_is_cut_where_it_would_quote_a_huge_input() -> None:
    said = one_line_message(ValueError("`" + "9" * 200_000 + "` is no answer"))
    assert len(said) == 2003 and said.endswith("999...")
    assert one_line_message(ValueError("a\nb")) == "a\\x0ab"
