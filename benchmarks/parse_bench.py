"""Parse a generated 10,000-line spec and print lines per second (median of a few runs).

    python -m benchmarks.parse_bench [--lines N] [--runs R]

The spec mixes what real specs hold: types with CSV rows, file-backed types, functions with
multi-paragraph descriptions, and examples of every form (returns, throws, informal).
Wall-clock and CPU time are both printed: on a shared machine the wall clock also measures
the neighbours, while the process's CPU time measures the parser.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from marshalike.language import examples
from marshalike.language.parse import parse


def _type(i: int) -> list[str]:
    rows = [f"name{j}, {20 + i % 50 + j}, 'city{j}'" for j in range(4)]
    return [f"# type Person{i}", "name, age, city", *rows, ""]


def _func(i: int) -> list[str]:
    name = f"compute_{i}"
    # Marsha's own form, and every fourth function our named-parameter extension.
    params = f"list of Person{i}, integer limit"
    if i % 4 == 0:
        params = f"people: list of Person{i}, limit: integer = {i % 7}"
    return [
        f"# func {name}({params}): list of names",
        "",
        f"This function receives a list of `Person{i}` objects and returns the names of the",
        "people older than the limit, ordered by age; a `#` here is not a heading.",
        "",
        "- ties keep their input order",
        "- an empty list gives an empty list",
        "",
        f"* {name}([], 3) = []",
        f"* {name}([Person{i}('Joe', {i}, 'Oslo')], 1) == ['Joe']",
        f"* {name}([Person{i}('Ann', 30, 'Rome'), Person{i}('Bo', {i % 90}, 'Lima')], 2) = "
        f"['Ann', 'Bo']",
        f"* {name}(None, {i}) = throws an error",
        f"* {name}({{'x': true, 'y': null}}, 0) raises ValueError",
        f"* {name}('text') = a list of no names",
        "",
    ]


def generate(lines: int) -> str:
    """A spec of about `lines` lines: every fifth section a type, one file-backed in fifty."""
    out: list[str] = ["# Generated benchmark spec", ""]
    i = 0
    while len(out) < lines:
        if i % 50 == 0:
            out += [f"# type Table{i} table{i}.csv", ""]
        out += _type(i) if i % 5 == 0 else _func(i)
        i += 1
    return "\n".join(out[:lines]) + "\n"


def _timed(text: str) -> tuple[float, float, int, int, int]:
    """Parse once from a cold example cache: wall seconds, CPU seconds, and what was found."""
    examples.is_expression.cache_clear()
    wall, cpu = time.perf_counter(), time.process_time()
    result = parse(text, "bench.mrsh")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    module = result.module
    funcs = len(module.funcs) if module else 0
    found = sum(len(f.examples) for f in module.funcs) if module else 0
    return wall, cpu, funcs, found, len(result.diagnostics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="measure in N fresh processes (hash seeds 0..N-1) and report the median: "
        "here one process runs up to 1.8x slower than the next, for reasons outside the parser",
    )
    args = parser.parse_args()
    if args.processes:
        _across_processes(args)
        return
    text = generate(args.lines)
    count = text.count("\n")
    parse(text)  # build the cached grammars outside the timing
    runs = [_timed(text) for _ in range(args.runs)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    _, _, funcs, found, diagnostics = runs[-1]
    print(
        f"{count} lines, {funcs} funcs, {found} examples, {diagnostics} diagnostics: "
        f"median {wall * 1000:.1f} ms wall = {count / wall:,.0f} lines/s; "
        f"{cpu * 1000:.1f} ms CPU = {count / cpu:,.0f} lines/s"
    )


def _across_processes(args: argparse.Namespace) -> None:
    rates = []
    for seed in range(args.processes):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        argv = [sys.executable, __file__, "--lines", str(args.lines), "--runs", str(args.runs)]
        line = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
        print(f"PYTHONHASHSEED={seed}: {line.strip()}")
        rates.append(float(line.split(" wall = ")[1].split(" lines/s")[0].replace(",", "")))
    print(
        f"median over {len(rates)} processes: {statistics.median(rates):,.0f} lines/s wall "
        f"(target 50,000: {statistics.median(rates) / 50_000:.2f}x)"
    )


if __name__ == "__main__":
    main()
