"""A pytest plugin copied into the sandbox as conftest.py: writes one JSON line per test.

It runs inside the sandboxed child, so it imports nothing from marshalike. A line is written
(and flushed) when a test starts, so that after a timeout the parent knows which example hung.
"""

from __future__ import annotations

import json
import os
import signal
import traceback

import pytest

RESULTS = ".marshalike-results.jsonl"
_REPR_LIMIT = 600


class ExampleTimeout(BaseException):
    """Raised by the alarm; a BaseException so the candidate's `except Exception` can't eat it."""


def _alarm(signum: int, frame: object) -> None:
    raise ExampleTimeout(f"did not finish within {_TIMEOUT:g} s")


_TIMEOUT = float(os.environ.get("MARSHALIKE_EXAMPLE_TIMEOUT", "10"))


def _write(record: dict) -> None:
    with open(os.path.join(os.environ.get("HOME", "."), RESULTS), "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ is the candidate's problem, not ours
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "..."


def _text(value: object) -> str:
    try:
        text = str(value)
    except Exception as exc:  # a broken __str__ is the candidate's problem, not ours
        text = f"<unprintable {type(value).__name__}: {exc}>"
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "..."


def pytest_runtest_logstart(nodeid: str, location: tuple) -> None:
    _write({"event": "start", "test": nodeid.rsplit("::", 1)[-1]})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, _TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.failed):
        _write(_record(item, call, report))


def _record(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> dict:
    record = {"event": "result", "test": item.name, "status": "pass"}
    if report.passed:
        return record
    excinfo = call.excinfo
    if excinfo is None:
        return {**record, "status": "error", "error_type": "Error", "message": report.longreprtext}
    frame_locals = _test_locals(item, excinfo)
    if excinfo.errisinstance(AssertionError) and "expected" in frame_locals:
        return {
            **record,
            "status": "fail",
            "expected": _short(frame_locals["expected"]),
            "actual": _short(frame_locals.get("actual")),
        }
    return {
        **record,
        "status": "error",
        "error_type": excinfo.type.__name__,
        "message": _text(excinfo.value),
        "traceback": _tail(excinfo),
    }


def _test_locals(item: pytest.Item, excinfo: pytest.ExceptionInfo) -> dict:
    for entry in excinfo.traceback:
        if entry.frame.code.name == item.name:
            return dict(entry.frame.f_locals)
    return {}


def _tail(excinfo: pytest.ExceptionInfo, lines: int = 8) -> str:
    text = "".join(traceback.format_exception(excinfo.type, excinfo.value, excinfo.tb))
    return "\n".join(text.rstrip().splitlines()[-lines:])


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _write({"event": "collect_error", "message": report.longreprtext[-2000:]})
