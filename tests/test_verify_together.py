"""The run of every call in one process, as the generated test file makes them: the calls of
the examples and the calls of model code inside their expected values, in the test file's
order, each answer compared exactly with the one it gave alone (`verify._together`)."""

from __future__ import annotations

import pytest

from marshalike.sandbox.channel import Answer, Raised
from marshalike.sandbox.expected import Claim, resolve_calls
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.oracle import Case, Oracle
from marshalike.sandbox.verify import Verdict, verify

FAST = Limits(timeout_s=5.0, memory_mb=1024)


def stubs(*names: str) -> str:
    """A reference module of stubs: the functions the candidate writes."""
    return "\n\n".join(f"def {name}(n):\n    raise NotImplementedError\n" for name in names)


REFERENCE = stubs("double")
F_REFERENCE = stubs("f")
RIGHT_DOUBLE = "def double(x):\n    return 2 * x\n"


def run(body: str, cases: tuple[Case, ...], reference: str = REFERENCE) -> Verdict:
    oracle = Oracle(cases, reference, module_name="cand", limits=FAST)
    return verify(body, oracle)


def returns(call: str, expected: str, number: int, func: str = "double") -> Case:
    return Case(f"test_{func}_{number}", call, "returns", expected, None)


def statuses(verdict: Verdict) -> list[tuple[str, str | None]]:
    return [(r.status, r.error_type) for r in verdict.results]


# The int its first call of a process gives, a float (of the same value) after it: alone
# every call is a first call, while the test file's `double(5)` gets 10.0, not 10.
TYPE_CHANGING = (
    "_calls = []\n\n\ndef double(x):\n    _calls.append(x)\n"
    "    return 2 * x if len(_calls) == 1 else float(2 * x)\n"
)
TYPE_CASES = (
    returns("double(2)", "4", 1),
    returns("double(3)", "double(2) + 2", 2),
    returns("double(5)", "10", 3),
    returns("double(7)", "14", 4),
)


def test_an_answer_whose_type_changes_in_one_process_is_stateful() -> None:
    verdict = run(TYPE_CHANGING, TYPE_CASES)
    assert not verdict.ok
    assert statuses(verdict) == [("pass", None)] + [("error", "Stateful")] * 3


def test_right_code_passes_the_cases_a_changing_type_fails() -> None:
    assert run(RIGHT_DOUBLE, TYPE_CASES).ok


# Right for its first two calls of a process, one more after them: every example's call
# and the claim `double(1)` are right alone, and in the order the examples are alone; the
# test file calls `double(1)` third, inside the second test's expected value.
THIRD_CALL_WRONG = (
    "_calls = []\n\n\ndef double(x):\n    _calls.append(x)\n"
    "    return 2 * x if len(_calls) <= 2 else 2 * x + 1\n"
)
CLAIM_CASES = (returns("double(2)", "4", 1), returns("double(3)", "double(1) + 4", 2))


def test_a_claim_that_answers_otherwise_after_the_examples_calls_is_stateful() -> None:
    verdict = run(THIRD_CALL_WRONG, CLAIM_CASES)
    assert statuses(verdict) == [("pass", None), ("error", "Stateful")]
    assert "keeps state between calls" in (verdict.results[1].message or "")


def test_right_code_passes_expected_values_that_call_it() -> None:
    cases = (*CLAIM_CASES, returns("double(8)", "double(double(2)) * 2", 3))
    assert run(RIGHT_DOUBLE, cases).ok


# Wrong only where its calls so far end 3, 1, 2: the test file's order for the one test
# below (`f(3)`, then `f(1)`, `f(2)` for `f(f(1))`, then `f(2)`), which the innermost
# calls first (`f(2)` and `f(1)`, then `f(f(1))`) would never make.
ORDER_SENSITIVE = (
    "_seen = []\n\n\ndef f(x):\n    _seen.append(x)\n"
    "    return 0 if _seen[-3:] == [3, 1, 2] else x + 1\n"
)
ORDER_CASES = (returns("f(3)", "f(f(1)) + f(2) - 2", 1, "f"),)


