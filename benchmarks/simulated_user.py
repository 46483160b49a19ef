"""The quality benchmark's simulated user: it answers the questions the compiler asks, from
each task's reference solution, and the benchmark measures what the answers are worth.

After a function is verified the compiler asks questions (`SpecReport.units[i].questions`):
inputs no example covers, on which the code that passes the examples disagrees. A person
answers them with `marshalike clarify`, which writes each answer into the spec as an
example bullet and compiles again. The simulated user plays that person, within an answer
budget (`--answers 0,1,3,5`): it takes the first open question of the last compile (units
in spec order, each unit's questions in their ranked order), runs its call against the
task's reference solution in the sandbox, as the compiler runs a candidate on a question
(`consensus.probe_answers`, under the probe's limit), and writes the reply as the compiler
writes one (`* CALL = EXPECTED`, `= raises ValueError`, or `= throws an error` where the
reference crashes with a programming error) into the task's copy of the spec
(`edit.add_example`). The copy is compiled again into the same output folder, so the lock
reuses every unit the answer did not change, and judged again. Where the reference's reply
cannot be written as an example (an object, a value too long, no answer in time) the
question counts as unanswerable and the next one is tried. The state after k answers is
recorded for each budget k; where the questions run out first it stays as it is.

The answers never come from the hidden tests: HumanEval's reference is its canonical
solution, the team corpus's are the hand-written modules in benchmarks/references/TIER/,
which tests/test_simulated_user.py holds to the hidden tests.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from benchmarks import humaneval
from marshalike.backends.base import each_completion
from marshalike.build.results import SpecReport
from marshalike.gate.consensus import probe_answers
from marshalike.gate.overfit import PROGRAMMING_ERRORS
from marshalike.gate.questions import Question, reply_of
from marshalike.language.edit import add_example
from marshalike.language.parse import parse
from marshalike.sandbox.isolation import Limits

REFERENCES = Path(__file__).parent / "references"


class TaskLike(Protocol):
    """What the simulated user reads of a benchmark task (`quality.Task`)."""

    @property
    def name(self) -> str: ...  # the module name, the spec's stem
    @property
    def corpus(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def spec(self) -> Path: ...


T = TypeVar("T", bound=TaskLike)


class Judged(Protocol):
    """What the benchmark makes of one compile (`quality.TaskResult`)."""

    @property
    def compiled(self) -> bool: ...
    @property
    def solved(self) -> bool: ...
    @property
    def unchecked(self) -> bool: ...
    @property
    def note(self) -> str: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def seconds(self) -> float: ...


R = TypeVar("R", bound=Judged)


# --- references ----------------------------------------------------------------------------


def reference_source(task: TaskLike) -> str:
    """The module the simulated user answers from: HumanEval's canonical solution (its
    prompt, helpers included, then the entry point's body), or the team task's reference."""
    if task.corpus == "humaneval":
        return _canonical(int(task.name[2:5]))
    return (REFERENCES / task.tier / f"{task.name}.py").read_text(encoding="utf-8")


@functools.cache
def _canonical(number: int) -> str:
    (task,) = humaneval.load_tasks([number])
    return str(task["prompt"]) + str(task["canonical_solution"])


def user_reply(
    reference: str, call: str, *, module_name: str, records: Sequence[str], limits: Limits
) -> str | None:
    """What an example bullet writes after `=` for `call`, by the reference: the value it
    returns, `raises NameOfError` for an error it raises on purpose, `throws an error`
    where it crashes (an IndexError on `[]`: the reference was never meant for that input,
    and its author would say so, not name the accident); None where that cannot be
    written. The call runs as the compiler runs a candidate on a question's input."""
    (answer,) = probe_answers(
        reference, module_name=module_name, calls=(call,), limits=limits, records=records
    )
    raised = answer.raised
    if raised is not None and raised.module == "builtins" and raised.type in PROGRAMMING_ERRORS:
        return "throws an error"
    _, reply = reply_of(answer, 1)
    return reply.expected


# --- counting model calls ------------------------------------------------------------------


class CallCounter:
    """Counts the `generate` calls of the backends it wraps (a call asks for n samples)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def wrap(self, factory: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: CountedBackend(factory(), self)

    def add(self) -> None:
        with self._lock:
            self.calls += 1


class CountedBackend:
    """A backend whose `generate` calls are counted; everything else is the backend's."""

    def __init__(self, backend: Any, counter: CallCounter) -> None:
        self._backend = backend
        self._counter = counter

    def generate(self, prompt: Any, sampling: Any) -> Any:
        self._counter.add()
        return self._backend.generate(prompt, sampling)

    def generate_each(self, prompt: Any, sampling: Any) -> Any:
        self._counter.add()
        return each_completion(self._backend, prompt, sampling)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


# --- the answer loop -----------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One question put to the simulated user."""

    func: str
    call: str
    expected: str | None  # what was written after `=`; None: unanswerable


