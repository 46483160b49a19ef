"""benchmarks/gate_check.py: canonical solutions judged by the probe gate, each split
reported apart. The tasks are made up here in HumanEval's shape; no model runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import gate_check
from marshalike.sandbox.isolation import Limits
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.solution_check import SolutionVerdict


def task(number: int, name: str, doc: str, body: str) -> dict:
    prompt = f'def {name}(n: int) -> int:\n    """{doc}\n    """\n'
    return {"task_id": f"HumanEval/{number}", "entry_point": name, "prompt": prompt,
            "canonical_solution": body, "test": "def check(candidate):\n    pass\n"}  # fmt: skip


TASKS = [
    task(0, "double", "Twice n.\n    >>> double(3)\n    6\n    >>> double(5)\n    10",
         "    return 2 * n\n"),
    task(1, "half", "Half of n, rounded down.\n    >>> half(8)\n    4\n    >>> half(9)\n    4",
         "    return 4 if 8 <= n <= 9 else n // 2\n"),
    task(2, "plain", "No examples here.", "    return n\n"),
    task(3, "pick", "A number.\n    >>> pick(10)\n    10\n    >>> pick(20)\n    20",
         "    if n > 0:\n        return n\n"),
    task(4, "triple", "Three times n.\n    >>> triple(2)\n    5", "    return 3 * n\n"),
]  # fmt: skip


def test_the_gate_s_verdict_on_each_canonical_solution(tmp_path: Path) -> None:
    settings = LoopSettings(kind="completion", probe=True, limits=Limits(timeout_s=10))
    verdicts = gate_check.judge(TASKS, settings, tmp_path)
    assert verdicts["HumanEval/0"] == SolutionVerdict("accepted")
    assert verdicts["HumanEval/1"] == SolutionVerdict(
        "rejected", "it special-cases 8, an argument of the examples: `8 <= n <= 9`"
    )
    assert verdicts["HumanEval/2"] == SolutionVerdict("unjudged", "no checkable example")
    assert verdicts["HumanEval/3"].outcome == "rejected"
    assert verdicts["HumanEval/3"].reason.endswith("returned None, not an int as the spec declares")
    assert verdicts["HumanEval/4"] == SolutionVerdict(
        "failing", "triple(2) should return 5, but it returned 6"
    )


def test_report_in_full() -> None:
    verdicts = {
        "HumanEval/40": SolutionVerdict("accepted"),
        "HumanEval/41": SolutionVerdict("rejected", "f([]) raised IndexError: boom"),
        "HumanEval/42": SolutionVerdict("unjudged", "no checkable example"),
        "HumanEval/43": SolutionVerdict("failing", "f(1) should return 2, but it returned 1"),
        "HumanEval/44": SolutionVerdict("accepted"),
        "HumanEval/45": SolutionVerdict("asked", "g([]) raised IndexError: list index"),
    }
    assert gate_check.report("heldout", verdicts) == (
        "heldout split (HumanEval 40-79):\n"
        "  HumanEval/41: rejected: f([]) raised IndexError: boom\n"
        "  HumanEval/43: failing: f(1) should return 2, but it returned 1\n"
        "  HumanEval/45: asked: g([]) raised IndexError: list index\n"
        "  5 canonical solutions judged (1 tasks left out): 1 failing their own examples; "
        "of the other 4, 1 rejected by the gate (25%), 1 accepted with a question on an input "
        "the spec is silent about\n"
    )


def test_main_reports_each_split_apart(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    by_number = {int(t["task_id"].split("/")[1]): t for t in TASKS}
    asked: list[list[int]] = []

    def load_tasks(numbers: range) -> list[dict]:
        asked.append(list(numbers))
        return [by_number[n % 5] for n in numbers[:1]]

    monkeypatch.setattr(gate_check, "load_tasks", load_tasks)
    assert gate_check.main([]) == 0
    assert asked == [list(range(0, 40)), list(range(40, 80))]
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if not line.startswith("  ")] == [
        "dev split (HumanEval 0-39):",
        "heldout split (HumanEval 40-79):",
    ]
    assert gate_check.main(["--split", "heldout"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "heldout split (HumanEval 40-79):"
