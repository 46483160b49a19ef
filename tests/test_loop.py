"""The loop with a scripted backend (no HTTP): early stop, dedup, quick mode, repair."""

from __future__ import annotations

import re
from collections.abc import Callable

from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.codegen import emit
from marshalike.language.parse import parse
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.verify import ExampleResult, Verdict
from marshalike.synth import judge, prompts
from marshalike.synth.judge import Candidate, Harness
from marshalike.synth.loop import compile_unit
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.prompts import UnitContext

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


# The plain loop, whatever the settings' defaults: each test turns on what it tests.
PLAIN = {"rank": "first", "probe": False, "repair": True, "questions": 0}


def run(backend: Scripted, **overrides: object):
    module = parse(SPEC, "inc.mrsh").module
    assert module is not None
    func = module.funcs[0]
    settings = LoopSettings(kind="chat", candidates=3, attempts=3, limits=Limits(timeout_s=5),
                            **{**PLAIN, **overrides})  # type: ignore[arg-type]  # fmt: skip

    def module_for(code: str) -> str:
        return emit.module_source(module, {"inc": code}, spec_name="inc.mrsh", spec_hash="h")

    ctx = UnitContext(module, func, {})
    return compile_unit(ctx, backend, settings, module_for=module_for,
                        module_name="inc")  # fmt: skip


def test_stops_at_the_first_attempt_with_a_passing_candidate() -> None:
    backend = Scripted(lambda prompt, call: [BAD, GOOD, BAD])
    outcome = run(backend)
    assert (outcome.status, outcome.attempts, outcome.candidates) == ("verified", 1, 3)
    assert outcome.distinct == 2  # the two identical wrong candidates ran once
    assert "return x + 1" in outcome.code
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (30, 15)


# Passes both examples, but reads inc(0) otherwise than GOOD does.
ODD_AT_ZERO = "```python\ndef inc(x):\n    return x + 1 if x != 0 else 7\n```"


def test_passing_candidates_that_disagree_become_questions() -> None:
    backend = Scripted(lambda prompt, call: [GOOD, GOOD, ODD_AT_ZERO])
    outcome = run(backend, questions=3)
    assert outcome.status == "verified" and len(backend.prompts) == 1
    (question,) = outcome.questions
    assert question.shown() == "`inc(0)`: `1` (2 candidates) or `7` (1 candidate)"
    assert [r.expected for r in question.replies] == ["1", "7"]


def test_a_lone_passing_code_draws_one_more_sample_before_it_is_called_unambiguous() -> None:
    lone = Scripted(lambda prompt, call: [GOOD, BAD, BAD] if call == 1 else [ODD_AT_ZERO])
    outcome = run(lone, questions=3)
    assert [s.seed for s in lone.samplings] == [0, 1]
    assert lone.prompts[1] == lone.prompts[0]  # the first prompt again
    assert [q.call for q in outcome.questions] == ["inc(0)"]
    assert "return x + 1\n" in (outcome.code or "")  # the choice was made before asking
    assert outcome.candidates == 4  # the extra sample is counted
    agreeing = Scripted(lambda prompt, call: [GOOD])
    assert run(agreeing, questions=3).questions == ()
    assert len(agreeing.prompts) == 2
    never = Scripted(lambda prompt, call: [GOOD])
    assert run(never, questions=0).questions == () and len(never.prompts) == 1


