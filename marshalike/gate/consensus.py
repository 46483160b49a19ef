"""Choosing among candidates that all pass the examples, by agreement (CodeT's consensus).

Wrong candidates tend to be wrong in different ways, right ones agree. Every passing
candidate runs on the same extra inputs (`mutate.mutated_calls`), each candidate in one
sandboxed subprocess, and what it returns on each input becomes its output vector: a
canonical text of the value, or the name of the exception it raised. The chosen candidate is
the first of the largest group with identical vectors, where a candidate sampled k times
counts k times (the model's own preference is evidence too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from marshalike.sandbox import channel, values
from marshalike.sandbox.isolation import Limits

# An extra input runs code that no example exercised, where loops that never end are
# common (`while n != 0` with n = -1). A timeout is an output like any other, so a short
# bound per input costs the vote little and keeps a probe from taking minutes.
PROBE_TIMEOUT_S = 2.0
NO_OUTPUT = "no output"  # the process died or ran out of time before this input


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
    foreign: str | None = None  # why the value is not one the spec allows (its own class)


def rank(
    sources: Sequence[str],
    weights: Sequence[int],
    calls: Sequence[str],
    *,
    module_name: str,
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    records: Sequence[str] = (),
    jobs: int = 4,
) -> Ranking:
    """Probe every candidate module in `sources` on `calls` and pick by consensus."""

    def run(source: str) -> tuple[str, ...]:
        return probe(
            source,
            module_name=module_name,
            calls=calls,
            limits=limits,
            extra_files=extra_files,
            records=records,
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
    records: Sequence[str] = (),
) -> tuple[str, ...]:
    """What the module's calls return (canonical text) or raise, one sandboxed run."""
    outcomes = probe_outcomes(
        module_source,
        module_name=module_name,
        calls=calls,
        limits=limits,
        extra_files=extra_files,
        records=records,
    )
    return tuple(outcome.output for outcome in outcomes)


def probe_outcomes(
    module_source: str,
    *,
    module_name: str,
    calls: Sequence[str],
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    records: Sequence[str] = (),
) -> tuple[ProbeOutcome, ...]:
    """As `probe`, with the message of each exception raised (the probe gate shows it to
    the model; the vote compares outputs alone, since messages vary with the data)."""
    answers = probe_answers(
        module_source,
        module_name=module_name,
        calls=calls,
        limits=limits,
        extra_files=extra_files,
        records=records,
    )
    return tuple(_outcome(answer) for answer in answers)


def probe_answers(
    module_source: str,
    *,
    module_name: str,
    calls: Sequence[str],
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    records: Sequence[str] = (),
    keep_docstrings: bool = False,
) -> tuple[channel.Answer, ...]:
    """What the module's calls did, each bounded by the probe's shorter limit, through the
    same channel as the examples (`channel.run_calls`)."""
    answers, _ = channel.run_calls(
        module_source,
        calls,
        module_name=module_name,
        limits=limits,
        per_call_s=min(limits.timeout_s, PROBE_TIMEOUT_S),
        records=records,
        extra_files=extra_files,
        keep_docstrings=keep_docstrings,
        # a user's own module, run as it is, reads all its names
        names=None if keep_docstrings else channel.called_names(calls, module_name, records),
    )
    return answers


def _outcome(answer: channel.Answer) -> ProbeOutcome:
    if answer.kind == "timeout":
        return ProbeOutcome("timeout")
    if answer.raised is not None:
        return ProbeOutcome("raises " + answer.raised.type, answer.raised.message[:200])
    if answer.value is None:
        return ProbeOutcome(NO_OUTPUT)
    foreign = values.foreign(answer.value) if answer.value[0] == "object" else None
    return ProbeOutcome(values.canonical(answer.value)[:2000], foreign=foreign)