def test_the_calls_of_an_expected_value_are_made_in_pythons_order() -> None:
    verdict = run(ORDER_SENSITIVE, ORDER_CASES, F_REFERENCE)
    assert statuses(verdict) == [("error", "Stateful")]
    assert run("def f(x):\n    return x + 1\n", ORDER_CASES, F_REFERENCE).ok


def test_a_dependencys_claim_is_made_in_the_test_files_order_too() -> None:
    """`shift(n)` is a dependency (the reference's code); the code under test moves the
    offset it reads, so the test file's `shift(1)`, made after `total(2)`, is 11, not 2."""
    dependency = "_offset = [1]\n\n\ndef shift(n):\n    return n + _offset[0]\n"
    reference = dependency + "\n\n" + stubs("total")
    cases = (returns("total(2)", "shift(1) + 2", 1, "total"),)
    cheat = dependency + "\n\ndef total(n):\n    _offset[0] = 10\n    return n + 2\n"
    right = dependency + "\n\ndef total(n):\n    return n + 2\n"
    assert statuses(run(cheat, cases, reference)) == [("error", "Stateful")]
    assert run(right, cases, reference).ok


def test_a_used_specs_function_is_read_from_its_module_as_the_test_file_imports_it() -> None:
    """The code binds another function to `shift` in its own module (one that answers
    `shift(0)` as the real one does alone), then moves the used module's offset: the test
    file, which imports `shift` from `dep`, gets 13 for `shift(0) + 3`, and so does the
    verifier's run of the test file's calls."""
    dep = "_offset = [1]\n\n\ndef shift(n):\n    return n + _offset[0]\n"
    reference = "from dep import shift\n\n\n" + stubs("total")
    cheat = (
        "from dep import shift\nfrom math import factorial as shift\n\n\n"
        "def total(n):\n    import dep\n    dep._offset[0] = 10\n    return n + 2\n"
    )
    cases = (returns("total(2)", "shift(0) + 3", 1, "total"),)
    oracle = Oracle(cases, reference, module_name="cand", limits=FAST, extra_files={"dep.py": dep})
    assert statuses(verify(cheat, oracle)) == [("error", "Stateful")]  # shift(0) is 10 there
    right = "from dep import shift\n\n\ndef total(n):\n    return shift(0) + 3\n"
    assert verify(right, oracle).ok


def test_right_code_passes_with_sets_dicts_and_nan_in_its_answers() -> None:
    """Sets and dicts of strings iterate in another order in each process (their hashes
    are seeded there), and a NaN is the NaN it was: none of these is an answer that
    changed."""
    body = (
        "def f(x):\n    if x == 0:\n        return float('nan')\n"
        "    words = {str(i) * 3 for i in range(x)}\n"
        "    return words if x % 2 else {w: len(w) for w in words}\n"
    )
    cases = (
        returns("f(3)", "{'000', '111', '222'}", 1, "f"),
        returns("f(5)", "f(3) | {'333', '444'}", 2, "f"),
        returns("f(4)", "dict.fromkeys(f(3), 3) | {'333': 3}", 3, "f"),
        returns("f(1)", "{'000'} if math.isnan(f(0)) else set()", 4, "f"),
    )
    for _ in range(3):  # the hash seeds are drawn anew each time
        assert run(body, cases, F_REFERENCE).ok


# A set whose table is larger than its members need (it held a hundred numbers) iterates
# 1, 8; written as the literal {1, 8} it iterates 8, 1. The oracle computes
# `list(spread(2))` from the written value, the test file from the object `spread` returns.
SPREAD_REFERENCE = stubs("spread", "listed")
SPREAD = (
    "def spread(n):\n    s = set(range(100))\n    s -= set(range(100)) - {1, 8}\n    return s\n"
)
SPREAD_CASES = (
    returns("spread(2)", "{1, 8}", 1, "spread"),
    returns("listed(2)", "list(spread(2))", 1, "listed"),
)


