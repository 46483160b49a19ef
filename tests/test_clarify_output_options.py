"""`marshalike clarify` compiles as `marshalike compile` does, with its progress options
(`-q`, `--no-progress`, `-v`) and its report formats (`--format json`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.cli.main import cli

SQUARE = "# func square(an integer): its square\n\nMultiply.\n\n* square(2) = 4\n* square(-3) = 9\n"
RIGHT = "```python\ndef square(x):\n    return x * x\n```"
ODD_AT_ZERO = "```python\ndef square(x):\n    return x * x if x != 0 else 5\n```"


def flags(server: FakeOpenAI) -> list[str]:
    return ["--backend", "openai", "--base-url", server.base_url, "--model", "fake-model",
            "--candidates", "2", "--attempts", "2", "--jobs", "2", "--timeout", "5"]  # fmt: skip


def run(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(argv), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """square.mrsh, compiled by two codes that disagree on square(0), and answers to it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    answers = iter([RIGHT, ODD_AT_ZERO])
    with FakeOpenAI(script=lambda request: next(answers)) as server:
        status, out, err = run("compile", "square.mrsh", "-q", *flags(server))
    assert status == 0, out + err
    (tmp_path / "answers.json").write_text(json.dumps({"square.mrsh": {"square(0)": "0"}}))
    return tmp_path


def test_clarify_takes_quiet_and_a_json_report(asked: Path) -> None:
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json", "-q",
                               "--format", "json", *flags(server))  # fmt: skip
    assert status == 0, out + err
    assert err == ""
    (report,) = json.loads(out)
    assert report["path"].endswith("square.mrsh"), report


def test_clarify_takes_no_progress_as_compile_does(asked: Path) -> None:
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json",
                               "--no-progress", *flags(server))  # fmt: skip
    assert status == 0, out + err
    assert out.startswith("square.mrsh: ok (square.py, test_square.py)\n")
    assert "square.square: compiling" in err