def test_repairs_with_the_failures_of_the_best_candidate() -> None:
    backend = Scripted(lambda prompt, call: [GOOD] if call == 2 else [BAD])
    outcome = run(backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    repair = backend.prompts[1].messages[-1][1]
    assert "inc(1) should return 2, but it returned 0" in repair
    assert [s.seed for s in backend.samplings] == [0, 1]
    # Every attempt, chat or completion, asks that a candidate in a loop be ended.
    assert {s.loops for s in backend.samplings} == {prompts.LOOPS} and prompts.LOOPS >= 2


def test_without_repair_later_attempts_sample_the_first_prompt_afresh() -> None:
    backend = Scripted(lambda prompt, call: [GOOD] if call == 3 else [BAD])
    outcome = run(backend, repair=False)
    assert (outcome.status, outcome.attempts) == ("verified", 3)
    assert backend.prompts[1] == backend.prompts[0] == backend.prompts[2]
    assert "return x - 1" not in str(backend.prompts)  # no failing code shown
    assert [s.seed for s in backend.samplings] == [0, 1, 2]  # new samples each attempt
    assert outcome.distinct == 2  # the wrong candidate of every attempt ran once
    repaired = Scripted(lambda prompt, call: [GOOD] if call == 3 else [BAD])
    run(repaired)
    assert repaired.prompts[1] != repaired.prompts[0]


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


def test_quick_mode_takes_one_candidate_and_still_runs_its_examples() -> None:
    backend = Scripted(lambda prompt, call: [BAD])
    outcome = run(backend, quick=True)
    assert (outcome.status, outcome.attempts, outcome.candidates) == ("failed", 1, 1)
    assert backend.samplings[0].n == 1
    assert any("inc(1)" in failure for failure in outcome.failures)
    passing = run(Scripted(lambda prompt, call: [GOOD]), quick=True)
    assert (passing.status, passing.attempts, passing.candidates) == ("verified", 1, 1)


def test_quick_mode_never_takes_a_stub() -> None:
    stub = "```python\ndef inc(x):\n    raise NotImplementedError\n```"
    outcome = run(Scripted(lambda prompt, call: [stub]), quick=True)
    assert outcome.status == "failed"
    assert outcome.failures == (
        "'inc' is a stub (its body does nothing); the spec wants a value back",
    )


def test_a_failure_reports_the_best_candidate_of_all_attempts() -> None:
    half = "```python\ndef inc(x):\n    return 2 if x == 1 else 5\n```"
    backend = Scripted(lambda prompt, call: [half] if call == 1 else [BAD])
    outcome = run(backend)
    assert outcome.status == "failed"
    assert "return 2 if x == 1 else 5" in outcome.code
    assert outcome.failures == ("inc(-1) should return 0, but it returned 5",)


# --- ranking by consensus ------------------------------------------------------------

# Three distinct candidates that pass both examples; the first is wrong at 0, which the
# examples never show. inc's mutated inputs are inc(2), inc(0) and inc(-2).
ODD = "```python\ndef inc(x):\n    return x + 1 if x != 0 else 5\n```"
GOOD_TOO = "```python\ndef inc(x):\n    return 1 + x\n```"


def test_consensus_picks_the_candidate_the_others_agree_with() -> None:
    backend = Scripted(lambda prompt, call: [ODD, GOOD, GOOD_TOO])
    first = run(backend)
    assert "x != 0" in first.code and first.note is None
    outcome = run(Scripted(lambda prompt, call: [ODD, GOOD, GOOD_TOO]), rank="consensus")
    assert (outcome.status, outcome.attempts) == ("verified", 1)
    assert "return x + 1\n" in outcome.code
    assert outcome.note == "chosen by agreement on 3 extra inputs: 2 of 3 passing candidates agree"


def test_shortest_takes_the_passing_candidate_with_the_least_code() -> None:
    outcome = run(Scripted(lambda prompt, call: [ODD, GOOD, BAD]), rank="shortest")
    assert (outcome.status, outcome.attempts) == ("verified", 1)
    assert "return x + 1\n" in outcome.code and "x != 0" not in outcome.code
    # Passing comes first: a shorter candidate that fails loses to a longer one that passes.
    outcome = run(Scripted(lambda prompt, call: [BAD, ODD]), rank="shortest")
    assert "x != 0" in outcome.code


def test_consensus_counts_repeated_samples() -> None:
    outcome = run(Scripted(lambda prompt, call: [ODD, ODD, GOOD]), rank="consensus")
    assert "x != 0" in outcome.code
    assert outcome.note == "chosen by agreement on 3 extra inputs: 2 of 3 passing candidates agree"


def test_consensus_with_one_distinct_passing_candidate_keeps_it() -> None:
    outcome = run(Scripted(lambda prompt, call: [BAD, GOOD, GOOD]), rank="consensus")
    assert "return x + 1" in outcome.code and outcome.note is None


def test_consensus_samples_again_for_a_lone_passing_candidate() -> None:
    # Attempt 1: only ODD passes. Attempt 2, the same prompt: two right ones outvote it.
    backend = Scripted(lambda prompt, call: [ODD, BAD, BAD] if call == 1 else [GOOD, GOOD_TOO])
    outcome = run(backend, rank="consensus")
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert "return x + 1\n" in outcome.code
    assert backend.prompts[1] == backend.prompts[0]  # not a repair: nothing failed
    assert outcome.note == "chosen by agreement on 3 extra inputs: 2 of 3 passing candidates agree"


def test_consensus_keeps_a_candidate_no_other_sample_confirms_at_the_end() -> None:
    backend = Scripted(lambda prompt, call: [ODD, BAD] if call == 1 else [BAD])
    outcome = run(backend, rank="consensus")
    assert (outcome.status, outcome.attempts, len(backend.prompts)) == ("verified", 3, 3)
    assert "x != 0" in outcome.code
    assert outcome.note == "no second candidate agreed with it on the extra inputs"
    first = run(Scripted(lambda prompt, call: [ODD, BAD] if call == 1 else [BAD]))
    assert (first.status, first.attempts) == ("verified", 1)  # ranked first: no second look


# --- holding an example back ---------------------------------------------------------

HELD_SPEC = SPEC + "* inc(10) = 11\n"
SMALL = "```python\ndef inc(x):\n    return x + 1 if x < 5 else 0\n```"


def run_spec(text: str, backend: Scripted, kind: str = "chat", **overrides: object):
    module = parse(text, "inc.mrsh").module
    assert module is not None
    settings = LoopSettings(kind=kind, candidates=1, attempts=2, limits=Limits(timeout_s=5),
                            **{**PLAIN, **overrides})  # type: ignore[arg-type]  # fmt: skip

    def module_for(code: str) -> str:
        return emit.module_source(module, {"inc": code}, spec_name="inc.mrsh", spec_hash="h")

    ctx = UnitContext(module, module.funcs[0], {})
    return compile_unit(ctx, backend, settings, module_for=module_for,
                        module_name="inc")  # fmt: skip


def prompt_text(prompt: Prompt) -> str:
    return prompt.text + "".join(content for _, content in prompt.messages)


def test_holdout_keeps_the_last_example_out_of_every_prompt() -> None:
    backend = Scripted(lambda prompt, call: [SMALL] if call == 1 else [GOOD])
    outcome = run_spec(HELD_SPEC, backend, holdout=True)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert all("inc(10)" not in prompt_text(p) and "11" not in prompt_text(p)
               for p in backend.prompts)  # fmt: skip
    assert "inc(-1) == 0" in prompt_text(backend.prompts[0])
    assert backend.prompts[1].messages[-1][1] == (
        "Your code passes the examples shown but fails a further example of the specification "
        "that is not shown here: follow the description in every case, not only in the "
        "examples shown.\n"
        "\n"
        "Fix the code so that every example holds. Answer with the complete corrected function "
        "in\n"
        "one ```python block.\n"
    )


def test_without_holdout_the_same_candidate_is_repaired_with_the_example() -> None:
    backend = Scripted(lambda prompt, call: [SMALL] if call == 1 else [GOOD])
    outcome = run_spec(HELD_SPEC, backend)
    assert outcome.attempts == 2
    assert "inc(10) should return 11, but it returned 0" in backend.prompts[1].messages[-1][1]


def test_a_failed_unit_still_reports_the_held_out_example_to_its_author() -> None:
    outcome = run_spec(HELD_SPEC, Scripted(lambda prompt, call: [SMALL]), holdout=True)
    assert outcome.status == "failed"
    assert outcome.failures == ("inc(10) should return 11, but it returned 0",)


def test_holdout_in_a_completion_prompt_and_the_docstring_of_the_code() -> None:
    # The stub names the parameter after its type: `def inc(integer: int) -> int:`.
    body = "    return integer + 1 if integer < 5 else 0\n"
    good = "    return integer + 1\n"
    backend = Scripted(lambda prompt, call: [body] if call == 1 else [good])
    outcome = run_spec(HELD_SPEC, backend, kind="completion", holdout=True)
    assert outcome.status == "verified"
    assert "inc(10)" not in backend.prompts[0].text
    assert "#   it fails a further example of the specification" in backend.prompts[1].text
    assert "inc(10)" not in backend.prompts[1].text
    assert ">>> inc(10)\n    11\n" in outcome.code  # the module's docstring is the spec's


def test_nothing_is_held_back_below_three_examples_or_in_quick_mode() -> None:
    backend = Scripted(lambda prompt, call: [GOOD])
    run_spec(SPEC, backend, holdout=True)
    assert "inc(-1) == 0" in prompt_text(backend.prompts[0])
    quick = Scripted(lambda prompt, call: [GOOD])
    run_spec(HELD_SPEC, quick, holdout=True, quick=True)
    assert "inc(10) == 11" in prompt_text(quick.prompts[0])
    assert LoopSettings(kind="chat", holdout=True).prompt_variant == ":holdout"
    assert LoopSettings(kind="chat", holdout=True, quick=True).prompt_variant == ""
    assert LoopSettings(kind="chat").prompt_variant == ""


# --- temperature schedule ------------------------------------------------------------


# An answer without code is rejected before the sandbox: these loops cost no test runs.
NO_CODE = "I cannot do that."


def test_the_temperature_rises_per_attempt_within_bounds() -> None:
    backend = Scripted(lambda prompt, call: [NO_CODE])
    run(backend, temperature_step=0.5)
    assert [s.temperature for s in backend.samplings] == [0.8, 1.3, 1.8]
    steep = Scripted(lambda prompt, call: [NO_CODE])
    run(steep, temperature_step=1.0)
    assert [s.temperature for s in steep.samplings] == [0.8, 1.8, 2.0]
    falling = Scripted(lambda prompt, call: [NO_CODE])
    run(falling, temperature_step=-0.5)
    assert [s.temperature for s in falling.samplings] == [0.8, 0.30000000000000004, 0.0]


# --- the probe gate ------------------------------------------------------------------

AVERAGE = """\
# func average(a list of numbers): a float

The mean of the numbers; 0.0 for an empty list.

* average([1, 2, 3]) = 2.0
* average([4]) = 4.0
"""
# Passes both examples, raises ZeroDivisionError on average([]), the first mutated input.
FRAGILE = "```python\ndef average(numbers):\n    return sum(numbers) / len(numbers)\n```"
STURDY = (
    "```python\ndef average(numbers):\n"
    "    return sum(numbers) / len(numbers) if numbers else 0.0\n```"
)
CRASH = "average([]) raised ZeroDivisionError: division by zero"


def run_func(text: str, backend: Scripted, candidates: int = 1, **overrides: object):
    """The loop on the spec's only function, two attempts, with the probe gate on."""
    module = parse(text, "unit.mrsh").module
    assert module is not None
    func = module.funcs[0]
    chosen: dict = {"probe": True, "questions": 0, **overrides}
    settings = LoopSettings(kind="chat", candidates=candidates, attempts=2,
                            limits=Limits(timeout_s=5), **chosen)  # fmt: skip

    def module_for(code: str) -> str:
        return emit.module_source(module, {func.name: code}, spec_name="unit.mrsh", spec_hash="h")

    ctx = UnitContext(module, func, {})
    return compile_unit(ctx, backend, settings, module_for=module_for,
                        module_name="unit")  # fmt: skip


def test_a_fragile_candidate_is_repaired_with_the_probe_that_broke_it() -> None:
    backend = Scripted(lambda prompt, call: [FRAGILE] if call == 1 else [STURDY])
    outcome = run_func(AVERAGE, backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert "if numbers else 0.0" in outcome.code
    assert backend.prompts[1].messages[-1][1] == (
        "Your code passes the examples but is wrong on another input that the description "
        "covers:\n"
        f"- {CRASH}\n"
        "\n"
        "Fix the code so that every example holds. Answer with the complete corrected function "
        "in\n"
        "one ```python block.\n"
    )


def test_a_sturdy_candidate_after_a_fragile_one_wins_the_attempt() -> None:
    outcome = run_func(AVERAGE, Scripted(lambda prompt, call: [FRAGILE, STURDY]), candidates=2)
    assert (outcome.status, outcome.attempts, outcome.distinct) == ("verified", 1, 2)
    assert "if numbers else 0.0" in outcome.code


def test_only_fragile_candidates_fail_the_unit_with_the_reason() -> None:
    outcome = run_func(AVERAGE, Scripted(lambda prompt, call: [FRAGILE]))
    assert (outcome.status, outcome.attempts) == ("failed", 2)
    assert outcome.failures == (CRASH,)
    assert "return sum(numbers) / len(numbers)\n" in outcome.code  # for NAME.failed.py


def test_without_the_probe_gate_a_fragile_candidate_is_accepted_as_before() -> None:
    backend = Scripted(lambda prompt, call: [FRAGILE])
    outcome = run_func(AVERAGE, backend, probe=False)
    assert (outcome.status, outcome.attempts, len(backend.prompts)) == ("verified", 1, 1)
    assert outcome.failures == () and outcome.note is None
    quick = run_func(AVERAGE, Scripted(lambda prompt, call: [FRAGILE]), quick=True)
    assert quick.status == "verified"  # --quick runs the examples, never the probe gate


def test_consensus_votes_among_the_sturdy_candidates_only() -> None:
    other = STURDY.replace("sum(numbers) / len(numbers)", "sum(numbers) / max(len(numbers), 1)")
    backend = Scripted(lambda prompt, call: [FRAGILE, FRAGILE, FRAGILE, STURDY, other])
    outcome = run_func(AVERAGE, backend, candidates=5, rank="consensus")
    assert outcome.status == "verified"
    assert "if numbers else 0.0" in outcome.code
    assert outcome.note == "chosen by agreement on 5 extra inputs: 2 of 2 passing candidates agree"


LARGEST = """\
# func largest(numbers: list of integer): integer

The largest number of {which} list.

* largest([1, 5, 3]) = 5
* largest([2, 9]) = 9
"""
INDEXES = (
    "```python\ndef largest(numbers):\n    best = numbers[0]\n    for n in numbers:\n"
    "        best = max(best, n)\n    return best\n```"
)


def test_an_input_the_description_rules_out_is_not_probed() -> None:
    """Indexing the first item is right for a non-empty list: `largest([])` is no probe."""
    promised = run_func(LARGEST.format(which="a non-empty"), Scripted(lambda p, c: [INDEXES]))
    assert (promised.status, promised.attempts) == ("verified", 1)


def test_a_crash_on_an_input_the_spec_is_silent_about_is_asked_not_refused() -> None:
    """Right code crashes on `largest([])` too where the spec never says whether `[]` is an
    input: the loop tries again, then accepts it with that input as an open question."""
    backend = Scripted(lambda p, c: [INDEXES])
    outcome = run_func(LARGEST.format(which="a"), backend)
    assert (outcome.status, outcome.attempts, len(backend.prompts)) == ("verified", 2, 2)
    assert outcome.failures == ()
    assert outcome.note is not None and "`largest([])`" in outcome.note
    (question,) = outcome.questions
    assert question.call == "largest([])"
    assert question.why == "raised IndexError: list index out of range"
    assert [(r.shown, r.support, r.expected) for r in question.replies] == [
        ("raises IndexError", 2, "raises IndexError")
    ]
    assert question.shown() == (
        "`largest([])` raised IndexError: list index out of range: is it a valid input, and "
        "if so, what should it return? The code that passes the examples: `raises "
        "IndexError` (2 candidates)"
    )


def test_each_input_the_spec_is_silent_about_where_the_code_crashes_is_asked() -> None:
    """Code fitted to one example (the last two items) crashes on `[]` and on `[1.0]`: both
    are questions, since an answer to either may tell it from right code."""
    spec = (
        "# func spread(numbers: list of float): float\n\nHow far the numbers spread.\n\n"
        "* spread([1.0, 2.0, 3.0, 4.0]) = 1.0\n* spread([5.0, 6.0]) = 1.0\n"
    )
    fitted = "```python\ndef spread(numbers):\n    return abs(numbers[-1] - numbers[-2])\n```"
    outcome = run_func(spec, Scripted(lambda p, c: [fitted]), questions=3)
    assert outcome.status == "verified"
    asked = [(q.call, q.why) for q in outcome.questions]
    assert asked[:2] == [
        ("spread([])", "raised IndexError: list index out of range"),
        ("spread([1.0])", "raised IndexError: list index out of range"),
    ]
    assert all(q.replies[0].shown == "raises IndexError" for q in outcome.questions[:2])
    # With questions turned off, the first is still asked: it is why the code was accepted.
    few = run_func(spec, Scripted(lambda p, c: [fitted]), questions=0)
    assert [q.call for q in few.questions] == ["spread([])"]


def test_a_crash_no_example_covers_is_asked_even_where_an_error_is_an_answer() -> None:
    """Once `spread([])` throws an error (an answer), crashes are no sign the gate refuses;
    the crash on `[1.0]`, which no example covers, is still a question."""
    spec = (
        "# func spread(numbers: list of float): float\n\nHow far the numbers spread.\n\n"
        "* spread([1.0, 2.0, 3.0, 4.0]) = 1.0\n* spread([5.0, 6.0]) = 1.0\n"
        "* spread([]) throws an error\n"
    )
    fitted = "```python\ndef spread(numbers):\n    return abs(numbers[-1] - numbers[-2])\n```"
    outcome = run_func(spec, Scripted(lambda p, c: [fitted]), questions=3)
    assert outcome.status == "verified"
    asked = {q.call: q for q in outcome.questions}
    assert "spread([])" not in asked
    question = asked["spread([1.0])"]
    assert question.why == "raised IndexError: list index out of range"
    assert [r.shown for r in question.replies] == ["raises IndexError"]


def test_a_crash_on_an_input_the_description_speaks_of_is_still_refused() -> None:
    outcome = run_func(AVERAGE, Scripted(lambda prompt, call: [FRAGILE]))  # "empty list"
    assert outcome.status == "failed" and outcome.questions == ()
    half = "# func half(n: integer): integer\n\nHalf of n, rounded down.\n\n* half(8) = 4\n"
    half += "* half(9) = 4\n"
    special = "```python\ndef half(n):\n    return 4 if 8 <= n <= 9 else n // 2\n```"
    cased = run_func(half, Scripted(lambda p, c: [special]))
    assert cased.status == "failed" and cased.questions == ()  # a hard sign is never asked


ROOT = """\
# func root(a number): the square root

{description}

* root(4) = 2.0
* root(9) = 3.0
"""
SQRT = "```python\ndef root(x):\n    import math\n\n    return math.sqrt(x)\n```"


def test_a_promised_exception_is_no_crash() -> None:
    promised = ROOT.format(description="Raises ValueError for a negative number.")
    assert run_func(promised, Scripted(lambda prompt, call: [SQRT])).status == "verified"
    silent = ROOT.format(description="The square root of a number.")
    outcome = run_func(silent, Scripted(lambda prompt, call: [SQRT]))
    assert outcome.status == "verified"  # with the question the spec leaves open
    assert [(q.call, q.why) for q in outcome.questions] == [
        ("root(-4)", "raised ValueError: math domain error")
    ]
    spoken = ROOT.format(description="The square root of a number, negative ones too.")
    refused = run_func(spoken, Scripted(lambda prompt, call: [SQRT]))
    assert refused.status == "failed"
    assert refused.failures == ("root(-4) raised ValueError: math domain error",)


ADD = (
    "# func add(a: integer, b: integer): integer\n\nThe sum.\n\n* add(1, 2) = 3\n* add(0, 0) = 0\n"
)
REFUSES = (
    "```python\ndef add(a, b):\n    if a < 0 or b < 0:\n"
    "        raise ValueError('no negatives')\n    return a + b\n```"
)


def test_a_refusal_the_description_does_not_promise_is_repaired() -> None:
    plain = "```python\ndef add(a, b):\n    return a + b\n```"
    backend = Scripted(lambda prompt, call: [REFUSES] if call == 1 else [plain])
    outcome = run_func(ADD, backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert "raise" not in outcome.code
    feedback = backend.prompts[1].messages[-1][1]
    assert re.search(r"- add\(.*\) raised ValueError: no negatives, though the description "
                     r"promises no error\n", feedback)  # fmt: skip
    promised = ADD.replace("The sum.", "The sum. Raises ValueError for a negative number.")
    assert run_func(promised, Scripted(lambda prompt, call: [REFUSES])).status == "verified"


def test_a_probe_that_times_out_does_not_reject_the_candidate() -> None:
    # inc(0) is one of inc's mutated inputs; this loops forever there.
    loops = "```python\ndef inc(x):\n    while x == 0:\n        pass\n    return x + 1\n```"
    outcome = run_func(SPEC, Scripted(lambda prompt, call: [loops]))
    assert (outcome.status, outcome.attempts) == ("verified", 1)


def test_a_special_cased_example_value_is_repaired() -> None:
    spec = (
        "# func is_even(an integer): whether it is even\n\n"
        "* is_even(4) = True\n* is_even(7) = False\n"
    )
    cased = "```python\ndef is_even(n):\n    return not 7 <= n\n```"
    right = "```python\ndef is_even(n):\n    return n % 2 == 0\n```"
    backend = Scripted(lambda prompt, call: [cased] if call == 1 else [right])
    outcome = run_func(spec, backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert (
        "- it special-cases 7, an argument of the examples: `7 <= n`\n"
        in (backend.prompts[1].messages[-1][1])
    )


def test_a_broken_promise_of_the_description_is_repaired() -> None:
    spec = (
        "# func same(a string): a boolean\n\nWhether the word is a palindrome, ignoring case.\n\n"
        "* same('level') = True\n* same('hello') = False\n"
    )
    verbatim = "```python\ndef same(w):\n    return w == w[::-1]\n```"
    folded = "```python\ndef same(w):\n    w = w.lower()\n    return w == w[::-1]\n```"
    backend = Scripted(lambda prompt, call: [verbatim] if call == 1 else [folded])
    outcome = run_func(spec, backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert "never changes case" in backend.prompts[1].messages[-1][1]


def test_a_value_of_another_type_than_the_declared_one_is_repaired() -> None:
    gives_up = (
        "```python\ndef add(a, b):\n    if a < 0 or b < 0:\n        return None\n"
        "    return a + b\n```"
    )
    plain = "```python\ndef add(a, b):\n    return a + b\n```"
    backend = Scripted(lambda prompt, call: [gives_up] if call == 1 else [plain])
    outcome = run_func(ADD, backend)
    assert (outcome.status, outcome.attempts) == ("verified", 2)
    assert re.search(r"- add\(-?\d+, -?\d+\) returned None, not an int as the spec declares\n",
                     backend.prompts[1].messages[-1][1])  # fmt: skip
    untyped = ADD.replace("): integer", ")")  # no declared type: nothing to hold it to
    assert run_func(untyped, Scripted(lambda prompt, call: [gives_up])).status == "verified"


VAGUE = """\
# func vague(an integer): something

Do something sensible.

* vague(3) is probably fine
"""


def test_a_function_with_no_checkable_example_is_refused_unless_allowed() -> None:
    backend = Scripted(lambda prompt, call: [GOOD.replace("inc", "vague")])
    outcome = run_func(VAGUE, backend)
    assert outcome.status == "failed" and backend.prompts == []  # no model call
    assert outcome.failures[0].startswith("unchecked: add examples — no example of vague")
    allowed = run_func(VAGUE, backend, allow_unchecked=True)
    assert allowed.status == "unchecked" and "return x + 1" in (allowed.code or "")
    assert allowed.note == "unchecked: none of its examples can be checked (--allow-unchecked)"


def test_an_unchecked_function_asks_what_its_candidates_answer_on_typed_inputs() -> None:
    twice = "```python\ndef vague(x):\n    return 2 * x\n```"
    backend = Scripted(lambda prompt, call: [GOOD.replace("inc", "vague"), twice, twice])
    outcome = run_func(VAGUE, backend, candidates=3, questions=3)
    assert outcome.status == "failed" and len(backend.prompts) == 1  # one attempt, to ask
    assert outcome.failures[0].startswith("unchecked: add examples")
    assert outcome.code is None  # nothing is compiled from it
    asked = [(q.call, [(r.shown, r.support) for r in q.replies]) for q in outcome.questions]
    assert asked == [
        ("vague(3)", [("6", 2), ("4", 1)]),
        ("vague(0)", [("0", 2), ("1", 1)]),
        ("vague(-2)", [("-4", 2), ("-1", 1)]),
    ]
    agreeing = run_func(VAGUE, Scripted(lambda p, c: [twice]), questions=2)
    assert [(q.call, [r.shown for r in q.replies]) for q in agreeing.questions] == [
        ("vague(3)", ["6"]),
        ("vague(0)", ["0"]),
    ]  # one answer is still a guess no example confirms


POSITIVE = """\
# func is_positive(n: integer): boolean

Whether n is above zero.

* is_positive(5) = True
* is_positive(-5) = False
"""
ABOVE = "```python\ndef is_positive(n):\n    return n > 0\n```"


def test_a_verified_unit_says_how_strong_its_examples_are_and_asks_what_they_miss() -> None:
    """`n > 0` and its variant `n >= 0` both pass the examples; they part at 0."""
    outcome = run_func(POSITIVE, Scripted(lambda p, c: [ABOVE]), questions=3)
    assert outcome.status == "verified"
    assert outcome.strength is not None
    assert 0 < outcome.strength.killed < outcome.strength.total  # `n >= 0` survives
    asked = {q.call: sorted(r.shown for r in q.replies) for q in outcome.questions}
    assert asked.get("is_positive(0)") == ["False", "True"]
    quiet = run_func(POSITIVE, Scripted(lambda p, c: [ABOVE]), questions=0)
    assert quiet.questions == () and quiet.strength == outcome.strength


class Streaming(Scripted):
    """A test double for a backend that gives each completion as it finishes: it records
    what was handed out, what the loop had verified by then, and whether the loop stopped
    the rest (closed the stream) before they were made."""

    def __init__(
        self, answer: Callable[[Prompt, int], list[str]], verified: list[int], reverse: bool
    ) -> None:
        super().__init__(answer)
        self.verified = verified  # appended to by the harness as each code is run
        self.log: list[str] = []
        self.reverse = reverse  # the last candidate of the request finishes first

    def generate_each(self, prompt: Prompt, sampling: Sampling):
        self.prompts.append(prompt)
        self.samplings.append(sampling)
        texts = list(enumerate(self.answer(prompt, len(self.prompts))))
        try:
            for index, text in texts[::-1] if self.reverse else texts:
                self.log.append(f"made {index} after {len(self.verified)} verified")
                yield index, Completion(text, 10 if index == 0 else 0, 5, "stop")
        finally:
            self.log.append(f"closed after {len(self.log)} made")


def run_streaming(texts: list[str], reverse: bool = False, **overrides: object):
    from marshalike.sandbox import verify as verify_module

    verified: list[int] = []
    real = verify_module.verify

    def counting(*args, **kwargs):
        verified.append(1)
        return real(*args, **kwargs)

    backend = Streaming(lambda prompt, call: texts, verified, reverse)
    import marshalike.synth.judge as judge_module

    judge_module.verify = counting  # type: ignore[assignment]
    try:
        return run(backend, **overrides), backend
    finally:
        judge_module.verify = real  # type: ignore[assignment]


def test_each_candidate_is_verified_as_it_finishes_and_the_rest_stop_once_settled() -> None:
    # ranked by consensus with questions: settled once one code passed twice and another
    # code passed too; the fourth and fifth candidates are never decoded
    texts = [GOOD, GOOD, BAD, ODD_AT_ZERO, GOOD, GOOD]
    outcome, backend = run_streaming(texts, rank="consensus", questions=3)
    assert backend.log[:4] == [
        "made 0 after 0 verified",
        "made 1 after 1 verified",  # the first was verified before the second was made
        "made 2 after 1 verified",  # the same code again: its verdict is reused
        "made 3 after 2 verified",
    ]
    assert backend.log[4:] == ["closed after 4 made"]
    assert outcome.status == "verified" and outcome.candidates == 4
    assert "return x + 1" in (outcome.code or "")
    assert [q.call for q in outcome.questions] == ["inc(0)"]  # GOOD and ODD_AT_ZERO disagree
    assert outcome.prompt_tokens == 10  # the prompt, counted once


def test_an_attempt_that_is_not_settled_waits_for_every_candidate() -> None:
    # one code only: the rest may disagree with it, so all are decoded and judged
    outcome, backend = run_streaming([GOOD, GOOD, GOOD], rank="consensus", questions=3)
    assert backend.log[-1] == "closed after 3 made" and outcome.candidates >= 3
    # nothing passes: the repair needs the best of all
    outcome, backend = run_streaming([BAD, BAD, BAD])
    made = ["made 0 after 0 verified", "made 1 after 1 verified", "made 2 after 1 verified"]
    assert backend.log[:4] == [*made, "closed after 3 made"]
    assert outcome.status == "failed" and outcome.candidates == 9  # three attempts
    # ranked first without questions: the first passing code settles it
    outcome, backend = run_streaming([BAD, GOOD, GOOD])
    assert backend.log[-1] == "closed after 2 made" and outcome.candidates == 2
    # ranked by the least code: a shorter code may come last
    outcome, backend = run_streaming([ODD_AT_ZERO, ODD_AT_ZERO, GOOD], rank="shortest")
    assert backend.log[-1] == "closed after 3 made"
    assert outcome.code is not None and "else 7" not in outcome.code


def test_candidates_finishing_out_of_order_are_ranked_in_the_requests_order() -> None:
    # two passing codes of the same size: the first of the request is chosen, as when
    # all come at once, though the last finished first
    same_size = "```python\ndef inc(x):\n    return 1 + x\n```"
    outcome, backend = run_streaming([GOOD, BAD, same_size], reverse=True, rank="shortest")
    assert backend.log[0] == "made 2 after 0 verified"
    assert "return x + 1" in (outcome.code or "")
    outcome, _ = run_streaming([same_size, BAD, GOOD], reverse=True, rank="shortest")
    assert "return 1 + x" in (outcome.code or "")


def test_a_verdict_stays_with_the_text_it_was_given(monkeypatch) -> None:
    """Two candidates of one batch whose code differs only where Python's syntax tree does
    not (a comment) are verified once: the one kept is the text that was verified."""
    verified: list[str] = []

    def verify(source: str, oracle: object) -> Verdict:
        verified.append(source)
        return Verdict((ExampleResult("test_f_1", "pass"),), None, 0.0)

    monkeypatch.setattr(judge, "verify", verify)
    first = Candidate("one", "def f():\n    return 1\n", (), None)
    second = Candidate("two", "def f():  # the same, said otherwise\n    return 1\n", (), None)
    harness = Harness(str, None, "m", (), None, None, None, ())  # type: ignore[arg-type]
    settings = LoopSettings(kind="chat")
    kept = judge._verify_all([first, second], settings, judge.Tally(), harness)
    assert verified == [first.code]
    assert [c.code for c in kept] == [first.code, first.code]
