"""A spec whose used spec does not compile is told why, in its one line: the used spec's
first error, its problem, or the functions of it that failed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.cli.main import cli

CYCLE = """\
# func a(x: int): int

Like `b(x)`.

* a(1) = 1
* a(2) = 2
* a(3) = 3

# func b(x: int): int

Like `a(x)`.

* b(1) = 1
* b(2) = 2
* b(3) = 3
"""
USER = "# use g.mrsh\n\n# func fh(x: int): int\n\nSame.\n\n* fh(1) = 1\n* fh(2) = 2\n* fh(3) = 3\n"
WRONG = "```python\ndef {0}(x):\n    return x + 1\n```"


def compile_(server: FakeOpenAI, spec: Path):
    argv = ["compile", str(spec), "--backend", "openai", "--base-url", server.base_url,
            "--model", "fake-model", "--candidates", "1", "--attempts", "1"]  # fmt: skip
    return CliRunner().invoke(cli, argv)


def test_a_used_spec_with_a_plan_error_is_named_with_its_error(tmp_path: Path) -> None:
    (tmp_path / "g.mrsh").write_text(CYCLE, encoding="utf-8")
    user = tmp_path / "h.mrsh"
    user.write_text(USER, encoding="utf-8")
    with FakeOpenAI(script=lambda request: WRONG.format("fh")) as server:
        result = compile_(server, user)
        assert server.count == 0
    assert result.exit_code != 0, result.output
    assert (
        f"h.mrsh: not compiled: the used spec g.mrsh did not compile: {tmp_path / 'g.mrsh'}:1:8: "
        "functions refer to each other in a cycle (a -> b -> a); their compile order is "
        "undefined [M040]\n"
    ) in result.stdout


def test_a_used_spec_whose_function_failed_is_named_with_the_function(tmp_path: Path) -> None:
    (tmp_path / "g.mrsh").write_text(CYCLE.split("# func b")[0].replace("`b(x)`", "x"), "utf-8")
    user = tmp_path / "h.mrsh"
    user.write_text(USER, encoding="utf-8")
    with FakeOpenAI(script=lambda request: WRONG.format("a")) as server:
        result = compile_(server, user)
    assert result.exit_code == 1, result.output
    assert "h.mrsh: not compiled: the used spec g.mrsh did not compile: a failed\n" in (
        result.stdout
    )
