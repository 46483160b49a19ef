"""Consensus ranking: canonical outputs in the sandbox, and the choice by agreement."""

from __future__ import annotations

from marshalike.gate.consensus import NO_OUTPUT, ProbeOutcome, choose, probe, probe_outcomes, rank
from marshalike.sandbox.isolation import Limits

LIMITS = Limits(timeout_s=1.0, startup_s=20.0)
MODULE = """\
from dataclasses import dataclass


@dataclass
class P:
    name: str
    age: float


class Opaque:
    pass


def f(x):
    if x == "loop":
        while True:
            pass
    if x == "raise":
        raise ValueError("no")
    if x == "exit":
        raise SystemExit(3)
    return x
"""


def test_choose_takes_the_heaviest_group_and_the_earlier_on_ties() -> None:
    a, b = ("1", "2"), ("1", "3")
    assert choose([a, b, b], [1, 1, 1]) == (1, 2)
    assert choose([a, b, b], [3, 1, 1]) == (0, 3)  # a sampled three times
    assert choose([a, b], [1, 1]) == (0, 1)


def test_probe_canonical_outputs() -> None:
    calls = [
        "f({'b', 'a', 'c'})",
        "f({'y': 1, 'x': 2.0})",
        "f([2.0, 0.1 + 0.2, -0.0])",
        "f(P('Joe', 20.0))",
        "f(Opaque())",
        "f((1, 'a'))",
        "f(math.floor(2.5))",
        "f('raise')",
        "f('exit')",
    ]
    assert probe(MODULE, module_name="m", calls=calls, limits=LIMITS, records=("m.P",)) == (
        "set{'a','b','c'}",
        "dict{'x':2,'y':1}",
        "list[2,0.3,0]",
        "P('Joe',20)",
        "object of class m.Opaque",
        "tuple[1,'a']",
        "2",
        "raises ValueError",
        "raises SystemExit",
    )


def test_probe_a_hanging_input_times_out_and_the_rest_still_runs() -> None:
    limits = Limits(timeout_s=0.5, startup_s=20.0)
    outputs = probe(MODULE, module_name="m", calls=["f('loop')", "f(1)"], limits=limits)
    assert outputs == ("timeout", "1")


def test_probe_a_module_that_does_not_import_has_no_outputs() -> None:
    outputs = probe("raise ImportError('x')\n", module_name="m", calls=["f(1)"], limits=LIMITS)
    assert outputs == (NO_OUTPUT,)


def test_rank_picks_the_candidate_most_others_agree_with() -> None:
    wrong = "def f(x):\n    return abs(x)\n"
    right = "def f(x):\n    return x\n"
    right_too = "def f(x):\n    return x + 0\n"
    ranking = rank(
        [wrong, right, right_too], [1, 1, 1], ["f(-1)", "f(2)"], module_name="m", limits=LIMITS
    )
    assert (ranking.chosen, ranking.support, ranking.total) == (1, 2, 3)
    assert ranking.outputs == (("1", "2"), ("-1", "2"), ("-1", "2"))


def test_probe_outcomes_carry_the_exception_messages() -> None:
    calls = ["f('raise')", "f(2)", "f(1 / 0)"]
    assert probe_outcomes(MODULE, module_name="m", calls=calls, limits=LIMITS) == (
        ProbeOutcome("raises ValueError", "no"),
        ProbeOutcome("2", ""),
        ProbeOutcome("raises ZeroDivisionError", "division by zero"),
    )


def test_probe_calls_read_builtins_and_standard_modules_not_the_module_s_own() -> None:
    """A probe input reads `datetime` and `list` as a user's call would, whatever the
    module defines under those names; the spec's own function named like a builtin is
    still called as itself."""
    from marshalike.gate.consensus import probe_answers
    from marshalike.sandbox.channel import called_names
    from marshalike.sandbox.isolation import Limits

    source = (
        "import datetime as _real\n\n\nclass datetime:\n    pass\n\n\n"
        "def list(items):\n    return 'own list'\n\n\n"
        "def sum(day):\n    return type(day).__module__\n"
    )
    calls = ["sum(datetime.date(2024, 1, 1))", "sum(list((1,)))"]
    assert called_names(calls, "m", ("m.Point", "other.Point")) == ["Point", "sum"]
    answers = probe_answers(source, module_name="m", calls=calls, limits=Limits())
    assert [a.value for a in answers] == [["str", "datetime"], ["str", "builtins"]]
