"""The generated test file run as its users run it: plain pytest, in the sandbox, beside
the module and the modules it imports, before either is written.

Fail-only. The pytest process imports the model's code, so its exit status and what it
prints are that code's to forge: a run that says it passed proves nothing, and the verdict
stays the verifier's (`verify`), decided outside the sandbox. A run that fails is a test
file the user's `pytest` would fail too, for some reason the verifier did not see: code
that answers every call right and breaks what pytest itself runs around the tests (its
capture, its assertion rewriting, a class of its own), or code right only where it senses
the verifier (its `sys.argv`, a module without docstrings). Plugins are not loaded
(`PYTEST_DISABLE_PLUGIN_AUTOLOAD`) and no cache is written: the run is plain pytest's.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from marshalike.sandbox.isolation import Limits, run_module

_ARGS = ("-q", "--tb=no", "-rfE", "-p", "no:cacheprovider")
_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
_SHOWN = 300  # characters of pytest's words in a problem
_NO_TESTS = 5  # pytest's exit status when it collected no test


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
    tests = count_tests(files[test_file])
    if tests == 0:
        return None
    wall = limits.startup_s + limits.timeout_s * tests
    result = run_module(
        "pytest", [*_ARGS, test_file], files=files, limits=limits, wall_s=wall, env=_ENV
    )
    if result.timed_out:
        return f"pytest did not finish its {tests} tests in {wall:g} s"
    if result.returncode == 0:
        return None
    if result.returncode == _NO_TESTS:
        return f"pytest collected none of its {tests} tests"
    return _summary(result.stdout, result.stderr, result.returncode)


def _summary(stdout: str, stderr: str, returncode: int | None) -> str:
    """The first failure pytest's short summary names, else the last line it printed."""
    lines = [_plain(line) for line in (*stdout.splitlines(), *stderr.splitlines())]
    lines = [line for line in lines if line]
    named = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    said = named[0] if named else lines[-1] if lines else f"exit status {returncode}"
    return said if len(said) <= _SHOWN else said[: _SHOWN - 3] + "..."


def _plain(line: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in line).split())
