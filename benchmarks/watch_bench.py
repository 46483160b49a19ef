"""Watch mode's latency as a user feels it: from saving a spec to its verified output.

    python -m benchmarks.watch_bench [--edits 10] [--quick] [--backend ...] [--json PATH]

A spec of five small independent functions (`add`, `double`, `length`, `join`,
`first_char`, three examples each) is written into a temporary folder, and `marshalike
watch bench.mrsh --out out` runs on it as a subprocess, given the compile settings passed
here (`--backend`, `--model`, `--base-url`, `--seed`, `--quick`, ...; `--help` lists them).
Once its first compile is verified, the spec is edited `--edits` times, one function at a
time in turn: each edit appends one example bullet to that function's examples, with a new
input and the right value, so watch recompiles that function and takes the four others
from the lock. Each edit is saved as most editors save: the text written to a temporary
file beside the spec, then renamed over it (`os.replace`), one event for the watcher. Saves
are `--gap` seconds after watch last printed a line, so nothing of the previous compile is
still under way.

An edit's latency is the time from the rename to the arrival of watch's status line
`bench.mrsh: ok ...`, counted only when the output is then verified for the saved text:
the lock (`out/bench.lock.json`) holds the saved text's hash (`spec_hash`, as the compiler
hashes it), every function as `verified`, and the hash of the `out/bench.py` on disk. So a
line about an older text never counts: its lock holds that text's hash. It includes what
the user waits for: watch's wait for the folder to go quiet (200 ms), reading the spec, the
model call for the edited function and running its examples. An edit fails when, after a
`bench.mrsh: compiling` line that came after the save, watch reports the spec failed (or ok
with the output not verified); failures are counted and left out of the figures, and the
failing bullet is taken back, so the next edit starts from the last text that compiled
(as a user would fix it) instead of failing again.

Prints the backend and model, the first compile's time (from starting watch: the model's
load included), then the median, minimum and maximum latency in seconds of the edits that
compiled and how many failed; `--json PATH` writes the figures too. `--timeout` bounds each
wait, the first compile's included: past it the benchmark ends with one line. Watch is
stopped with SIGINT at the end (as Ctrl-C stops it), killed if it has not stopped within
`STOP_S` seconds, and waited for, whatever happened before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshalike.build.job import make_job
from marshalike.build.results import CompileJob
from marshalike.codegen.emit import spec_hash
from marshalike.errors import MarshalikeError
from marshalike.settings import add_arguments, flag_values, resolve

# The compile settings passed on to `marshalike watch`, spelled as its flags.
SETTING_FLAGS = (
    "backend", "model", "base_url", "api", "quant", "candidates", "attempts", "rank", "probe",
    "questions", "repair", "jobs", "seed", "request_timeout",
)  # fmt: skip
MODULE = "bench"
SPEC = f"{MODULE}.mrsh"
STATUS = f"{SPEC}: "  # how watch's status lines about the spec begin
STOP_S = 60.0  # how long watch may take to stop after SIGINT (a model call finishing)


@dataclass(frozen=True)
class Function:
    header: str
    description: str
    examples: tuple[str, ...]
    more: Callable[[int], str]  # a new, right example bullet for the n-th edit


FUNCTIONS = (
    Function(
        "add(a: integer, b: integer): integer",
        "The sum of the two integers.",
        ("add(1, 2) = 3", "add(0, 0) = 0", "add(-4, 9) = 5"),
        lambda n: f"add({n}, {n + 1}) = {2 * n + 1}",
    ),
    Function(
        "double(n: integer): integer",
        "Twice the number.",
        ("double(2) = 4", "double(0) = 0", "double(-3) = -6"),
        lambda n: f"double({n}) = {2 * n}",
    ),
    Function(
        "length(text: string): integer",
        "The number of characters in the text.",
        ("length('abc') = 3", "length('') = 0", "length('hello world') = 11"),
        lambda n: f"length('{'x' * n}') = {n}",
    ),
    Function(
        "join(a: string, b: string): string",
        "The two texts, the first then the second.",
        ("join('ab', 'cd') = 'abcd'", "join('', 'x') = 'x'", "join('a b', '') = 'a b'"),
        lambda n: f"join('w{n}', 'z') = 'w{n}z'",
    ),
    Function(
        "first_char(text: string): string",
        "The first character of a non-empty text.",
        ("first_char('abc') = 'a'", "first_char('Z') = 'Z'", "first_char('hello') = 'h'"),
        lambda n: f"first_char('x{n}') = 'x'",
    ),
)
NAMES = tuple(f.header.split("(")[0] for f in FUNCTIONS)


def spec_text(examples: dict[str, list[str]]) -> str:
    sections = [
        f"# func {f.header}\n\n{f.description}\n\n" + "".join(f"* {e}\n" for e in examples[name])
        for f, name in zip(FUNCTIONS, NAMES, strict=True)
    ]
    return "\n".join(sections)


def save(path: Path, text: str) -> float:
    """Write `text` as an editor does (a temporary file renamed over `path`); the moment the
    rename returned."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return time.perf_counter()


