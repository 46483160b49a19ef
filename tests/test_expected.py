"""Expected values that call model-written code: each call answered alone by that code,
the rest computed by a module with none of it (`sandbox.expected`)."""

from __future__ import annotations

import pytest

from marshalike.sandbox.expected import (
    Claim,
    literal,
    model_names,
    next_calls,
    resolve,
    trusted_module,
)
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.oracle import Case, Oracle
from marshalike.sandbox.verify import verify

FAST = Limits(timeout_s=5.0, memory_mb=1024)
# A dependency that, wherever it is not answering its own call (`double(n)`), rewrites the
# runner's encoder so that every value the process writes afterwards reads 0.
POISONING_DOUBLE = """\
import sys


def double(n):
    runner = getattr(sys, "modules").get("__main__")
    request = getattr(runner, "request", None)
    if isinstance(request, dict) and request.get("call") != f"double({n})":
        runner.encode = lambda *args: ["int", "0"]
    return 2 * n
"""
QUADRUPLE_STUB = "def quadruple(n):\n    raise NotImplementedError\n"


def quadruple_oracle(reference: str, expected: str, **extra: object) -> Oracle:
    cases = tuple(
        Case(f"test_quadruple_{i}", f"quadruple({n})", "returns", expected.format(n=n), None)
        for i, n in enumerate((3, 1, -2), 1)
    )
    return Oracle(cases, reference, module_name="app", limits=FAST, **extra)  # type: ignore[arg-type]


def test_a_dependency_cannot_write_the_expected_value_that_calls_it() -> None:
    oracle = quadruple_oracle(POISONING_DOUBLE + "\n\n" + QUADRUPLE_STUB, "double(double({n}))")
    wrong = POISONING_DOUBLE + "\n\ndef quadruple(n):\n    return 0\n"
    right = POISONING_DOUBLE + "\n\ndef quadruple(n):\n    return 4 * n\n"
    assert [r.status for r in verify(wrong, oracle).results] == ["fail"] * 3
    # Nor pass right code in its company: where the test file computes `double(double(3))`,
    # the dependency rewrites the encoder, and no value comes back from that run.
    verdict = verify(right, oracle)
    assert not verdict.ok
    assert {r.error_type for r in verdict.results if r.status != "pass"} == {"AsTheTestFile"}


def test_a_used_module_imported_by_the_reference_cannot_write_literal_expected_values() -> None:
    # lib's import-time code rewrites the encoder of any process that imports it: the
    # candidate's (its answers are its own) and, before, the expected values' too.
    lib = (
        "import sys\n\n"
        "_runner = getattr(sys, 'modules').get('__main__')\n"
        "_runner.encode = lambda *args: ['int', '0']\n\n\n"
        "def double(n):\n    return 2 * n\n"
    )
    reference = "from lib import double\n\n\n" + QUADRUPLE_STUB
    oracle = quadruple_oracle(reference, "{n} * 4", extra_files={"lib.py": lib})
    wrong = "from lib import double\n\n\ndef quadruple(n):\n    return n + 1000\n"
    assert [r.status for r in verify(wrong, oracle).results] == ["fail"] * 3


def test_the_functions_own_claims_are_answered_alone_and_written_back() -> None:
    cases = (Case("test_f_1", "f(3)", "returns", "f(2) + 1", None),)
    oracle = Oracle(cases, "def f(x):\n    raise NotImplementedError\n", module_name="m",
                    limits=FAST)  # fmt: skip
    assert verify("def f(x):\n    return x\n", oracle).ok
    failed = verify("def f(x):\n    return 2 * x\n", oracle).results[0]
    assert (failed.status, failed.expected, failed.actual) == ("fail", "5", "6")


def test_a_call_of_model_code_that_cannot_be_taken_out_makes_the_example_invalid() -> None:
    cases = (Case("test_f_1", "f(3)", "returns", "[f(i) for i in range(2)]", None),)
    oracle = Oracle(cases, "def f(x):\n    raise NotImplementedError\n", module_name="m",
                    limits=FAST)  # fmt: skip
    result = verify("def f(x):\n    return [0, 1]\n", oracle).results[0]
    assert (result.status, result.error_type) == ("error", "InvalidExample")
    assert "inside a lambda or a comprehension" in (result.message or "")


