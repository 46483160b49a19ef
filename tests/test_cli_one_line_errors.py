"""Small one-line answers: `init` beside a file named `.github/workflows`, an empty
`--out`, and `--function` naming a type."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli
from marshalike.errors import ConfigError
from marshalike.settings import resolve

SPEC = """\
# type Person
name, age
Ann, 30

# func greet(p: Person): str

Say hello.

* greet(Person('Ann', 30)) = 'hello Ann'
"""


def test_init_names_a_file_that_stands_where_a_folder_goes(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "workflows").write_text("not a folder\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    workflow = tmp_path / ".github" / "workflows" / "marshalike.yml"
    assert f"skipped {workflow}: {tmp_path / '.github' / 'workflows'} is not a folder" in (
        result.output
    )
    assert "it exists" not in result.output


def test_an_empty_out_is_an_error() -> None:
    with pytest.raises(ConfigError, match="out is empty"):
        resolve({"out": ""})


def test_compile_with_an_empty_out_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "s.mrsh").write_text(SPEC, encoding="utf-8")
    argv = ["compile", str(tmp_path / "s.mrsh"), "--out", "", "--backend", "openai",
            "--base-url", "http://127.0.0.1:9", "--model", "m"]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    said = "marshalike: error: flag: out is empty — leave it unset for the default\n"
    assert result.stderr == said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mrsh"]


def test_function_naming_a_type_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "s.mrsh").write_text(SPEC, encoding="utf-8")
    argv = ["compile", str(tmp_path / "s.mrsh"), "--function", "Person", "--backend",
            "openai", "--base-url", "http://127.0.0.1:9", "--model", "m"]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "marshalike: error: s.mrsh has no function 'Person' (Person is a type)\n"
    )