def test_an_expected_value_is_computed_as_the_test_file_computes_it() -> None:
    cheat = SPREAD + "\n\ndef listed(n):\n    return [8, 1]\n"
    scope: dict[str, object] = {}
    exec(cheat, scope)
    test_file_passes = scope["listed"](2) == list(scope["spread"](2))  # type: ignore[operator]
    assert not test_file_passes  # what `pytest` of the generated tests says
    verdict = run(cheat, SPREAD_CASES, SPREAD_REFERENCE)
    assert statuses(verdict) == [("pass", None), ("error", "AsTheTestFile")]
    assert "(expected [1, 8], actual [8, 1])" in (verdict.results[1].message or "")
    right = (
        "def spread(n):\n    return {n - 1, 8}\n\n\ndef listed(n):\n    return list(spread(n))\n"
    )
    assert run(right, SPREAD_CASES, SPREAD_REFERENCE).ok
    # Both computations must pass: the same right `listed` beside the roomy set fails
    # the oracle's (its written value iterates otherwise), as the docs say.
    roomy = SPREAD + "\n\ndef listed(n):\n    return list(spread(n))\n"
    assert statuses(run(roomy, SPREAD_CASES, SPREAD_REFERENCE))[1] == ("fail", None)


# Memoized, and hands out the cached list itself: the test file's `items(3).pop()` empties
# it for the calls after it, so its test of `last(3) = 3` gets 2.
ITEMS_REFERENCE = stubs("items", "last")
ALIASED = (
    "_memo = {}\n\n\ndef items(n):\n    if n not in _memo:\n"
    "        _memo[n] = list(range(1, n + 1))\n    return _memo[n]\n\n\n"
    "def last(n):\n    return items(n)[-1]\n"
)
ITEMS_CASES = (
    returns("last(3)", "items(3).pop()", 1, "last"),
    returns("last(3)", "3", 2, "last"),
)


def test_what_an_expected_value_does_to_the_codes_objects_the_later_tests_see() -> None:
    verdict = run(ALIASED, ITEMS_CASES, ITEMS_REFERENCE)
    assert statuses(verdict) == [("pass", None), ("error", "AsTheTestFile")]
    assert "(expected 3, actual 2)" in (verdict.results[1].message or "")
    fresh = ALIASED.replace("return _memo[n]", "return list(_memo[n])")
    assert run(fresh, ITEMS_CASES, ITEMS_REFERENCE).ok


def test_an_expected_value_that_calls_the_code_twice_has_the_time_of_both() -> None:
    """Each call takes most of a call's time: the whole value has the time of its two,
    so right code passes, and the set-order cheat is not hidden by a timeout there."""
    slow = "import time\n\n\ndef _work():\n    time.sleep(0.6)\n\n\n"
    roomy = SPREAD.replace("    return s\n", "    _work()\n    return s\n")
    cases = (
        returns("spread(2)", "{1, 8}", 1, "spread"),
        returns("listed(2)", "list(spread(2)) + list(spread(2))", 1, "listed"),
    )
    limits = Limits(timeout_s=1.0, memory_mb=1024)
    cheat = slow + roomy + "\n\ndef listed(n):\n    return [8, 1, 8, 1]\n"
    verdict = verify(cheat, Oracle(cases, SPREAD_REFERENCE, module_name="cand", limits=limits))
    assert statuses(verdict) == [("pass", None), ("error", "AsTheTestFile")]
    # The same `listed`, beside a set that iterates as its literal does: its tests pass.
    right = cheat.replace("s = set(range(100))\n    s -= set(range(100)) - {1, 8}", "s = {1, 8}")
    assert verify(right, Oracle(cases, SPREAD_REFERENCE, module_name="cand", limits=limits)).ok


