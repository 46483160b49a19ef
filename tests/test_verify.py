"""The sandboxed verifier, attacked on purpose: loops, allocations, fork loops, secrets."""

from __future__ import annotations

import os

import pytest

from marshalike.sandbox import Limits
from marshalike.verify import verify

TESTS = """\
import pytest
from cand import f


def test_f_1():
    actual = f(2)
    expected = 4
    assert actual == expected


def test_f_2():
    actual = f(3)
    expected = 9
    assert actual == expected
"""
NAMES = ("test_f_1", "test_f_2")
FAST = Limits(timeout_s=5.0, memory_mb=1024)


def run(body: str, tests: str = TESTS, names: tuple[str, ...] = NAMES, limits: Limits = FAST):
    return verify(body, tests, module_name="cand", expected_tests=names, limits=limits)


def test_correct_candidate_passes() -> None:
    verdict = run("def f(x):\n    return x * x\n")
    assert verdict.ok
    assert [r.status for r in verdict.results] == ["pass", "pass"]


def test_wrong_candidate_reports_expected_and_actual() -> None:
    verdict = run("def f(x):\n    return x + 2\n")
    assert not verdict.ok
    first, second = verdict.results
    assert first.status == "pass"
    assert (second.status, second.expected, second.actual) == ("fail", "9", "5")
    assert (second.func, second.index) == ("f", 2)


def test_exception_reports_type_message_and_traceback_tail() -> None:
    verdict = run("def f(x):\n    return {}[x]\n")
    result = verdict.results[0]
    assert (result.status, result.error_type, result.message) == ("error", "KeyError", "2")
    assert "KeyError: 2" in result.traceback


def test_import_error_fails_every_example() -> None:
    verdict = run("import not_a_module_anywhere\n\ndef f(x):\n    return x\n")
    assert not verdict.ok
    assert {r.status for r in verdict.results} == {"error"}
    assert "not_a_module_anywhere" in verdict.problem


def test_missing_tests_never_count_as_passing() -> None:
    verdict = run("def f(x):\n    return x * x\n", names=(*NAMES, "test_f_3"))
    assert not verdict.ok
    assert verdict.results[2].status == "not_run"


def test_infinite_loop_is_timed_out_and_names_the_example() -> None:
    body = "def f(x):\n    if x == 3:\n        while True:\n            pass\n    return x * x\n"
    verdict = run(body, limits=Limits(timeout_s=2.0, memory_mb=1024))
    assert [r.status for r in verdict.results] == ["pass", "timeout"]
    assert verdict.results[1].message == "did not finish within 2 s"
    assert verdict.problem is None


def test_catching_everything_does_not_escape_the_timeout() -> None:
    body = (
        "def f(x):\n    while True:\n        try:\n            while True:\n"
        "                pass\n        except Exception:\n            pass\n"
    )
    verdict = run(body, limits=Limits(timeout_s=1.0, memory_mb=1024))
    assert [r.status for r in verdict.results] == ["timeout", "timeout"]


def test_a_hang_that_ignores_the_alarm_is_killed_by_the_wall_clock() -> None:
    body = (
        "import signal\n\ndef f(x):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    while True:\n        pass\n"
    )
    verdict = run(body, limits=Limits(timeout_s=1.0, startup_s=4.0, memory_mb=1024))
    assert verdict.results[0].status == "timeout"
    assert verdict.results[1].status == "not_run"
    assert verdict.problem.startswith("timed out after")


def test_huge_allocation_is_stopped() -> None:
    verdict = run("def f(x):\n    return len(bytearray(10 * 1024**3))\n")
    assert not verdict.ok
    assert verdict.results[0].status == "error"
    assert verdict.results[0].error_type == "MemoryError"


def test_fork_loop_is_stopped() -> None:
    body = "import os\n\ndef f(x):\n    while True:\n        os.fork()\n"
    verdict = run(body, limits=Limits(timeout_s=5.0, memory_mb=1024, max_procs=32))
    assert not verdict.ok
    assert verdict.results[0].status in {"error", "timeout"}


def test_secrets_do_not_reach_generated_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-of-the-compiler")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    tests = TESTS.replace("expected = 4", "expected = None")
    body = (
        "import os\n\ndef f(x):\n"
        "    if x == 2:\n        return os.environ.get('OPENAI_API_KEY')\n"
        "    return [k for k in os.environ if 'KEY' in k or 'TOKEN' in k or 'SECRET' in k]\n"
    )
    verdict = run(body, tests=tests.replace("expected = 9", "expected = []"))
    assert os.environ["OPENAI_API_KEY"] == "sk-secret-of-the-compiler"
    assert [r.status for r in verdict.results] == ["pass", "pass"]


def test_runs_in_a_fresh_temp_dir() -> None:
    tests = TESTS.replace("expected = 4", "expected = True")
    body = (
        "import os\n\ndef f(x):\n"
        "    return os.getcwd().split('/')[-1].startswith('marshalike-sandbox-') or x * x\n"
    )
    verdict = run(body, tests=tests.replace("expected = 9", "expected = True"))
    assert verdict.ok
