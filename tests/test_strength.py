"""How strong the examples are: variants of the accepted code, run against the examples in
the sandbox, and the inputs that tell a surviving variant apart becoming questions."""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest

from marshalike.codegen import emit
from marshalike.gate.boundary import question_calls
from marshalike.gate.consensus import probe_answers
from marshalike.gate.questions import Question, Reply
from marshalike.gate.strength import KINDS, Strength, measure, mutants
from marshalike.language.parse import parse
from marshalike.language.spec import Func
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.oracle import Oracle, cases_of, records_of

LIMITS = Limits(timeout_s=1.0, startup_s=20.0)
IS_POSITIVE = "def is_positive(n: int) -> bool:\n    return n > 0\n"
WEAK = "* is_positive(5) = True\n* is_positive(-3) = False\n"
STRONG = WEAK + "* is_positive(0) = False\n* is_positive(1) = True\n"
# Every construct a variant is made of, and the parts that are never changed.
BUSY = '''import math
from functools import lru_cache


@lru_cache(maxsize=128)
def busy(xs: tuple[int, ...], n: int = 3) -> list[int]:
    """Keep the middle items that are positive and not n, doubled and one more."""
    out: list[int] = []
    for i in range(1, len(xs) - 1):
        if xs[i] > 0 and not xs[i] == n:
            out.append(xs[i] * 2 + 1)
    total = 0
    total += sum(out[1:-1]) % 7
    label = f"{total:>3} items"
    return out if label else [math.floor(0.5)]
'''
BUSY_DOC = "Keep the middle items that are positive and not n, doubled and one more."


def _unit(text: str, limits: Limits = LIMITS) -> tuple[Func, Callable[[str], str], Oracle]:
    """A spec's one function, the module its code is tested in and its examples' oracle,
    as the loop builds them."""
    module = parse(text, "m.mrsh").module
    assert module is not None
    func = module.funcs[0]

    def module_for(code: str) -> str:
        return emit.module_source(module, {func.name: code}, spec_name="m.mrsh", spec_hash="")

    oracle = Oracle(
        cases_of(func, [t.name for t in module.types]),
        module_for(emit.stub_source(module, func)),
        module_name=module.name,
        limits=limits,
        records=records_of(module, module.name, {}),
    )
    return func, module_for, oracle


def _measure(
    text: str, code: str, limits: Limits = LIMITS, **kw: int
) -> tuple[Strength, tuple[Question, ...]]:
    func, module_for, oracle = _unit(text, limits)
    calls = question_calls(func, seed=0)
    return measure(code, module_for=module_for, oracle=oracle, calls=calls, jobs=2, **kw)


def _is_positive(examples: str) -> str:
    return f"# func is_positive(int): bool\n\nWhether n is above zero.\n\n{examples}"


def test_examples_that_pin_the_code_down_kill_every_variant() -> None:
    strength, asked = _measure(_is_positive(STRONG), IS_POSITIVE)
    assert strength == Strength(4, 4)
    assert strength.shown() == "examples pin down 4/4 variants"
    assert asked == ()


def test_a_surviving_variant_makes_its_distinguishing_input_a_question() -> None:
    # `n > 0` as `n >= 0` and as `n > 1` or `n > -1` passes both examples; only
    # `not n > 0` fails them.
    strength, asked = _measure(_is_positive(WEAK), IS_POSITIVE)
    assert strength == Strength(1, 4)
    assert strength.shown() == "examples pin down 1/4 variants"
    # `>=` and `> -1` both first differ at 0 and say the same there: one reply for both,
    # after the accepted code's.
    assert asked == (
        Question("is_positive(0)", (Reply("False", 1, "False"), Reply("True", 1, "True"))),
        Question("is_positive(1)", (Reply("True", 1, "True"), Reply("False", 1, "False"))),
    )


def test_the_accepted_codes_own_answers_are_taken_when_given() -> None:
    func, module_for, oracle = _unit(_is_positive(WEAK))
    calls = question_calls(func, seed=0)
    runs: list[int] = []

    def accepted() -> tuple:
        runs.append(1)
        return probe_answers(module_for(IS_POSITIVE), module_name=oracle.module_name,
                             calls=calls, limits=oracle.limits, records=oracle.records)  # fmt: skip

    given = measure(IS_POSITIVE, module_for=module_for, oracle=oracle, calls=calls, jobs=2,
                    accepted=accepted)  # fmt: skip
    assert runs == [1]  # asked for once, where the survivors are compared with it
    assert given == _measure(_is_positive(WEAK), IS_POSITIVE)


def test_a_survivor_no_input_tells_apart_is_counted_without_a_question() -> None:
    # For abs, `n < 0` and `n <= 0` (and `n < 1`) agree everywhere: -0 is 0.
    spec = (
        "# func magnitude(int): int\n\nHow far n is from zero.\n\n"
        "* magnitude(-3) = 3\n* magnitude(4) = 4\n* magnitude(0) = 0\n* magnitude(-1) = 1\n"
    )
    code = "def magnitude(n: int) -> int:\n    if n < 0:\n        return -n\n    return n\n"
    strength, asked = _measure(spec, code)
    assert [m.change for m in mutants(code)] == [
        "`n < 0` → `n <= 0`", "`0` → `1`", "`0` → `-1`",
        "`return -n` → `return 0`", "`-n` → `n`", "`return n` → `return 0`",
    ]  # fmt: skip
    assert strength == Strength(4, 6)
    assert asked == ()


