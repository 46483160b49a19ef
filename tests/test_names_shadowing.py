"""A spec named like a module of the standard library, or like pytest, pluggy or
marshalike, is refused: its generated module would hide that module from pytest and from
every program run in the output folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli
from marshalike.language.reserved import spec_name_problem

SPEC = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
* square(0) = 0
"""


@pytest.mark.parametrize(
    "name",
    ["typing", "random", "string", "calendar", "csv", "logging", "pathlib", "shutil",
     "statistics", "os"],
)  # fmt: skip
def test_a_standard_library_name_is_refused(name: str) -> None:
    said = spec_name_problem(name)
    assert said is not None
    assert f"{name}.py" in said and said.endswith("rename the spec")
    assert "\n" not in said


@pytest.mark.parametrize("name", ["marshalike", "pytest", "_pytest", "pluggy"])
def test_the_tools_names_are_refused(name: str) -> None:
    said = spec_name_problem(name)
    assert said is not None and said.endswith("rename the spec")


def test_every_standard_library_name_is_refused() -> None:
    assert [n for n in sorted(sys.stdlib_module_names) if spec_name_problem(n) is None] == []


@pytest.mark.parametrize("name", ["typing", "marshalike", "pluggy"])
def test_compile_refuses_before_asking_a_model(tmp_path: Path, name: str) -> None:
    spec = tmp_path / f"{name}.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    argv = ["compile", str(spec), "--backend", "openai", "--base-url", "http://127.0.0.1:9",
            "--model", "m"]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code != 0, result.output
    assert f"{name}.py would" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [spec.name]


def test_check_reports_a_spec_named_like_the_standard_library(tmp_path: Path) -> None:
    (tmp_path / "typing.mrsh").write_text(SPEC, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "spec-error: typing.py would hide the standard library's typing" in result.stdout


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("ﬁx", "`import ﬁx` looks for fix.py (Python reads a name in its NFKC form)"),
        ("cafe\u0301", "`import cafe\u0301` looks for café.py"),
        ("_marshalike_main", "_marshalike_main.py is the support module"),
        ("sq.lock", "rename the spec without the dot"),
    ],
)
def test_check_reports_the_names_compile_refuses(tmp_path: Path, name: str, said: str) -> None:
    """A name Python imports as another file, the support module's, a dotted one: compile
    refuses them before asking a model, and check says the same as the spec's error."""
    spec = tmp_path / f"{name}.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    argv = ["compile", str(spec), "--backend", "openai", "--base-url", "http://127.0.0.1:9",
            "--model", "m"]  # fmt: skip
    compiled = CliRunner().invoke(cli, argv)
    assert compiled.exit_code != 0 and said in compiled.output, compiled.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [spec.name]
    checked = CliRunner().invoke(cli, ["check", str(spec)])
    assert checked.exit_code == 1, checked.output
    assert "spec-error: " in checked.stdout and said in checked.stdout