@dataclass(frozen=True)
class AfterAnswers:
    """A task's state once the simulated user has given up to `budget` answers; counts from
    the task's first compile on."""

    task: str
    corpus: str
    seed: int
    budget: int
    answers: int  # answers written into the spec: fewer than `budget` where none was left
    compiled: bool
    solved: bool
    unchecked: bool
    note: str
    questions: int  # questions put to the user, answered or not
    unanswerable: int
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    exchanges: tuple[Exchange, ...]


def budgets_of(text: str) -> tuple[int, ...]:
    """`0,1,3,5` as sorted distinct budgets; 0 (the first compile) is always one. An
    argparse type."""
    found = set(_numbers(text))
    if any(n < 0 for n in found):
        raise argparse.ArgumentTypeError(f"an answer budget is never negative: {text!r}")
    return tuple(sorted(found | {0}))


def seeds_of(text: str) -> tuple[int, ...]:
    """`0,1,2,3` as distinct seeds, in the order given. An argparse type."""
    return tuple(dict.fromkeys(_numbers(text)))


def _numbers(text: str) -> list[int]:
    try:
        found = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        found = []
    if not found:
        raise argparse.ArgumentTypeError(f"not a comma list of whole numbers: {text!r}")
    return found


def next_question(
    report: SpecReport, order: Sequence[str], tried: set[tuple[str, str]]
) -> tuple[str, Question] | None:
    """The first question of `report` not yet put to the user: units in `order` (the spec's
    functions), then each unit's questions as ranked."""
    rank = {name: i for i, name in enumerate(order)}
    for unit in sorted(report.units, key=lambda u: rank.get(u.name, len(rank))):
        for question in unit.questions:
            if (unit.name, question.call) not in tried:
                return unit.name, question
    return None


class SimulatedUser:
    """Answers each task's questions from its reference, up to the largest budget, and
    keeps the state after each budget's answers (`states`). `counter` must wrap the
    backend the compiles use."""

    def __init__(
        self,
        budgets: Sequence[int],
        *,
        limits: Limits,
        seed: int = 0,
        reference: Callable[[TaskLike], str] = reference_source,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.budgets = tuple(sorted(set(budgets) | {0}))
        self.limits = limits
        self.seed = seed
        self.reference = reference
        self.progress = progress
        self.counter = CallCounter()
        self.states: list[AfterAnswers] = []

    def converse(
        self,
        task: T,
        compile_task: Callable[[T], tuple[R, SpecReport]],
        workdir: Path,
        shown: Callable[[R], None] = lambda result: None,
    ) -> R:
        """Compile a copy of the task's spec (in `workdir`), answer its questions one at a
        time, compiling again after each answer; the result of the first compile, which
        `shown` is given as soon as it is known."""
        spec = self._copy(task, workdir)
        copy = replace(task, spec=spec)
        start = self.counter.calls
        first, report = compile_task(copy)
        shown(first)
        totals = _Totals(first)
        exchanges: list[Exchange] = []
        now = first
        answered = 0
        self._record(task, 0, 0, now, totals, exchanges, start)
        while answered < self.budgets[-1]:
            text = spec.read_text(encoding="utf-8")
            module = parse(text).module
            order = [f.name for f in module.funcs] if module is not None else []
            tried = {(e.func, e.call) for e in exchanges}
            found = next_question(report, order, tried)
            if found is None:
                break
            func, question = found
            expected = self._answer(task, question.call, module.types if module else ())
            exchanges.append(Exchange(func, question.call, expected))
            if expected is None:
                self.progress(f"{_where(task)} [full]: `{question.call}`: unanswerable")
                continue
            spec.write_text(add_example(text, func, question.call, expected), encoding="utf-8")
            now, report = compile_task(copy)
            totals.add(now)
            answered += 1
            said = f"`{question.call}` = {expected}: {_verdict(now)} ({now.seconds:.1f} s)"
            self.progress(f"{_where(task)} [full, {_answers(answered)}]: {said}")
            if answered in self.budgets:
                self._record(task, answered, answered, now, totals, exchanges, start)
        for budget in self.budgets:
            if budget > answered:  # no question left: the state stays as it is
                self._record(task, budget, answered, now, totals, exchanges, start)
        return first

    def _copy(self, task: TaskLike, workdir: Path) -> Path:
        """The spec the answers are written into: never the corpus's own."""
        folder = workdir / "answered" / task.corpus / task.tier
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(task.spec, folder / task.spec.name))

    def _answer(self, task: TaskLike, call: str, types: Sequence[Any]) -> str | None:
        records = [f"{task.name}.{t.name}" for t in types]
        reference = self.reference(task)
        return user_reply(
            reference, call, module_name=task.name, records=records, limits=self.limits
        )

    def _record(
        self,
        task: TaskLike,
        budget: int,
        answers: int,
        now: Judged,
        totals: _Totals,
        exchanges: list[Exchange],
        start: int,
    ) -> None:
        unanswerable = sum(e.expected is None for e in exchanges)
        self.states.append(
            AfterAnswers(
                task=task.name,
                corpus=task.corpus,
                seed=self.seed,
                budget=budget,
                answers=answers,
                compiled=now.compiled,
                solved=now.solved,
                unchecked=now.unchecked,
                note=now.note,
                questions=len(exchanges),
                unanswerable=unanswerable,
                model_calls=self.counter.calls - start,
                prompt_tokens=totals.prompt_tokens,
                completion_tokens=totals.completion_tokens,
                seconds=round(totals.seconds, 3),
                exchanges=tuple(exchanges),
            )
        )


