"""`marshalike parse`: what goes to stdout, what to stderr, and the exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from marshalike.cli.main import cli

SPEC = """\
# type person
name, age
Joe, 20

# func sort_by_age(people: list of person, ascending: bool = True): list of person

Sort the people by age.

* sort_by_age([person('Joe', 20)]) = [person('Joe', 20)]
* sort_by_age([], False) = []
* sort_by_age() = throws a no list received error
"""

BROKEN = "# func f(x: int): int\n\nx.\n\n* g(1) = 1\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["parse", *args])


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "sort.mrsh").write_text(SPEC, encoding="utf-8")
    return tmp_path


def test_summary_on_stdout_and_warnings_on_stderr(specs: Path) -> None:
    result = run("specs/sort.mrsh")
    assert result.exit_code == 0
    assert result.stdout == (
        "specs/sort.mrsh: 1 type, 1 function, 3 examples (2 checkable); 2 warnings\n"
    )
    assert result.stderr == (
        "specs/sort.mrsh:5:8: warning[M026]: function 'sort_by_age' has only 2 checkable "
        "examples, too few to trust the code that passes them\n"
        "    # func sort_by_age(people: list of person, ascending: bool = True): list of person\n"
        "           ^^^^^^^^^^^\n"
        "  hint: add examples until 3 or more are checkable\n"
        "specs/sort.mrsh:11:1: warning[M022]: example is not checkable, shown to the model only\n"
        "    * sort_by_age() = throws a no list received error\n"
        "    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "  hint: write it as `CALL = VALUE`, `CALL = throws an error` or `CALL raises ValueError`\n"
    )


def test_an_error_exits_2_after_reporting_every_spec(specs: Path) -> None:
    (specs / "specs" / "broken.mrsh").write_text(BROKEN, encoding="utf-8")
    result = run("specs")
    assert result.exit_code == 2
    assert result.stdout == (
        "specs/broken.mrsh: 0 types, 1 function, 1 example (1 checkable); 1 error, 1 warning\n"
        "specs/sort.mrsh: 1 type, 1 function, 3 examples (2 checkable); 2 warnings\n"
    )
    assert result.stderr.startswith("specs/broken.mrsh:1:8: warning[M026]: ")
    assert (
        "specs/broken.mrsh:5:3: error[M012]: example calls unknown function 'g'\n"
        "    * g(1) = 1\n"
        "      ^\n"
        "  hint: did you mean 'f', the function these examples are under?\n"
        "specs/sort.mrsh:5:8: warning[M026]: "
    ) in result.stderr


def test_json_prints_the_ast_with_spans(specs: Path) -> None:
    result = run("--json", "specs/sort.mrsh")
    assert result.exit_code == 0
    (spec,) = json.loads(result.stdout)["specs"]
    assert spec["path"] == "specs/sort.mrsh"
    assert [d["code"] for d in spec["diagnostics"]] == ["M026", "M022"]
    module = spec["module"]
    assert module["name"] == "sort"
    assert module["types"][0]["columns"] == ["name", "age"]
    func = module["funcs"][0]
    assert func["name_span"] == {"line": 5, "column": 8, "end_line": 5, "end_column": 19}
    assert [p["name"] for p in func["params"]] == ["people", "ascending"]
    assert [p["default"] for p in func["params"]] == [None, "True"]
    assert [e["checkable"] for e in func["examples"]] == [True, True, False]
    assert func["examples"][1]["arg_count"] == 2
    assert result.stderr.startswith("specs/sort.mrsh:5:8: warning[M026]")


def test_json_of_a_spec_that_does_not_parse_has_no_module(specs: Path) -> None:
    (specs / "bad.mrsh").write_text("# func f(:\n", encoding="utf-8")
    result = run("--json", "bad.mrsh")
    assert result.exit_code == 2
    (spec,) = json.loads(result.stdout)["specs"]
    assert spec["module"] is None
    assert spec["diagnostics"][0]["severity"] == "error"


def test_a_missing_path_is_one_line_and_exit_2(specs: Path) -> None:
    result = run("specs/sort.mrsh", "nope.mrsh")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "marshalike: error: nope.mrsh: no such file or directory\n"


def test_a_file_that_is_not_utf8_is_a_diagnostic(specs: Path) -> None:
    (specs / "latin.mrsh").write_bytes(b"\xff\n")
    result = run("latin.mrsh")
    assert result.exit_code == 2
    assert result.stdout == "latin.mrsh: not parsed; 1 error\n"
    assert result.stderr.startswith("latin.mrsh:1:1: error[M030]: spec is not UTF-8 text")


def test_a_type_nested_2000_deep_is_a_diagnostic_not_an_internal_error(specs: Path) -> None:
    heading = f"# func f({'list of ' * 2000}integer): integer"
    (specs / "deep.mrsh").write_text(f"{heading}\n\nReturn 1.\n\n* f([]) = 1\n", "utf-8")
    result = run("deep.mrsh")
    assert result.exit_code == 2
    assert result.stdout == "deep.mrsh: not parsed; 1 error\n"
    first, source, caret, hint = result.stderr.splitlines()
    assert first == (
        "deep.mrsh:1:10: error[M001]: parameter type 'list of list of list of list of list "
        "...' nests more than 64 levels deep"
    )
    assert (source, caret.strip("^ ")) == (f"    {heading}", "")
    assert hint == "  hint: name an inner part with its own `# type`"


def test_the_installed_command_runs_without_a_traceback(specs: Path) -> None:
    (specs / "broken.mrsh").write_text(BROKEN, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "marshalike", "parse", "broken.mrsh"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == (
        "broken.mrsh: 0 types, 1 function, 1 example (1 checkable); 1 error, 1 warning\n"
    )
    assert "Traceback" not in done.stderr
    assert "\nbroken.mrsh:5:3: error[M012]" in done.stderr
