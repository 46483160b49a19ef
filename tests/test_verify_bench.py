"""The verifier's benchmark (benchmarks/verify_bench.py): its solutions are right for their
specs (each judged as a candidate would be), and it refuses to time one that is not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import verify_bench
from marshalike.build.job import make_job
from marshalike.settings import resolve


@pytest.fixture(scope="module")
def settings():
    return replace(make_job(resolve({})).loop, probe=False)


@pytest.mark.parametrize("case", verify_bench.CASES, ids=lambda c: f"{c.name}-{c.what}")
def test_each_case_is_accepted(case, settings, tmp_path: Path) -> None:
    seconds = verify_bench.judge_seconds(case, settings, tmp_path, runs=1)
    assert len(seconds) == 1 and seconds[0] > 0


def test_a_wrong_solution_is_not_timed(settings, tmp_path: Path) -> None:
    wrong = replace(verify_bench.CASES[0], solution="def add(a, b):\n    return a - b\n")
    with pytest.raises(SystemExit, match="add: the solution was failing"):
        verify_bench.judge_seconds(wrong, settings, tmp_path, runs=1)