def test_trusted_module_keeps_types_imports_and_stubs_only() -> None:
    source = (
        "from __future__ import annotations\nimport math\nfrom dataclasses import dataclass\n"
        "from lib import double\n\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n\n\n"
        "class Sneaky:\n    hook = print('ran')\n\n\n_TABLE = {1: 2}\nprint('top')\n\n\n"
        "def swap(p):\n    return Point(p.y, p.x)\n"
    )
    trusted = trusted_module(source)
    assert "print" not in trusted and "_TABLE" not in trusted and "Sneaky" not in trusted
    assert "class Point" in trusted and "import math" in trusted and "from lib import" in trusted
    assert "def swap(*args, **kwargs):\n    raise NotImplementedError" in trusted
    names, stubs, imported = model_names(source + "\n\n" + QUADRUPLE_STUB, {"lib"})
    assert names == {"double", "swap", "quadruple"} and stubs == {"quadruple"}
    assert imported == {"double": "lib"}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("double(double(3))", [("double", "double(3)")]),
        ("not is_even(2) or is_even(4)", [("is_even", "is_even(4)"), ("is_even", "is_even(2)")]),
        ("sorted([3, 1], key=double)", "it uses double other than by calling it"),
        ("(lambda x: double(x))(3)", "it calls double inside a lambda or a comprehension"),
    ],
)
def test_next_calls(text: str, found: object) -> None:
    assert next_calls(text, {"double", "is_even"}) == found


def test_resolve_substitutes_innermost_first_and_stops_at_a_failed_claim() -> None:
    asked: list[str] = []

    def claim(name: str, call: str) -> Claim:
        asked.append(call)
        return Claim(["int", format(2 * int(call[len(name) + 1 : -1]), "x")])

    assert resolve("double(double(3)) + 1", {"double"}, claim) == ("12 + 1", "")
    assert asked == ["double(3)", "double(6)"]
    assert resolve("f(1)", {"f"}, lambda name, call: Claim(None, "boom")) == (None, "f(1): boom")
    huge = Claim(["int", "f" * 5000])
    assert resolve("f(1) + 1", {"f"}, lambda name, call: huge)[0] is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (["int", "-ff"], "-0xff"),
        (["float", (-0.0).hex()], "-0.0"),
        (["float", float("inf").hex()], "float('inf')"),
        (["tuple", [["str", "a"]]], "('a',)"),
        (["set", []], "set([])"),
        (["dict", [[["str", "k"], ["None"]]]], "{'k': None}"),
        (["record", "Point", [["x", ["int", "1"]], ["y", ["bool", True]]]], "Point(x=0x1, y=True)"),
        (["value", "decimal.Decimal", "Decimal('1.5')"], "decimal.Decimal('1.5')"),
        (["object", "m.Eq", "builtins.object"], None),
        (["record", "Point", [["x;y", ["int", "1"]]]], None),
    ],
)
def test_literal(value: list, text: str | None) -> None:
    assert literal(value, ["Point"]) == text


def test_a_claim_cannot_be_told_from_an_example_by_what_ran_before_it() -> None:
    """The claim `f(1)` runs alone; so does the example `f(1) = 5`, once an expected value
    of the function calls the function: code that answers its first call of a process
    one way (7) and later ones another (5) cannot make `f(2) = f(1) * 2` hold for 14."""
    cases = (
        Case("test_f_1", "f(0)", "returns", "0", None),
        Case("test_f_2", "f(1)", "returns", "5", None),
        Case("test_f_3", "f(2)", "returns", "f(1) * 2", None),
    )
    oracle = Oracle(cases, "def f(x):\n    raise NotImplementedError\n", module_name="m",
                    limits=FAST)  # fmt: skip
    history = (
        "def f(x, _seen=[]):\n    _seen.append(x)\n    if _seen == [1]:\n        return 7\n"
        "    if x == 2:\n        return 14\n    return {0: 0, 1: 5}[x]\n"
    )
    assert not verify(history, oracle).ok
    assert verify("def f(x):\n    return {0: 0, 1: 5, 2: 10}[x]\n", oracle).ok


