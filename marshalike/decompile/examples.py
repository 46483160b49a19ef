"""Examples measured, not invented: what the existing function answers, and which of those
answers pin its code down.

Every candidate call (`inputs`) runs against the user's module, as it is, in the sandbox
and through the verdict channel (`consensus.probe_answers`), twice: a call answered
differently the second time means the function depends on something besides its
arguments, and it is refused. An answer becomes an example where an example can write it
(`questions.reply_of`): a value as a Python literal, or `raises` a built-in exception.
Then small variants of the function's code (`strength.mutants`) run, each inside the
user's module in place of the function, on the same calls; a variant is told apart by a
call where its answer differs. Examples are chosen greedily, the call that tells the most
variants not yet told apart first, three to six of them; the score is the share of
variants the chosen examples tell apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from marshalike.decompile.reading import Function
from marshalike.gate.consensus import probe_answers
from marshalike.gate.questions import Reply, reply_of
from marshalike.gate.strength import Strength, mutants
from marshalike.sandbox.isolation import Limits

MIN_EXAMPLES = 3
MAX_EXAMPLES = 6
MUTANTS = 16  # variants run per function
_FRAGILE = ("raises RecursionError", "raises MemoryError", "raises SystemExit")


@dataclass(frozen=True)
class Sandbox:
    """Where a module's calls run: its name and files, the records to bring back, limits."""

    module_name: str
    source: str
    limits: Limits
    records: tuple[str, ...] = ()
    extra_files: Mapping[str, str] = field(default_factory=dict)
    jobs: int = 2

    def answers(self, source: str, calls: Sequence[str]) -> list[tuple[str, Reply]]:
        found = probe_answers(
            source,
            module_name=self.module_name,
            calls=calls,
            limits=self.limits,
            extra_files=dict(self.extra_files),
            records=self.records,
            keep_docstrings=True,  # the user's own module, run as it is
        )
        return [reply_of(answer, 1) for answer in found]


@dataclass(frozen=True)
class Example:
    call: str
    expected: str  # a Python expression, or `raises NAME`

    def bullet(self) -> str:
        if self.expected.startswith("raises "):
            return f"* {self.call} {self.expected}"
        return f"* {self.call} = {self.expected}"


@dataclass(frozen=True)
class Measured:
    examples: tuple[Example, ...]
    strength: Strength
    refused: str = ""  # why no example can be written
    tried: int = 0  # candidate calls run
    # Every candidate call whose answer an example could write, the chosen ones among them:
    # what a round trip compares compiled code with (`roundtrip`).
    answers: tuple[Example, ...] = ()

    def others(self) -> tuple[Example, ...]:
        """The answers not kept as examples."""
        kept = {e.call for e in self.examples}
        return tuple(a for a in self.answers if a.call not in kept)


def measure(func: Function, calls: Sequence[str], sandbox: Sandbox) -> Measured:
    """Examples for `func` from `calls`, chosen by the variants of its code they tell apart."""
    if not calls:
        return Measured((), Strength(0, 0), tried=0)
    first = sandbox.answers(sandbox.source, calls)
    second = sandbox.answers(sandbox.source, calls)
    for call, (key, _), (again, _) in zip(calls, first, second, strict=True):
        if key != again and "timeout" not in (key, again):
            return Measured(
                (),
                Strength(0, 0),
                f"answered `{call}` differently on two runs: its examples would not be facts",
                len(calls),
            )
    writable = [
        (call, key, reply.expected)
        for call, (key, reply) in zip(calls, first, strict=True)
        if reply.expected is not None and reply.expected not in _FRAGILE
    ]
    if not writable:
        shown = first[0][1].shown
        return Measured(
            (), Strength(0, 0), f"no answer is a value an example can write (`{shown}`)", len(calls)
        )
    kills = _kills(func, [c for c, _, _ in writable], [k for _, k, _ in writable], sandbox)
    total = len(kills[0]) if kills else 0
    chosen = _choose(writable, kills)
    killed = set().union(*(_told(kills, i) for i in chosen)) if chosen else set()
    examples = tuple(Example(writable[i][0], writable[i][2] or "") for i in sorted(chosen))
    answers = tuple(Example(call, expected or "") for call, _, expected in writable)
    return Measured(examples, Strength(len(killed), total), tried=len(calls), answers=answers)


def module_with(source: str, func: Function, replacement: str) -> str:
    """The module `source` with `func`'s definition replaced by `replacement`."""
    lines = source.splitlines(keepends=True)
    body = replacement if replacement.endswith("\n") else replacement + "\n"
    return "".join(lines[: func.first_line - 1]) + body + "".join(lines[func.last_line :])


def _kills(
    func: Function, calls: Sequence[str], keys: Sequence[str], sandbox: Sandbox
) -> list[list[bool]]:
    """Per call, per variant: whether the variant answers the call otherwise."""
    variants = mutants(func.source, seed=0, limit=MUTANTS)
    if not variants:
        return [[] for _ in calls]
    quick = Sandbox(
        sandbox.module_name,
        sandbox.source,
        Limits(timeout_s=min(1.0, sandbox.limits.timeout_s), startup_s=sandbox.limits.startup_s),
        sandbox.records,
        sandbox.extra_files,
    )

    def run(code: str) -> list[str]:
        return [key for key, _ in quick.answers(module_with(sandbox.source, func, code), calls)]

    with ThreadPoolExecutor(max_workers=max(1, sandbox.jobs)) as pool:
        runs = list(pool.map(run, [v.source for v in variants]))
    return [[run[i] != keys[i] for run in runs] for i in range(len(calls))]


def _told(kills: Sequence[Sequence[bool]], call: int) -> set[int]:
    return {v for v, killed in enumerate(kills[call]) if killed}


def _choose(writable: Sequence[tuple[str, str, str | None]], kills: list[list[bool]]) -> list[int]:
    """Greedy: the call telling the most variants apart that no chosen call tells apart, a
    returned value before a raise, a shorter call first; until none tells any more apart and
    at least three are chosen, at most six. The three are filled with calls of distinct
    answers where the variants say nothing."""
    chosen: list[int] = []
    covered: set[int] = set()

    def rank(i: int) -> tuple[int, bool, int, int]:
        raises = (writable[i][2] or "").startswith("raises ")
        return (-len(_told(kills, i) - covered), raises, len(writable[i][0]), i)

    while len(chosen) < MAX_EXAMPLES:
        left = [i for i in range(len(writable)) if i not in chosen]
        if not left:
            break
        best = min(left, key=rank)
        if not _told(kills, best) - covered:
            break
        chosen.append(best)
        covered |= _told(kills, best)
    answers = {writable[i][1] for i in chosen}
    for distinct in (True, False):
        for i in sorted(range(len(writable)), key=rank):
            if len(chosen) >= MIN_EXAMPLES:
                return chosen
            if i not in chosen and (not distinct or writable[i][1] not in answers):
                chosen.append(i)
                answers.add(writable[i][1])
    return chosen
