"""Choosing among candidates that all pass the examples, by agreement (CodeT's consensus).

Wrong candidates tend to be wrong in different ways, right ones agree. Every passing
candidate runs on the same extra inputs (`mutate.mutated_calls`), each candidate in one
sandboxed subprocess, and what it returns on each input becomes its output vector: a
canonical text of the value, or the name of the exception it raised. The chosen candidate is
the first of the largest group with identical vectors, where a candidate sampled k times
counts k times (the model's own preference is evidence too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from marshalike.sandbox import Limits, run_module

# An extra input runs code that no example exercised, where loops that never end are
# common (`while n != 0` with n = -1). A timeout is an output like any other, so a short
# bound per input costs the vote little and keeps a probe from taking minutes.
PROBE_TIMEOUT_S = 2.0
NO_OUTPUT = "no output"  # the process died or ran out of time before this input
_RUNNER_MODULE = "_marshalike_probe"
_CONFIG = ".marshalike-probe.json"
_OUT = ".marshalike-probe-out.jsonl"

# Runs inside the sandbox, so it imports nothing from marshalike. Values are compared as
# tests compare them (==), not as repr prints them: dicts and sets ignore order, 2 == 2.0,
# floats are rounded, memory addresses are dropped.
_RUNNER = r"""
import dataclasses, importlib, json, re, signal, sys

cfg = json.load(open(".marshalike-probe.json", encoding="utf-8"))


class ProbeTimeout(BaseException):
    pass


def alarm(signum, frame):
    raise ProbeTimeout()


def number(x):
    x = round(x, 9) + 0.0
    return repr(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def canon(v, depth=0):
    if depth > 30:
        return "..."
    if isinstance(v, float):
        return number(v)
    if isinstance(v, (list, tuple)):
        return type(v).__name__ + "[" + ",".join(canon(x, depth + 1) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        return "set{" + ",".join(sorted(canon(x, depth + 1) for x in v)) + "}"
    if isinstance(v, dict):
        pairs = (canon(k, depth + 1) + ":" + canon(x, depth + 1) for k, x in v.items())
        return "dict{" + ",".join(sorted(pairs)) + "}"
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        inner = ",".join(canon(getattr(v, f.name), depth + 1) for f in dataclasses.fields(v))
        return type(v).__name__ + "(" + inner + ")"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(v))


namespace = dict(vars(importlib.import_module(cfg["module"])))
signal.signal(signal.SIGALRM, alarm)
with open(".marshalike-probe-out.jsonl", "a", encoding="utf-8") as out:
    for index, call in enumerate(cfg["calls"]):
        for name in set(re.findall(r"[A-Za-z_]\w*", call)):
            if name not in namespace and name in sys.stdlib_module_names:
                if name not in ("antigravity", "this"):
                    namespace[name] = importlib.import_module(name)
        signal.setitimer(signal.ITIMER_REAL, cfg["timeout"])
        message = ""
        try:
            output = canon(eval(call, dict(namespace)))
        except ProbeTimeout:
            output = "timeout"
        except BaseException as exc:
            output = "raises " + type(exc).__name__
            message = str(exc)[:200]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        record = {"index": index, "output": output[:2000], "message": message}
        out.write(json.dumps(record) + "\n")
        out.flush()
"""


@dataclass(frozen=True)
class Ranking:
    chosen: int  # index into the candidates ranked
    support: int  # samples in the chosen candidate's group
    total: int  # samples ranked
    outputs: tuple[tuple[str, ...], ...]  # per candidate, per input


@dataclass(frozen=True)
class ProbeOutcome:
    output: str  # canonical value, "raises <Type>", "timeout" or NO_OUTPUT
    message: str = ""  # the exception's message when it raised


def rank(
    sources: Sequence[str],
    weights: Sequence[int],
    calls: Sequence[str],
    *,
    module_name: str,
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    jobs: int = 4,
) -> Ranking:
    """Probe every candidate module in `sources` on `calls` and pick by consensus."""

    def run(source: str) -> tuple[str, ...]:
        return probe(
            source, module_name=module_name, calls=calls, limits=limits, extra_files=extra_files
        )

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outputs = tuple(pool.map(run, sources))
    chosen, support = choose(outputs, weights)
    return Ranking(chosen, support, sum(weights), outputs)


def choose(vectors: Sequence[tuple[str, ...]], weights: Sequence[int]) -> tuple[int, int]:
    """The index of the first candidate of the heaviest group of equal vectors, and that
    group's weight."""
    support = [sum(w for other, w in zip(vectors, weights, strict=True) if other == v)
               for v in vectors]  # fmt: skip
    best = max(range(len(vectors)), key=lambda i: (support[i], -i))
    return best, support[best]


def probe(
    module_source: str,
    *,
    module_name: str,
    calls: Sequence[str],
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """What the module's calls return (canonical text) or raise, one sandboxed run."""
    outcomes = probe_outcomes(
        module_source, module_name=module_name, calls=calls, limits=limits, extra_files=extra_files
    )
    return tuple(outcome.output for outcome in outcomes)


def probe_outcomes(
    module_source: str,
    *,
    module_name: str,
    calls: Sequence[str],
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
) -> tuple[ProbeOutcome, ...]:
    """As `probe`, with the message of each exception raised (the probe gate shows it to
    the model; the vote compares outputs alone, since messages vary with the data)."""
    per_call = min(limits.timeout_s, PROBE_TIMEOUT_S)
    config = {"module": module_name, "calls": list(calls), "timeout": per_call}
    files = {
        **(extra_files or {}),
        f"{module_name}.py": module_source,
        f"{_RUNNER_MODULE}.py": _RUNNER,
        _CONFIG: json.dumps(config),
    }
    wall = limits.startup_s + per_call * max(1, len(calls))
    _, collected = run_module(
        _RUNNER_MODULE, [], files=files, limits=limits, wall_s=wall, collect=(_OUT,)
    )
    found: dict[int, ProbeOutcome] = {}
    for line in collected[_OUT].splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill: that input has no output
        found[record["index"]] = ProbeOutcome(record["output"], record.get("message", ""))
    return tuple(found.get(i, ProbeOutcome(NO_OUTPUT)) for i in range(len(calls)))