class WatchError(Exception):
    """The measurement cannot go on: watch ended, or was silent past the timeout."""


class CompileFailed(Exception):
    """The compile of the saved text failed; the message is watch's status."""


class Watch:
    """`marshalike watch` as a subprocess in a session of its own (a Ctrl-C at the terminal
    reaches the benchmark, which stops watch itself); its lines, stdout and stderr merged,
    each with the moment it arrived, read by a thread."""

    def __init__(self, argv: list[str], folder: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        self.tail: deque[str] = deque(maxlen=10)  # the last lines, for an error message
        self._lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put((time.perf_counter(), line.rstrip("\n")))
        self._lines.put((time.perf_counter(), None))

    def line(self, deadline: float) -> tuple[float, str]:
        """The next line and when it arrived."""
        try:
            at, line = self._lines.get(timeout=max(0.0, deadline - time.perf_counter()))
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            status = self.proc.wait()
            raise WatchError(f"watch ended with status {status}: " + " | ".join(self.tail))
        self.tail.append(line)
        return at, line

    def settle(self, quiet: float, deadline: float) -> None:
        """Read lines until none has come for `quiet` seconds."""
        while True:
            try:
                self.line(min(deadline, time.perf_counter() + quiet))
            except TimeoutError:
                if time.perf_counter() >= deadline:
                    raise
                return

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def unverified(out: Path, text: str) -> str | None:
    """What keeps `out` from holding the verified output of spec `text`; None if nothing."""
    lock_file = out / f"{MODULE}.lock.json"
    try:
        lock = json.loads(lock_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"no readable {lock_file.name}"
    if lock.get("spec_hash") != spec_hash(text):
        return f"{lock_file.name} is for another text of the spec"
    units = lock.get("units", {})
    left = [name for name in NAMES if units.get(name, {}).get("status") != "verified"]
    if left:
        return "not verified: " + ", ".join(left)
    module = out / f"{MODULE}.py"
    try:
        digest = "sha256:" + hashlib.sha256(module.read_bytes()).hexdigest()
    except OSError:
        return f"no {module.name}"
    if lock.get("outputs", {}).get(module.name) != digest:
        return f"{module.name} is not the module {lock_file.name} lists"
    return None


def verified_after(watch: Watch, out: Path, text: str, since: float, deadline: float) -> float:
    """Seconds from `since` to the status line after which `out` holds the verified output
    of `text`; raises `CompileFailed` when the compile of `text` fails."""
    started = False  # a compile began after `since`, so it read `text`
    while True:
        at, line = watch.line(deadline)
        if not line.startswith(STATUS):
            continue  # progress, diagnostics, questions
        status = line[len(STATUS) :]
        if status == "compiling":
            started = True
        elif status.startswith("ok"):
            missing = unverified(out, text)
            if missing is None:
                return at - since
            if started:
                raise CompileFailed(f"{status}, but {missing}")
        elif status.startswith(("cancelled", "interrupted")):
            started = False
        elif started:
            raise CompileFailed(status)


def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    spec, out = folder / SPEC, folder / "out"
    examples = {name: list(f.examples) for name, f in zip(NAMES, FUNCTIONS, strict=True)}
    text = spec_text(examples)
    spec.write_text(text, encoding="utf-8")
    argv = [sys.executable, "-m", "marshalike", "watch", SPEC, "--out", out.name, *passed(args)]
    started = time.perf_counter()
    watch = Watch(argv, folder)
    try:
        try:
            first = verified_after(watch, out, text, started, started + args.timeout)
        except CompileFailed as exc:
            raise WatchError(f"first compile: {exc}") from None
        except TimeoutError:
            raise WatchError(f"no first compile within {args.timeout:g} s") from None
        print(f"first compile: {first:.2f} s", file=sys.stderr)
        latencies: list[float | None] = []
        failures: list[dict[str, Any]] = []
        for number in range(1, args.edits + 1):
            function = (number - 1) % len(FUNCTIONS)
            examples[NAMES[function]].append(FUNCTIONS[function].more(100 + number))
            seconds: float | None = None
            try:
                seconds = edit(watch, spec, out, spec_text(examples), args)
                shown = f"{seconds:.2f} s"
            except CompileFailed as exc:
                shown = str(exc)
                failures.append({"edit": number, "function": NAMES[function], "status": shown})
                examples[NAMES[function]].pop()  # taken back: later edits start from good text
            except TimeoutError:
                message = f"no verified compile within {args.timeout:g} s of edit {number}"
                raise WatchError(message) from None
            latencies.append(seconds)
            print(f"edit {number}/{args.edits} ({NAMES[function]}): {shown}", file=sys.stderr)
    finally:
        watch.stop()
    return {"first_compile_s": first, "latencies_s": latencies, "failures": failures}


def edit(watch: Watch, spec: Path, out: Path, text: str, args: argparse.Namespace) -> float:
    """Save `text` once watch has been quiet for `args.gap` seconds; the latency."""
    watch.settle(args.gap, time.perf_counter() + args.timeout)
    saved = save(spec, text)
    return verified_after(watch, out, text, saved, saved + args.timeout)


def passed(args: argparse.Namespace) -> list[str]:
    """The compile settings given here, as `marshalike watch` flags."""
    flags = []
    for name, value in flag_values(args, SETTING_FLAGS).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif value is not None:
            flags += [flag, str(value)]
    return flags + (["--quick"] if args.quick else [])


def figures(measured: dict[str, Any], job: CompileJob, args: argparse.Namespace) -> dict:
    compiled = [s for s in measured["latencies_s"] if s is not None]
    return {
        "backend": job.backend_name,
        "model": job.model_id,
        "quick": args.quick,
        "seed": job.loop.seed,
        "functions": len(FUNCTIONS),
        "save": "rename",
        "edits": args.edits,
        "compiled": len(compiled),
        "failed": len(measured["failures"]),
        "median_s": statistics.median(compiled) if compiled else None,
        "min_s": min(compiled, default=None),
        "max_s": max(compiled, default=None),
        **measured,
    }


def report(f: dict[str, Any]) -> None:
    mode = "quick" if f["quick"] else "full loop"
    print(f"{f['backend']} {f['model']} ({mode}); {f['functions']}-function spec")
    print(f"first compile (watch started, model loaded): {f['first_compile_s']:.2f} s")
    left_out = f"; {f['failed']} failed to compile, left out" if f["failed"] else ""
    if f["compiled"]:
        print(
            f"{f['compiled']} edits, save to verified output: median {f['median_s']:.2f} s, "
            f"min {f['min_s']:.2f} s, max {f['max_s']:.2f} s{left_out}"
        )
    else:
        print(f"no edit compiled ({f['failed']} failed)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edits", type=int, default=10, help="edits, one function each [10]")
    p.add_argument("--gap", type=float, default=0.5, help="quiet seconds before a save [0.5]")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per wait [600]")
    p.add_argument("--quick", action="store_true", help="pass --quick on to watch")
    add_arguments(p, SETTING_FLAGS)
    p.add_argument("--json", type=Path, help="also write the figures here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        job = make_job(resolve(flag_values(args, SETTING_FLAGS)), quick=args.quick)
        with tempfile.TemporaryDirectory(prefix="watch-bench-") as folder:
            measured = measure(args, Path(folder))
    except (MarshalikeError, WatchError) as exc:
        print(f"watch_bench: {exc}", file=sys.stderr)
        return 1
    result = figures(measured, job, args)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
