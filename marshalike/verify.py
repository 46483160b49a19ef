"""Verification: run a candidate module against its example tests in the sandbox and return
a structured verdict per example (pass, fail with expected/actual, error, timeout)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from marshalike.sandbox import Limits, RunResult, run_module
from marshalike.spec import Func

Status = Literal["pass", "fail", "error", "timeout", "not_run"]
_RESULTS = ".marshalike-results.jsonl"
DEFAULT_LIMITS = Limits()
_TEST_NAME = re.compile(r"^test_(?P<func>\w+)_(?P<index>\d+)$")


def example_tests(func: Func) -> tuple[str, ...]:
    """The names emit gives the tests of `func`'s checkable examples (1-based, all examples
    counted, so a name always points at the same bullet)."""
    return tuple(
        f"test_{func.name}_{i}" for i, example in enumerate(func.examples, 1) if example.checkable
    )


@dataclass(frozen=True)
class ExampleResult:
    test: str
    status: Status
    expected: str | None = None
    actual: str | None = None
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None

    @property
    def func(self) -> str | None:
        match = _TEST_NAME.match(self.test)
        return match["func"] if match else None

    @property
    def index(self) -> int | None:
        match = _TEST_NAME.match(self.test)
        return int(match["index"]) if match else None


@dataclass(frozen=True)
class Verdict:
    results: tuple[ExampleResult, ...]
    problem: str | None
    seconds: float

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.results)

    @property
    def ok(self) -> bool:
        return self.problem is None and bool(self.results) and self.passed == len(self.results)


def verify(
    module_source: str,
    test_source: str,
    *,
    module_name: str,
    expected_tests: tuple[str, ...],
    limits: Limits = DEFAULT_LIMITS,
    extra_files: Mapping[str, str] | None = None,
) -> Verdict:
    """Run `test_source` against `module_source` in the sandbox.

    `expected_tests` names every test that should run; a test that never reported (because
    collection failed, the run timed out or the process died) gets a non-pass status, so a
    verdict can never pass by running fewer tests than it should. `extra_files` (name ->
    text) are modules the candidate imports, e.g. the generated modules of `# use`d specs.
    """
    sandbox_files = {
        **(extra_files or {}),
        f"{module_name}.py": module_source,
        f"test_{module_name}.py": test_source,
        "conftest.py": _plugin_source(),
    }
    args = [
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--rootdir",
        ".",
        f"test_{module_name}.py",
    ]
    # Each example gets `limits.timeout_s` (an alarm inside the child); the whole run is
    # bounded too, for code that a signal cannot interrupt.
    wall = limits.startup_s + limits.timeout_s * max(1, len(expected_tests))
    env = {"MARSHALIKE_EXAMPLE_TIMEOUT": str(limits.timeout_s)}
    run, collected = run_module(
        "pytest",
        args,
        files=sandbox_files,
        limits=limits,
        wall_s=wall,
        env=env,
        collect=(_RESULTS,),
    )
    return _verdict(_events(collected[_RESULTS]), run, expected_tests)


def _plugin_source() -> str:
    return files("marshalike").joinpath("verify_plugin.py").read_text(encoding="utf-8")


def _events(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill; the test it belonged to stays unreported
    return events


def _verdict(events: list[dict], run: RunResult, expected: tuple[str, ...]) -> Verdict:
    results: dict[str, ExampleResult] = {}
    started: list[str] = []
    collect_error = None
    for event in events:
        if event.get("event") == "start":
            started.append(event["test"])
        elif event.get("event") == "result" and event.get("test") in expected:
            results[event["test"]] = _result(event)
        elif event.get("event") == "collect_error":
            collect_error = event.get("message", "")
    problem = _problem(run, collect_error)
    hung = started[-1] if run.timed_out and started and started[-1] not in results else None
    ordered = tuple(
        results.get(name) or _missing(name, hung, problem, collect_error) for name in expected
    )
    return Verdict(results=ordered, problem=problem, seconds=run.seconds)


def _result(event: dict) -> ExampleResult:
    if event.get("error_type") == "ExampleTimeout":
        return ExampleResult(event["test"], "timeout", message=event.get("message"))
    return ExampleResult(
        test=event["test"],
        status=event["status"],
        expected=event.get("expected"),
        actual=event.get("actual"),
        error_type=event.get("error_type"),
        message=event.get("message"),
        traceback=event.get("traceback"),
    )


def _missing(
    name: str, hung: str | None, problem: str | None, collect: str | None
) -> ExampleResult:
    if name == hung:
        return ExampleResult(name, "timeout", message=problem)
    if collect is not None:
        return ExampleResult(name, "error", error_type="CollectionError", message=_tail(collect))
    return ExampleResult(name, "not_run", message=problem or "the test did not run")


def _problem(run: RunResult, collect_error: str | None) -> str | None:
    if run.timed_out:
        return f"timed out after {run.seconds:.1f} s"
    if run.signal_name:
        return f"killed by {run.signal_name} (a resource limit: memory, CPU time or file size)"
    if collect_error is not None:
        return "the module or its tests could not be imported: " + _tail(collect_error)
    if run.returncode not in (0, 1):
        return f"pytest exited with status {run.returncode}: {_tail(run.stdout + run.stderr)}"
    return None


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