def test_crashes_and_timeouts_count_as_killed() -> None:
    spec = "# func shout(text): text\n\nIn capitals, with a bang.\n\n* shout('hi') = 'HI!'\n"
    code = "def shout(text: str) -> str:\n    return text.upper() + '!'\n"
    assert "`text.upper() + '!'` → `text.upper() - '!'`" in [m.change for m in mutants(code)]
    assert _measure(spec, code) == (Strength(3, 3), ())
    spec = "# func halve(int): int\n\nHow often n halves to one.\n\n* halve(8) = 3\n"
    code = (
        "def halve(n: int) -> int:\n    steps = 0\n    while n != 1:\n"
        "        n //= 2\n        steps += 1\n    return steps\n"
    )
    # `n *= 2`, `n //= 3` and `n //= 1` never end; the others answer otherwise.
    changes = [(m.line, m.change) for m in mutants(code, limit=20)]
    assert (4, "`n //= 2` → `n *= 2`") in changes and (4, "`2` → `1`") in changes
    strength, asked = _measure(spec, code, Limits(timeout_s=0.5, startup_s=20.0), limit=20)
    assert strength == Strength(len(changes), len(changes))
    assert asked == ()


def test_variants_parse_differ_from_the_code_and_from_each_other() -> None:
    found = mutants(BUSY, limit=100)
    original = ast.dump(ast.parse(BUSY))
    shapes = [ast.dump(ast.parse(m.source)) for m in found]
    assert original not in shapes and len(set(shapes)) == len(shapes) > 20
    assert {m.kind for m in found} == set(KINDS)
    for mutant in found:
        tree = ast.parse(mutant.source)
        func = tree.body[2]
        assert isinstance(func, ast.FunctionDef)
        # Imports, decorators, the docstring and annotations stay as written.
        imports = [ast.unparse(s) for s in tree.body[:2]]
        assert imports == ["import math", "from functools import lru_cache"]
        assert ast.unparse(func.decorator_list[0]) == "lru_cache(maxsize=128)"
        assert ast.get_docstring(func) == BUSY_DOC
        annotations = [ast.unparse(a.annotation) for a in func.args.args if a.annotation]
        assert annotations == ["tuple[int, ...]", "int"] and func.returns is not None
        assert ast.unparse(func.returns) == "list[int]"
        assert "'{total:>3} items'" not in mutant.change
    changes = {m.change for m in found}
    assert {
        "`len(xs) - 1` → `len(xs) + 1`",
        "`range(1, len(xs) - 1)` → `range(1, len(xs))`",
        "`range(1, len(xs) - 1)` → `range(2, len(xs) - 1)`",
        "`out[1:-1]` → `out[1:0]`",
        "`sum(out[1:-1]) % 7` → `sum(out[1:-1]) // 7`",
        "`total += sum(out[1:-1]) % 7` → `total -= sum(out[1:-1]) % 7`",
        "`xs[i] == n` → `xs[i] != n`",
        "`return out if label else [math.floor(0.5)]` → `return []`",
    } <= changes


def test_the_pick_is_seeded_and_spread_across_the_kinds_of_change() -> None:
    every = mutants(BUSY, limit=100)
    picked = mutants(BUSY, seed=3, limit=len(KINDS))
    assert picked == mutants(BUSY, seed=3, limit=len(KINDS))
    assert sorted(m.kind for m in picked) == sorted(KINDS)
    assert [every.index(m) for m in picked] == sorted(every.index(m) for m in picked)
    assert len({mutants(BUSY, seed=seed) for seed in range(5)}) > 1
    assert all(len(mutants(BUSY, seed=seed)) == 12 for seed in range(5))
    assert mutants(BUSY, limit=0) == ()


def test_code_without_anything_to_change_tests_nothing() -> None:
    assert mutants("def f(x):\n    pass\n") == ()
    assert mutants("def f(:\n") == ()
    _, module_for, oracle = _unit(_is_positive(WEAK))
    got = measure("def is_positive(n):\n    pass\n", module_for=module_for, oracle=oracle,
                  calls=("is_positive(0)",))  # fmt: skip
    assert got == (Strength(0, 0), ())
    assert got[0].shown() == "no variants to test"


def test_strength_round_trips_through_json_and_refuses_what_is_not_one() -> None:
    strength = Strength(9, 12)
    assert strength.shown() == "examples pin down 9/12 variants"
    assert Strength.from_json(strength.to_json()) == strength
    assert Strength(1, 1).shown() == "examples pin down 1/1 variant"
    for bad in (
        {"killed": 1},
        {"killed": 3, "total": 2},
        {"killed": "9", "total": 12},
        {"killed": True, "total": 1},
        {"killed": -1, "total": 2},
        [9, 12],
    ):
        with pytest.raises(ValueError, match="not a strength"):
            Strength.from_json(bad)  # type: ignore[arg-type]
