"""A module of the output folder named like an installed one (`statistics.py`, `uuid.py`,
`pytest.py`) is what the generated module, its tests' helper and pytest itself import
there: pytest puts the folder first on the import path. An `__init__.py` makes the folder
a package, whose code pytest runs first. `marshalike check` runs the tests
in the sandbox without it, so it must refuse the folder, or it says ok where a user's
`python -m pytest` there fails."""

from __future__ import annotations

import importlib.util
import py_compile
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_openai import FakeOpenAI

from marshalike.cli.main import cli

SPEC = "# func add(a: int, b: int): int\n\nThe sum.\n\n* add(1, 2) = 3\n* add(-2, 0) = -2\n"
CODE = "import statistics\n\n\ndef add(a, b):\n    return int(statistics.fsum([a, b]))\n"


def compiled(folder: Path) -> tuple[Result, int]:
    (folder / "adder.mrsh").write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=lambda request: f"```python\n{CODE}```") as server:
        argv = ["compile", str(folder), "--backend", "openai", "--base-url", server.base_url,
                "--model", "fake-model", "--candidates", "1", "--attempts", "1",
                "--questions", "0"]  # fmt: skip
        return CliRunner().invoke(cli, argv), len(server.requests)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    result, _ = compiled(tmp_path)
    assert result.exit_code == 0, result.output
    return tmp_path


@pytest.mark.parametrize(
    ("planted", "said"),
    [
        # what the generated module imports
        ("statistics.py", "is imported in place of the installed module `statistics`"),
        # what `python -m pytest` runs in pytest's place
        ("pytest.py", "is imported in place of the installed module `pytest`"),
        ("statistics/__init__.py", "is imported in place of the installed module `statistics`"),
        # a package: pytest imports it before the tests, and them as `FOLDER.test_adder`
        ("__init__.py", "a package, whose code pytest runs before the generated tests"),
    ],
)
def test_a_module_that_pytest_imports_in_the_folder_fails_the_check(
    folder: Path, planted: str, said: str
) -> None:
    path = folder / planted
    path.parent.mkdir(exist_ok=True)
    path.write_text("raise SystemExit('planted')\n", encoding="utf-8")
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_adder.py"]
    users = subprocess.run(run, cwd=folder, capture_output=True, text=True, check=False)
    assert users.returncode != 0, users.stdout  # a user's pytest there fails
    result = CliRunner().invoke(cli, ["check", str(folder / "adder.mrsh")])
    assert result.exit_code == 1, result.output
    assert said in result.output


def test_modules_of_the_folders_own_are_no_finding(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "helpers.py").write_text("X = 1\n", encoding="utf-8")
    (folder / "test.py").write_text("X = 1\n", encoding="utf-8")  # not CPython's `test`
    (folder / "data").mkdir()
    (folder / "data" / "statistics.py").write_text("X = 1\n", encoding="utf-8")
    # A folder some distribution left in site-packages (`tests/`, no code): a namespace
    # package, which a package of the folder's own of that name replaces no code of.
    site = tmp_path_factory.mktemp("site")
    (site / "mrshfolderonly").mkdir()
    monkeypatch.syspath_prepend(str(site))
    (folder / "mrshfolderonly").mkdir()
    (folder / "mrshfolderonly" / "__init__.py").write_text("X = 1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(folder / "adder.mrsh")])
    assert result.exit_code == 0, result.output
    (site / "mrshfolderonly" / "__init__.py").write_text("X = 2\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(folder / "adder.mrsh")])
    assert result.exit_code == 1, result.output
    assert "in place of the installed module `mrshfolderonly`" in result.output


def test_compile_refuses_a_folder_whose_tests_would_import_another_module(
    tmp_path: Path,
) -> None:
    """Its tests would pass in the sandbox and fail under a user's pytest there: nothing
    is written, and no model is asked."""
    (tmp_path / "statistics.py").write_text("raise SystemExit('planted')\n", encoding="utf-8")
    result, asked = compiled(tmp_path)
    assert result.exit_code == 1, result.output
    assert "statistics.py is imported in place of the installed module" in result.output
    assert asked == 0
    assert not (tmp_path / "adder.py").exists()


def _unchecked_bytecode(folder: Path) -> None:
    """Bytecode of other code that Python runs whatever adder.py holds (never checked)."""
    other = folder / "elsewhere" / "adder.py"
    other.parent.mkdir()
    other.write_text("def add(a, b):\n    return 0\n", encoding="utf-8")
    cached = Path(importlib.util.cache_from_source(str(folder / "adder.py")))
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    py_compile.compile(str(other), cfile=str(cached), invalidation_mode=mode, doraise=True)
    shutil.rmtree(other.parent)


def _package(folder: Path) -> None:
    (folder / "adder").mkdir()
    (folder / "adder" / "__init__.py").write_text("def add(a, b):\n    return 0\n")


@pytest.mark.parametrize("plant", [_package, _unchecked_bytecode])
def test_compile_refuses_a_folder_where_import_would_not_run_the_module(
    tmp_path: Path, plant: Callable[[Path], None]
) -> None:
    """`import adder` would find a package, or run bytecode of other code in place of the
    adder.py compile writes: check refuses that folder, and compile must not write it."""
    plant(tmp_path)
    result, asked = compiled(tmp_path)
    assert result.exit_code == 1, result.output
    assert "then compile again" in result.output
    assert asked == 0
    assert not (tmp_path / "adder.py").exists()


def test_a_spec_named_like_an_installed_module_is_refused_and_spares_its_neighbours(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its module would hide the installed one in the folder: compile refuses the spec
    itself, before any model is asked, and check reports it, so the folder's other specs
    do not find a module of it they are told to move away."""
    site = tmp_path_factory.mktemp("site")
    (site / "mrshinstalled.py").write_text("X = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    (tmp_path / "mrshinstalled.mrsh").write_text(SPEC, encoding="utf-8")
    result, asked = compiled(tmp_path)
    assert result.exit_code == 1, result.output
    said = (
        "mrshinstalled.py would be imported in place of the installed module `mrshinstalled` "
        f"({site / 'mrshinstalled.py'}) wherever its folder comes first on the import path"
    )
    assert said in " ".join(result.output.split()), result.output
    assert asked == 1  # adder.mrsh's one unit, not mrshinstalled's
    assert not (tmp_path / "mrshinstalled.py").exists()
    assert (tmp_path / "adder.py").exists()
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "adder.mrsh: ok" in result.output
    assert f"mrshinstalled.mrsh: FAILED\n  spec-error: {said}" in result.output


def test_a_module_of_the_working_folder_is_not_an_installed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m marshalike` puts the working folder on the import path, the `marshalike`
    command does not: a module there (the code a spec was decompiled from) hides nothing
    installed, so a spec of its name compiles into another folder either way."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mrshworking.py").write_text("X = 1\n", encoding="utf-8")
    (tmp_path / "mrshworking.mrsh").write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    with FakeOpenAI(script=lambda request: f"```python\n{CODE}```") as server:
        argv = ["compile", "mrshworking.mrsh", "--out", str(out), "--backend", "openai",
                "--base-url", server.base_url, "--model", "fake-model", "--candidates", "1",
                "--attempts", "1", "--questions", "0"]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert (out / "mrshworking.py").exists()
    result = CliRunner().invoke(cli, ["check", "mrshworking.mrsh", "--out", str(out)])
    assert result.exit_code == 0, result.output
