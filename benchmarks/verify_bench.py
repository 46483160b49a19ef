"""What judging one candidate costs: a right solution of a small spec judged as the loop
judges a candidate (`marshalike.synth.solution_check`), its expected values computed
anew each time as they are once per function. Without the probe gate the time is the
examples' verification in the sandbox and the test file's run under pytest there; with
it, the gate's runs on inputs mutated from the examples as well.

The specs are kinds of example whose costs differ: literal expected values only, an
expected value that reads a standard module, expected values that call the function
under test (each such claim runs in a process of its own), and many examples. The
solutions below are written for this benchmark, by hand.

    python -m benchmarks.verify_bench            # median of 5 per spec and mode
    python -m benchmarks.verify_bench --runs 9
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from marshalike.build.job import make_job
from marshalike.errors import MarshalikeError
from marshalike.settings import resolve
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.solution_check import check_solution


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    spec: str
    solution: str


def _many_sums(count: int) -> str:
    return "".join(f"* add({i}, {i * 7 % 11}) = {i + i * 7 % 11}\n" for i in range(count))


CASES = (
    Case(
        "add",
        "3 literal expected values",
        "# func add(a: integer, b: integer): integer\n\nThe sum of a and b.\n\n"
        "* add(1, 2) = 3\n* add(0, 0) = 0\n* add(-4, 9) = 5\n",
        "def add(a: int, b: int) -> int:\n    return a + b\n",
    ),
    Case(
        "letters",
        "2 of 3 expected values read `string`",
        "# func letters(n: integer): string\n\nThe first n lowercase letters.\n\n"
        "* letters(3) = string.ascii_lowercase[:3]\n* letters(0) = ''\n"
        "* letters(26) = string.ascii_lowercase\n",
        "def letters(n: int) -> str:\n    return 'abcdefghijklmnopqrstuvwxyz'[:n]\n",
    ),
    Case(
        "is_even",
        "3 of 4 expected values call it",
        "# func is_even(n: integer): boolean\n\nWhether n is even.\n\n"
        "* is_even(2) = True\n* is_even(3) = not is_even(2)\n"
        "* is_even(-4) = is_even(2)\n* is_even(7) = is_even(3)\n",
        "def is_even(n: int) -> bool:\n    return n % 2 == 0\n",
    ),
    Case(
        "add",
        "40 literal expected values",
        "# func add(a: integer, b: integer): integer\n\nThe sum of a and b.\n\n" + _many_sums(40),
        "def add(a: int, b: int) -> int:\n    return a + b\n",
    ),
)


def judge_seconds(case: Case, settings: LoopSettings, work: Path, runs: int) -> list[float]:
    """The seconds of each of `runs` judgements of the case's solution (after one warm-up),
    each of which must accept it."""
    spec = work / f"{case.name}.mrsh"
    spec.write_text(case.spec, encoding="utf-8")
    seconds = []
    for run in range(runs + 1):
        start = time.perf_counter()
        verdict = check_solution(spec, case.solution, settings)
        took = time.perf_counter() - start
        if verdict.outcome not in ("accepted", "asked"):
            raise SystemExit(f"{case.name}: the solution was {verdict.outcome}: {verdict.reason}")
        if run:
            seconds.append(took)
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="judgements timed per spec and mode")
    args = p.parse_args(argv)
    try:
        settings = make_job(resolve({})).loop
    except MarshalikeError as exc:
        print(f"marshalike: error: {exc}", file=sys.stderr)
        return 1
    print("| spec | examples | without the gate, s | with the gate, s |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for case in CASES:
            medians = [
                statistics.median(
                    judge_seconds(case, replace(settings, probe=probe), Path(work), args.runs)
                )
                for probe in (False, True)
            ]
            print(f"| {case.name} | {case.what} | {medians[0]:.3f} | {medians[1]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
