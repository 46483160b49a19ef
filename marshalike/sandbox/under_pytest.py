"""The generated test file run as its users run it: plain pytest, in the sandbox, beside
the module and the modules it imports, before either is written.

Fail-only. The pytest process imports the model's code, so its exit status and what it
prints are that code's to forge: a run that says it passed proves nothing, and the verdict
stays the verifier's (`verify`), decided outside the sandbox. A run that fails is a test
file the user's `pytest` would fail too, for some reason the verifier did not see: code
that answers every call right and breaks what pytest itself runs around the tests (its
capture, its assertion rewriting, a class of its own), or code right only where it senses
the verifier (its `sys.argv`, a module without docstrings). A test that pytest does not
say passed counts as failing: the file marks none to skip, so code that skips the tests it
is called from (`unittest.SkipTest`), on which pytest exits 0, fails it. Plugins are not loaded
(`PYTEST_DISABLE_PLUGIN_AUTOLOAD`); otherwise the run is a user's `python -m pytest
test_NAME.py`, with the options a user's run has: its default verbosity, and the cache
plugin, which writes its cache once the tests ran (into the run's own folder, in memory):
code that broke what only it reads (`pathlib.Path.write_text`) passed a run without it,
and a user's pytest ended in an internal error.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence

from marshalike.sandbox.child import run_module
from marshalike.sandbox.isolation import Limits

# Only what a failure prints differs from a user's run: the verdict is the same.
_ARGS = ("--tb=no", "-rfE")
_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
_SHOWN = 300  # characters of pytest's words in a problem
_NO_TESTS = 5  # pytest's exit status when it collected no test
_CONFIG = "pytest.ini"
# pytest's last line: what became of the tests (`3 passed, 1 warning in 0.01s`).
_SUMMARY = re.compile(r"=+ (.+) in [0-9.]+s( \(.*\))? =+")
_PASSING = frozenset({"passed", "warning", "warnings"})


def count_tests(test_text: str) -> int:
    """How many tests pytest collects from a generated test file (its top-level
    `test_...` functions)."""
    try:
        tree = ast.parse(test_text)
    except SyntaxError:
        return 0
    return sum(
        isinstance(node, ast.FunctionDef) and node.name.startswith("test") for node in tree.body
    )


def pytest_failure(files: Mapping[str, str], test_file: str, limits: Limits) -> str | None:
    """Why plain pytest fails `test_file` (a name in `files`), run in the sandbox beside the
    other `files`, in one line; None where it found no failure. Each test has the time a
    verified call has, on top of the interpreter's start."""
    return pytest_failures(files, (test_file,), limits).get(test_file)


def pytest_failures(
    files: Mapping[str, str], test_files: Sequence[str], limits: Limits
) -> dict[str, str]:
    """Of `test_files`, run in that order in one pytest session, those that fail, each with
    why in one line (the first failure pytest's summary names in it). Where the run fails
    and names none of them, each is said to fail, with the last line pytest printed."""
    tests = sum(count_tests(files[name]) for name in test_files)
    if tests == 0:
        return {}
    wall = limits.startup_s + limits.timeout_s * tests
    # A configuration of the run's own folder, so pytest reads none above it (where the
    # sandbox has no root of its own, /tmp and its parents are anyone's to write).
    run_files = {**files, _CONFIG: "[pytest]\n"}
    result = run_module(
        "pytest", [*_ARGS, *test_files], files=run_files, limits=limits, wall_s=wall, env=_ENV
    )
    lines = [_plain(line) for line in (*result.stdout.splitlines(), *result.stderr.splitlines())]
    lines = [line for line in lines if line]
    if result.returncode == 0 and not result.timed_out and _all_passed(lines, tests):
        return {}
    if result.timed_out:
        said = f"pytest did not finish its {tests} tests in {wall:g} s"
    elif result.returncode == _NO_TESTS:
        said = f"pytest collected none of its {tests} tests"
    else:
        named: dict[str, str] = {}
        for line in lines:
            words = line.split(maxsplit=2)
            if len(words) > 1 and words[0] in ("FAILED", "ERROR"):
                where = words[1].split("::", 1)[0]
                if where in test_files:
                    named.setdefault(where, _cut(line))
        if named:
            return named
        said = lines[-1] if lines else f"exit status {result.returncode}"
    return dict.fromkeys(test_files, _cut(said))


def _all_passed(lines: Sequence[str], tests: int) -> bool:
    """Whether pytest's summary says every one of the `tests` passed. The generated test
    files mark no test to skip or to fail, so a test that did neither pass nor fail was
    skipped by the code under test (`raise unittest.SkipTest`), and a user's pytest does
    not run it either: a run whose tests were all skipped exits 0, as does one the code
    ended with status 0 (`os._exit(0)`) before pytest's summary."""
    for line in reversed(lines):
        if found := _SUMMARY.fullmatch(line):
            counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", found[1])}
            return counts.get("passed") == tests and counts.keys() <= _PASSING
    return False


def _cut(said: str) -> str:
    return said if len(said) <= _SHOWN else said[: _SHOWN - 3] + "..."


def _plain(line: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in line).split())
