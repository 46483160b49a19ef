"""The generated test file run under plain pytest in the sandbox: only a failure counts, and
it is said in one line of printable text."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.under_pytest import count_tests, pytest_failure

TESTS = """\
from add import add


def test_add_1():
    assert add(1, 2) == 3


def test_add_2():
    assert add(2, 2) == 4
"""
RIGHT = "def add(a, b):\n    return a + b\n"


def failure(module: str, tests: str = TESTS, limits: Limits | None = None) -> str | None:
    files = {"add.py": module, "test_add.py": tests}
    return pytest_failure(files, "test_add.py", limits or Limits(timeout_s=5.0))


def test_tests_are_counted_as_pytest_collects_them() -> None:
    assert count_tests(TESTS) == 2
    assert count_tests("def helper():\n    pass\n\nclass TestX:\n    pass\n") == 0
    assert count_tests("def test_(:\n") == 0


def test_a_module_that_passes_has_no_failure() -> None:
    assert failure(RIGHT) is None


def test_a_failing_test_is_named_with_its_assertion() -> None:
    said = failure("def add(a, b):\n    return a + b if a == 1 else 0\n")
    assert said == "FAILED test_add.py::test_add_2 - assert 0 == 4"


def test_a_module_that_cannot_be_imported_is_an_error_of_the_test_file() -> None:
    said = failure("raise ImportError('no such thing')\n")
    assert said is not None and said.startswith("ERROR test_add.py"), said


def test_tests_that_vanish_or_do_not_pass_are_a_failure() -> None:
    none = TESTS.replace("def test_add_", "def check_add_")
    assert failure(RIGHT, none) is None  # a file with no test: nothing to run
    # The code skips the tests it is called from: pytest exits 0 all the same.
    skipping = "import unittest\n\n\ndef add(a, b):\n    raise unittest.SkipTest('later')\n"
    said = failure(skipping)
    assert said is not None and " 2 skipped in " in said, said
    once = skipping.replace("    raise", "    if a == 2:\n        raise") + "    return a + b\n"
    said = failure(once)
    assert said is not None and " 1 passed, 1 skipped in " in said, said
    # The code ends pytest with status 0 before pytest says anything of its tests.
    said = failure("import os\n\n\ndef add(a, b):\n    os._exit(0)\n")
    assert said is not None, said
    marked = "import pytest\n\npytestmark = pytest.mark.xfail\n" + TESTS
    said = failure(RIGHT, marked)
    assert said is not None and " 2 xpassed in " in said, said
    emptied = TESTS + "\n\ndel test_add_1, test_add_2\n"
    assert failure(RIGHT, emptied) == "pytest collected none of its 2 tests"


def test_what_pytest_printed_is_shown_without_control_characters_and_cut() -> None:
    module = "def add(a, b):\n    raise ValueError('\\x1b[2J' + 'x' * 1000)\n"
    said = failure(module)
    assert said is not None
    assert said.startswith("FAILED test_add.py::test_add_1 - ValueError: [2J")
    assert all(c.isprintable() for c in said)
    assert len(said) == 300 and said.endswith("...")


def test_a_run_that_does_not_end_is_a_failure() -> None:
    module = "import time\ntime.sleep(30)\n" + RIGHT
    said = failure(module, limits=Limits(timeout_s=0.5, startup_s=1.0))
    assert said == "pytest did not finish its 2 tests in 2 s"


def test_no_configuration_above_the_runs_folder_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without namespaces the run's folder is under the temporary folder, whose parents
    anyone may write to: a pytest.ini there must not configure the run."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    (tmp_path / "conftest.py").write_text("raise SystemExit('planted')\n")
    tmp_path.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("MARSHALIKE_SANDBOX", "no-namespaces")
    assert failure(RIGHT) is None