def test_a_raised_exception_is_the_same_by_its_class_not_its_message() -> None:
    raised = Raised("ValueError", "builtins", ("builtins.ValueError",), "at 0x1", "")
    other = Raised("ValueError", "builtins", ("builtins.ValueError",), "at 0x2", "")
    borrowed = Raised("ValueError", "m", ("m.ValueError", "builtins.Exception"), "at 0x1", "")
    assert Answer("raised", raised=raised).same_as(Answer("raised", raised=other))
    assert not Answer("raised", raised=raised).same_as(Answer("raised", raised=borrowed))


AB = [[["str", "a"], ["int", "1"]], [["str", "b"], ["int", "2"]]]  # a dict's items
BA = AB[::-1]


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        (["int", "a"], ["float", (10.0).hex()], False),
        (["float", (0.1 + 0.2).hex()], ["float", (0.3).hex()], False),
        (["float", float("nan").hex()], ["float", float("nan").hex()], True),
        (["set", [["int", "1"]]], ["frozenset", [["int", "1"]]], False),
        (["set", [["str", "a"], ["str", "b"]]], ["set", [["str", "b"], ["str", "a"]]], True),
        (["list", [["str", "a"], ["str", "b"]]], ["list", [["str", "b"], ["str", "a"]]], False),
        (["dict", AB], ["dict", BA], True),
        (["dict", AB, "collections.OrderedDict"], ["dict", BA, "collections.OrderedDict"], False),
        (["dict", AB, "collections.Counter"], ["dict", BA], False),
        (["bool", True], ["int", "1"], False),
    ],
)
def test_answers_are_the_same_only_exactly(one: list, other: list, same: bool) -> None:
    assert Answer("returned", value=one).same_as(Answer("returned", value=other)) is same


def expression_calls(text: str) -> list[str]:
    """The calls `f(...)` makes where Python evaluates `text`, `f` adding 10."""
    made: list[str] = []

    def f(*args: object, **kwargs: object) -> int:
        shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        made.append(f"f({', '.join(shown)})")
        return sum(a for a in [*args, *kwargs.values()] if isinstance(a, int)) + 10

    eval(text, {"f": f, "g": lambda *a, **k: 0})
    return made


@pytest.mark.parametrize(
    "text",
    [
        "f(f(1)) + f(2)",
        "{f(1): f(2), **{f(3): 0}, f(4): f(5)}",
        "g(f(1), x=f(2), *[f(3)])",
        "[f(1), (f(2), f(f(3)))][f(0) - 10]",
        "f'{f(1)}{f(2):>{f(3)}}'",
        "f(f(1), f(2), k=f(f(3)))",
        "f(1) + f(1)",
    ],
)
def test_resolve_lists_the_calls_in_pythons_order(text: str) -> None:
    def claim(name: str, call: str) -> Claim:
        total = sum(int(n) for n in call[2:-1].replace("k=", "").split(", ") if n)
        return Claim(["int", format(total + 10, "x")])

    done = resolve_calls(text, {"f"}, claim)
    assert done.text is not None
    assert list(done.calls) == expression_calls(text)


def test_a_name_a_used_module_gains_is_a_change() -> None:
    """A global `sum` put into the used module shadows the builtin its `total` reads: the
    test file's later `total` tests get 42. The names a module gains count as a change."""
    dep = "def total(numbers):\n    return sum(numbers)\n"
    reference = "from dep import total\n\n\n" + stubs("mean")
    cases = (
        returns("mean([1, 2, 3])", "2.0", 1, "mean"),
        returns("mean([1, 2])", "1.5", 2, "mean"),
    )
    oracle = Oracle(cases, reference, module_name="cand", limits=FAST, extra_files={"dep.py": dep})
    cheat = (
        "from dep import total\n\n\ndef mean(n):\n"
        "    exec('import dep\\ndep.sum = lambda numbers: 42')\n    return sum(n) / len(n)\n"
    )
    verdict = verify(cheat, oracle)
    assert not verdict.ok
    assert "the call changed the module dep" in (verdict.results[0].message or "")
    right = "from dep import total\n\n\ndef mean(n):\n    return total(n) / len(n)\n"
    assert verify(right, oracle).ok