# A claim forged as a record of a builtin's name: written back as `__import__(...)`, it
# would run code of the candidate's choosing in the process that writes expected values.
FORGED = ["record", "__import__", [["name", ["str", "evil"]]]]


def test_a_claim_is_written_back_only_as_a_declared_record() -> None:
    assert literal(FORGED) is None
    assert literal(FORGED, ["Point"]) is None
    point = ["record", "Point", [["x", ["int", "1"]]]]
    assert literal(point, ["Point"]) == "Point(x=0x1)" and literal(point) is None
    assert literal(["record", "Point", [["__class__", ["None"]]]], ["Point"]) is None


def test_a_forged_record_claim_writes_no_expected_value() -> None:
    cases = (
        Case("test_f_1", "f(3)", "returns", "f(2) * 0 + 10", None),
        Case("test_f_2", "f(4)", "returns", "20", None),
    )
    oracle = Oracle(cases, "def f(x):\n    raise NotImplementedError\n", module_name="m",
                    limits=FAST)  # fmt: skip
    cheat = (
        "import sys\n\n\ndef f(x):\n"
        "    runner = getattr(sys, 'modules').get('__main__')\n"
        f"    runner.encode = lambda *args: {FORGED!r}\n"
        "    return 1337\n"
    )
    results = verify(cheat, oracle).results
    assert [r.status for r in results] == ["error", "fail"]
    assert "cannot be written as a literal" in (results[0].message or "")


POINT_MODULE = (
    "from __future__ import annotations\n\nfrom dataclasses import dataclass\n\n\n"
    "@dataclass\nclass Point:\n    x: int\n    y: int\n\n\n"
)


def test_a_used_modules_class_that_borrows_a_declared_types_name_is_no_record() -> None:
    """lib's own `Point`, equal to everything: returned for the spec's `Point`, it is an
    object of another class (the runner names a used module's types in full, and takes
    only the types its spec declares as records)."""
    lib = POINT_MODULE + "    def __eq__(self, other):\n        return True\n"
    cases = (Case("test_swap_1", "swap(Point(1, 2))", "returns", "Point(2, 1)", None),)
    reference = POINT_MODULE + "def swap(p):\n    raise NotImplementedError\n"
    oracle = Oracle(cases, reference, module_name="app", limits=FAST, records=("app.Point",),
                    extra_files={"lib.py": lib})  # fmt: skip
    cheat = POINT_MODULE + "def swap(p):\n    import lib\n    return lib.Point(p.y, p.x)\n"
    right = POINT_MODULE + "def swap(p):\n    return Point(p.y, p.x)\n"
    assert verify(cheat, oracle).results[0].status == "fail"
    assert verify(right, oracle).ok


def test_expected_values_are_computed_without_a_dependencys_imports_or_helpers() -> None:
    """`total([2, 3]) = sum([2, 3])`, with a dependency whose code imports `prod as sum`
    (or defines a helper `sum`): the expected value is the built-in's."""
    stub = "def total(xs):\n    raise NotImplementedError\n"
    trusted = "def product(xs):\n    raise NotImplementedError\n\n\n" + stub
    for dependency in (
        "from math import prod as sum\n\n\ndef product(xs):\n    return sum(xs)\n",
        "def sum(xs):\n    return 6\n\n\ndef product(xs):\n    return sum(xs)\n",
    ):
        cases = (Case("test_total_1", "total([2, 3])", "returns", "sum([2, 3])", None),)
        oracle = Oracle(cases, dependency + "\n\n" + stub, module_name="calc", limits=FAST,
                        trusted_source=trusted)  # fmt: skip
        wrong = dependency + "\n\ndef total(xs):\n    return 6\n"
        assert verify(wrong, oracle).results[0].status == "fail", dependency
