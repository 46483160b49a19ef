"""How well `marshalike decompile` turns existing code into specs: HumanEval's canonical
solutions (prompt plus solution, one module per task) decompiled, then each spec loaded and
its examples verified against the original module in the sandbox.

Printed: the share of modules whose spec loads with no errors, gives every function it holds
an example, and whose every example holds for the original; the functions with no example;
the mean examples per decompiled function; the mean mutation score (the share of variants
of a function's code its chosen examples tell apart); and the functions refused, with why.

Usage: python -m benchmarks.decompile [--tasks 0-163] [--jobs 2] [--write DIR]

With `--write DIR`, the specs and the tasks' hidden tests are written for the quality
benchmark, which compiles them and runs the hidden tests (`python -m benchmarks.quality
--corpus humaneval --humaneval-dir DIR --mode quick`), next to the
docstring-only specs of the same tasks (`python -m benchmarks.humaneval --tasks 0-163
OUT`, then `--humaneval-dir OUT`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.humaneval import hidden_test, load_tasks, module_name, task_numbers
from marshalike.decompile.module import decompile_source
from marshalike.decompile.roundtrip import round_trip
from marshalike.sandbox.isolation import Limits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=task_numbers, default="0-163",
                        help="task numbers, FIRST-LAST [0-163]")  # fmt: skip
    parser.add_argument("--write", type=Path, metavar="DIR",
                        help="also write the specs to DIR/specs and HumanEval's hidden tests "
                        "to DIR/hidden, for `benchmarks.quality --humaneval-dir DIR`")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2, help="sandboxed runs at once")
    args = parser.parse_args(argv)
    limits = Limits()
    start = time.monotonic()
    good = empty = 0
    examples: list[int] = []
    scores: list[float] = []
    refused: list[str] = []
    tasks = load_tasks(args.tasks)
    for task in tasks:
        name = module_name(task)
        source = task["prompt"] + task["canonical_solution"]
        done = decompile_source(source, filename=f"{name}.py", limits=limits, jobs=args.jobs)
        checked = round_trip(done.spec, source, f"{name}.py", limits)
        if args.write:
            for folder, file, text in (
                ("specs", f"{name}.mrsh", done.spec),
                ("hidden", f"{name}_hidden.py", hidden_test(task, name)),
            ):
                (args.write / folder).mkdir(parents=True, exist_ok=True)
                (args.write / folder / file).write_text(text, encoding="utf-8")  # fmt: skip
        # A spec counts when it loads clean, every example holds and every function it
        # holds has an example: a function with none holds vacuously.
        bare = [f.name for f in done.functions if not f.refused and f.examples == 0]
        empty += len(bare)
        ok = checked.ok and not bare
        good += ok
        for report in done.functions:
            if report.refused:
                refused.append(f"{name}: {report.line()}")
            elif report.measured is not None:
                examples.append(report.examples)
                strength = report.measured.strength
                if strength.total:
                    scores.append(strength.killed / strength.total)
        kept = [f.line() for f in done.functions if not f.refused]
        print(f"{name}: {'ok' if ok else 'FAILED'} "
              f"({checked.held}/{checked.total} examples hold, {checked.errors} errors); "
              + "; ".join(kept), flush=True)  # fmt: skip
    n = len(tasks)
    print()
    print(f"specs that load clean, every function with an example and every example "
          f"holding: {good}/{n} ({good / n:.0%})")  # fmt: skip
    print(f"functions with no example (nothing to run them on): {empty}")
    if examples:
        print(f"mean examples per function: {sum(examples) / len(examples):.2f} "
              f"({len(examples)} functions)")  # fmt: skip
    if scores:
        print(f"mean mutation score: {sum(scores) / len(scores):.0%} "
              f"({len(scores)} functions with variants)")  # fmt: skip
    print(f"functions refused: {len(refused)}")
    for line in refused:
        print(f"  {line}")
    print(f"seconds: {time.monotonic() - start:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
