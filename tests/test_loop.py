"""The loop with a scripted backend (no HTTP): early stop, dedup, quick mode, repair."""

from __future__ import annotations

from collections.abc import Callable

from marshalike import emit
from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.loop import LoopSettings, compile_unit
from marshalike.parse import parse
from marshalike.prompts import UnitContext
from marshalike.sandbox import Limits

SPEC = """\
# func inc(an integer): the next integer

Add one.

* inc(1) = 2
* inc(-1) = 0
"""
GOOD = "```python\ndef inc(x):\n    return x + 1\n```"
BAD = "```python\ndef inc(x):\n    return x - 1\n```"


class Scripted:
    """A test double for a backend: answers come from a function of the prompt."""

    name = "scripted"
    model = "scripted-model"

    def __init__(self, answer: Callable[[Prompt, int], list[str]]) -> None:
        self.answer = answer
        self.prompts: list[Prompt] = []
        self.samplings: list[Sampling] = []

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        self.prompts.append(prompt)
        self.samplings.append(sampling)
        texts = self.answer(prompt, len(self.prompts))
        return [Completion(text, 10, 5, "stop") for text in texts]


def run(backend: Scripted, **overrides: object):
    module = parse(SPEC, "inc.mrsh").module
    assert module is not None
    func = module.funcs[0]
    settings = LoopSettings(kind="chat", candidates=3, attempts=3, limits=Limits(timeout_s=5),
                            **overrides)  # type: ignore[arg-type]  # fmt: skip
    tests = emit.test_source(module, module_name="inc", spec_name="inc.mrsh", spec_hash="h",
                             only="inc")  # fmt: skip

    def module_for(code: str) -> str:
        return emit.module_source(module, {"inc": code}, spec_name="inc.mrsh", spec_hash="h")

    ctx = UnitContext(module, func, {})
    return compile_unit(ctx, backend, settings, module_for=module_for, test_source=tests,
                        module_name="inc")  # fmt: skip


def test_stops_at_the_first_attempt_with_a_passing_candidate() -> None:
    backend = Scripted(lambda prompt, call: [BAD, GOOD, BAD])
    outcome = run(backend)
    assert (outcome.status, outcome.attempts, outcome.candidates) == ("verified", 1, 3)
    assert outcome.distinct == 2  # the two identical wrong candidates ran once
    assert "return x + 1" in outcome.code
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (30, 15)


def test_repairs_with_the_failures_of_the_best_candidate() -> None:
    backend = Scripted(lambda prompt, call: [GOOD] if call == 2 else [BAD])
    outcome = run(backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    repair = backend.prompts[1].messages[-1][1]
    assert "inc(1) should return 2, but it returned 0" in repair
    assert [s.seed for s in backend.samplings] == [0, 1]


def test_fails_after_the_budget_with_the_best_candidates_failures() -> None:
    backend = Scripted(lambda prompt, call: [BAD])
    outcome = run(backend)
    assert (outcome.status, outcome.attempts, outcome.candidates) == ("failed", 3, 3)
    assert outcome.failures == (
        "inc(1) should return 2, but it returned 0",
        "inc(-1) should return 0, but it returned -2",
    )


def test_invalid_answers_are_repaired_with_the_extraction_problems() -> None:
    backend = Scripted(lambda prompt, call: ["I cannot do that."] if call == 1 else [GOOD])
    outcome = run(backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert "rejected before it ran" in backend.prompts[1].messages[-1][1]


def test_quick_mode_takes_one_candidate_unverified() -> None:
    backend = Scripted(lambda prompt, call: [BAD])
    outcome = run(backend, quick=True)
    assert (outcome.status, outcome.attempts, outcome.candidates) == ("unverified", 1, 1)
    assert backend.samplings[0].n == 1
    assert outcome.note == "not verified (--quick)"


def test_a_failure_reports_the_best_candidate_of_all_attempts() -> None:
    half = "```python\ndef inc(x):\n    return 2 if x == 1 else 5\n```"
    backend = Scripted(lambda prompt, call: [half] if call == 1 else [BAD])
    outcome = run(backend)
    assert outcome.status == "failed"
    assert "return 2 if x == 1 else 5" in outcome.code
    assert outcome.failures == ("inc(-1) should return 0, but it returned 5",)