class _Totals:
    def __init__(self, first: Judged) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.seconds = 0.0
        self.add(first)

    def add(self, result: Judged) -> None:
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.seconds += result.seconds


def _where(task: TaskLike) -> str:
    return f"{task.corpus}/{task.tier}/{task.name}"


def _answers(n: int) -> str:
    return f"{n} answer{'s' * (n != 1)}"


def _verdict(result: Judged) -> str:
    if result.unchecked:
        return f"unchecked, {'solved' if result.solved else 'wrong'}"
    return "solved" if result.solved else ("FALSE SUCCESS" if result.compiled else "not compiled")


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetSummary:
    """One corpus after up to `budget` answers per task, every seed pooled."""

    corpus: str
    budget: int
    tasks: int
    compiled: int
    unchecked: int
    solved: int
    false_success: int
    answers: int
    questions: int
    unanswerable: int
    model_calls: int
    seconds: float

    @property
    def calls_per_solved(self) -> float | None:
        return self.model_calls / self.solved if self.solved else None


def summarize(states: Sequence[AfterAnswers]) -> list[BudgetSummary]:
    """One summary per corpus and budget, corpora in the order first seen."""
    corpora = list(dict.fromkeys(s.corpus for s in states))
    budgets = sorted({s.budget for s in states})
    out = []
    for corpus in corpora:
        for budget in budgets:
            mine = [s for s in states if s.corpus == corpus and s.budget == budget]
            out.append(
                BudgetSummary(
                    corpus=corpus,
                    budget=budget,
                    tasks=len(mine),
                    compiled=sum(s.compiled for s in mine),
                    unchecked=sum(s.unchecked for s in mine),
                    solved=sum(s.solved for s in mine),
                    false_success=sum(s.compiled and not s.solved for s in mine),
                    answers=sum(s.answers for s in mine),
                    questions=sum(s.questions for s in mine),
                    unanswerable=sum(s.unanswerable for s in mine),
                    model_calls=sum(s.model_calls for s in mine),
                    seconds=round(sum(s.seconds for s in mine), 3),
                )
            )
    return out


def tables(summaries: Sequence[BudgetSummary]) -> str:
    """One table per corpus, a column per answer budget."""
    blocks = []
    for corpus in dict.fromkeys(s.corpus for s in summaries):
        mine = [s for s in summaries if s.corpus == corpus]
        rows: list[tuple[str, list[str]]] = [
            ("tasks", [str(s.tasks) for s in mine]),
            ("compiled (examples pass)", [str(s.compiled) for s in mine]),
            ("unchecked (no checkable example)", [str(s.unchecked) for s in mine]),
            ("solved (hidden tests pass)", [str(s.solved) for s in mine]),
            ("false success (of compiled)", [_share(s.false_success, s.compiled) for s in mine]),
            ("answers given", [str(s.answers) for s in mine]),
            ("questions asked", [str(s.questions) for s in mine]),
            ("unanswerable questions", [str(s.unanswerable) for s in mine]),
            ("model calls / solved", [_ratio(s.calls_per_solved, 1) for s in mine]),
        ]
        head = f"{corpus}: full loop, after up to N answers"
        width = max(len(head), *(len(label) for label, _ in rows))
        lines = [f"{head:<{width}}  " + "  ".join(f"{f'N={s.budget}':>10}" for s in mine)]
        lines += [
            f"{label:<{width}}  " + "  ".join(f"{v:>10}" for v in values) for label, values in rows
        ]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _share(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else str(part)


def _ratio(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def as_json(states: Sequence[AfterAnswers], budgets: Sequence[int]) -> dict[str, Any]:
    """The figures for `--json`'s `answers` key: the budgets, each corpus's summary by
    budget, and every task's state after each budget."""
    summary: dict[str, dict[str, Any]] = {}
    for s in summarize(states):
        figures = asdict(s) | {"calls_per_solved": s.calls_per_solved}
        summary.setdefault(s.corpus, {})[str(s.budget)] = figures
    return {"budgets": list(budgets), "summary": summary, "tasks": [asdict(s) for s in states]}
