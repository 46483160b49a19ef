"""benchmarks/gate_check.py: canonical solutions judged by the probe gate. The tasks are
made up here in HumanEval's shape; no model runs."""

from __future__ import annotations

import sys
from pathlib import Path

from marshalike.sandbox.isolation import Limits
from marshalike.synth.loop import LoopSettings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import gate_check  # noqa: E402


def task(number: int, name: str, doc: str, body: str) -> dict:
    prompt = f'def {name}(n: int) -> int:\n    """{doc}\n    """\n'
    return {"task_id": f"HumanEval/{number}", "entry_point": name, "prompt": prompt,
            "canonical_solution": body, "test": "def check(candidate):\n    pass\n"}  # fmt: skip


def test_the_gate_s_verdict_on_each_canonical_solution(tmp_path: Path) -> None:
    tasks = [
        task(0, "double", "Twice n.\n    >>> double(3)\n    6\n    >>> double(5)\n    10",
             "    return 2 * n\n"),
        task(1, "half", "Half of n, rounded down.\n    >>> half(8)\n    4\n    >>> half(9)\n    4",
             "    return 4 if 8 <= n <= 9 else n // 2\n"),
        task(2, "plain", "No examples here.", "    return n\n"),
        task(3, "pick", "A number.\n    >>> pick(10)\n    10\n    >>> pick(20)\n    20",
             "    if n > 0:\n        return n\n"),
    ]  # fmt: skip
    settings = LoopSettings(kind="completion", probe=True, limits=Limits(timeout_s=10))
    verdicts = gate_check.judge(tasks, settings, tmp_path)
    assert verdicts["HumanEval/0"] == ""
    assert verdicts["HumanEval/1"].startswith("it special-cases 8, an argument of the examples")
    assert verdicts["HumanEval/2"] == "left out: no checkable example"
    assert verdicts["HumanEval/3"].endswith("returned None, not an int as the spec declares")
