"""The semantic checks, and the malformed-spec corpus in tests/malformed/.

Each `tests/malformed/NAME.mrsh` has `NAME.expected`: the full rendered diagnostics of
`load_spec("NAME.mrsh")` run from inside that folder (so paths read `NAME.mrsh:LINE:COL`).
The expected files are a specification: after a deliberate change of behaviour, regenerate
them with

    MARSHALIKE_UPDATE_GOLDEN=1 python -m pytest -q tests/test_check.py

and read every changed file before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marshalike.language.diagnostics import Diagnostic, Span, render_all
from marshalike.language.load import load_spec
from marshalike.language.parse import parse
from marshalike.language.semantics import check
from marshalike.language.spec import Module

CORPUS = Path(__file__).resolve().parent / "malformed"
CASES = sorted(p.stem for p in CORPUS.glob("*.mrsh"))
UPDATE = os.environ.get("MARSHALIKE_UPDATE_GOLDEN") == "1"


def rendered(name: str) -> str:
    result = load_spec(f"{name}.mrsh")
    return render_all(result.diagnostics, {result.path: result.source}) + "\n"


@pytest.mark.parametrize("name", CASES)
def test_malformed_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    expected = CORPUS / f"{name}.expected"
    actual = rendered(name)
    if UPDATE:
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


def test_corpus_is_large_and_reports_an_error_or_warning_for_each_case() -> None:
    assert len(CASES) >= 30
    for name in CASES:
        text = (CORPUS / f"{name}.expected").read_text(encoding="utf-8")
        assert re.search(r": (error|warning)\[M\d{3}\]: ", text), name


def test_corpus_covers_every_check_and_load_code() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in CORPUS.glob("*.expected"))
    found = set(re.findall(r"\[(M\d{3})\]", text))
    wanted = {f"M{n:03d}" for n in [*range(10, 29), *range(30, 37)]}
    assert wanted - found == set()


def test_every_expected_file_has_its_spec() -> None:
    orphans = {p.stem for p in CORPUS.glob("*.expected")} - set(CASES)
    assert orphans == set()


# --- check() on parsed text ----------------------------------------------------------


def module(text: str) -> Module:
    result = parse(text, "t.mrsh")
    assert result.module is not None, result.diagnostics
    return result.module


def render(found: list[Diagnostic], text: str) -> str:
    return render_all(found, {"t.mrsh": text})


def checked(m: Module, **kwargs: object) -> list[Diagnostic]:
    """check() without M026: the small specs of these tests have few examples on purpose."""
    return [d for d in check(m, **kwargs) if d.code != "M026"]  # type: ignore[arg-type]


SORT_BY_AGE = """\
# type person
name, age
Joe, 20

# func sort_by_age(person list, ascending boolean flag): person list ordered by age

Sort people by age; the flag defaults to true.

* sort_by_age([person('Joe', 20)]) = [person('Joe', 20)]
* sort_by_age([], false) = []
* sort_by_age() = throws an error
"""


def test_marsha_style_spec_has_no_findings() -> None:
    # Bare-type parameters may have defaults the prose mentions, so one argument is fine.
    assert check(module(SORT_BY_AGE)) == []


def test_functions_of_used_specs_are_callable_and_their_arity_checked() -> None:
    text = "# func twice(n: int): int\n\nTwice n.\n\n* twice(2) = 4\n* half(4, 1) = 2\n"
    helper = module("# func half(n: int): int\n\nHalf of n.\n\n* half(4) = 2\n").funcs[0]
    assert checked(module(text)) != []
    found = checked(module(text), extra_functions={"half": helper})
    assert render(found, text) == (
        "t.mrsh:6:3: error[M014]: example passes 2 arguments to 'half', which takes 1 "
        "argument\n"
        "    * half(4, 1) = 2\n"
        "      ^^^^\n"
        "  hint: declared as `# func half(n: int): int`"
    )


def test_a_local_function_shadows_a_used_one() -> None:
    text = "# func half(n: int, d: int): int\n\nn / d.\n\n* half(4, 2) = 2\n"
    helper = module("# func half(n: int): int\n\nHalf of n.\n\n* half(4) = 2\n").funcs[0]
    assert checked(module(text), extra_functions={"half": helper}) == []


def test_builtins_and_library_classes_are_not_undeclared_types() -> None:
    text = (
        "# func f(x: int): object\n\nAnything.\n\n"
        "* f(1) = Decimal('1')\n"
        "* f(2) = Counter({'a': 1})\n"
        "* f(3) raises HTTPError\n"
        "* f(4) = ValueError('x')\n"
        "* f(5) = len([1])\n"
    )
    assert check(module(text)) == []


def test_an_example_calling_a_builtin_is_not_an_unknown_function() -> None:
    text = "# func words(s: str): list of str\n\nSplit s.\n\n* len(words('a b')) = 2\n"
    assert checked(module(text)) == []


def test_arity_of_a_wrong_call_meant_to_fail_is_not_checked() -> None:
    text = (
        "# func f(x: int): int\n\nx.\n\n"
        "* f(1) = 1\n* f() raises TypeError\n* f(1, 2) throws an error\n"
    )
    assert check(module(text)) == []


def test_keyword_arguments_fill_required_parameters() -> None:
    text = "# func f(a: int, b: int): int\n\nSum.\n\n* f(1, b=2) = 3\n* f(b=2, a=1) = 3\n"
    assert checked(module(text)) == []


def test_findings_are_collected_and_sorted_by_position() -> None:
    text = (
        "# func f(x: int): int\n\n"
        "* g(1) = 1\n"
        "* f(1, 2) = 1\n"
        "\n# func f(y: int): int\n\nAgain.\n\n* f(1) = 1\n"
    )
    found = checked(module(text))
    assert [(d.code, d.span.line) for d in found] == [
        ("M020", 1),
        ("M012", 3),
        ("M014", 4),
        ("M010", 6),
    ]
    assert all(d.path == "t.mrsh" for d in found)


def test_suggestions_stop_after_the_first_distinct_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("marshalike.language.calls.MAX_SUGGESTED_NAMES", 1)
    text = (
        "# type Point\nx, y\n1, 2\n\n# func f(p: Point): Point\n\nSame p.\n\n"
        "* f(Pont(1, 2)) = Pont(1, 2)\n* f(Poit(1, 2)) = Point(1, 2)\n"
    )
    assert [d.hint for d in checked(module(text))] == [
        "did you mean 'Point'?",
        "declare it with `# type Poit` and a CSV header line",
    ]


def test_a_hand_built_module_without_spans_from_text_is_checked_too() -> None:
    span = Span(1, 1, 1, 2)
    empty = Module("m.mrsh", (), (), (), span)
    assert [(d.severity, d.code, d.message) for d in check(empty)] == [
        ("warning", "M024", "spec declares no functions or types")
    ]


# --- never a traceback ---------------------------------------------------------------

SEEDS = [(CORPUS / f"{name}.mrsh").read_text(encoding="utf-8", errors="replace") for name in CASES]


@st.composite
def mutated_specs(draw: st.DrawFn) -> str:
    """A corpus spec with a few lines deleted, duplicated or edited."""
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "insert"]))
        if edit == "delete" and len(lines) > 1:
            del lines[index]
        elif edit == "duplicate":
            lines.insert(index, lines[draw(st.integers(0, len(lines) - 1))])
        else:
            at = draw(st.integers(0, len(lines[index])))
            extra = draw(st.text("(),=*#:'\"[]{} Xa_1.", min_size=1, max_size=3))
            lines[index] = lines[index][:at] + extra + lines[index][at:]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(mutated_specs())
def test_check_never_raises_and_locates_inside_the_text(text: str) -> None:
    parsed = parse(text, "t.mrsh")
    if parsed.module is None:
        return
    line_count = max(len(text.splitlines()), 1)
    for found in check(parsed.module):
        span = found.span
        assert 1 <= span.line <= line_count and span.column >= 1
        assert (span.end_line, span.end_column) > (span.line, span.column)


# --- M026: too few examples ----------------------------------------------------------


def test_too_few_examples_names_what_no_example_pins_down() -> None:
    text = (
        "# func first(items: list of int, n: int): int\n\n"
        "The first item; raises IndexError when there is none.\n\n"
        "* first([3, 4], 1) = 3\n"
    )
    assert render(check(module(text)), text) == (
        "t.mrsh:1:8: warning[M026]: function 'first' has only 1 checkable example, too few to "
        "trust the code that passes them: no example with an empty list for `items`; no "
        "example with zero or a negative number for `n`; the description says it raises "
        "IndexError but no example shows it\n"
        "    # func first(items: list of int, n: int): int\n"
        "           ^^^^^\n"
        "  hint: add examples until 3 or more are checkable, covering these cases"
    )


def test_too_few_examples_without_a_named_gap_still_warns() -> None:
    text = "# func answer(): int\n\nForty-two.\n\n* answer() = 42\n* answer() = 42\n"
    assert [(d.severity, d.code, d.message, d.hint) for d in check(module(text))] == [
        (
            "warning",
            "M026",
            "function 'answer' has only 2 checkable examples, too few to trust the code that "
            "passes them",
            "add examples until 3 or more are checkable",
        )
    ]


def test_three_checkable_examples_are_enough_and_informal_ones_do_not_count() -> None:
    three = "# func inc(n: int): int\n\nn + 1.\n\n* inc(1) = 2\n* inc(2) = 3\n* inc(3) = 4\n"
    assert check(module(three)) == []
    informal = three.replace("* inc(3) = 4", "* inc(3) = the number four")
    assert [d.code for d in check(module(informal))] == ["M026", "M022"]


def test_a_function_without_checkable_examples_gets_m021_or_m023_not_m026() -> None:
    text = "# func f(n: int): int\n\nx.\n\n* f(1) = the one\n\n# func g(n: int): int\n\ny.\n"
    assert [d.code for d in check(module(text))] == ["M023", "M022", "M021"]


def test_many_gaps_are_cut_short() -> None:
    params = ", ".join(f"p{i}: str" for i in range(6))
    text = f"# func f({params}): int\n\nx.\n\n* f('a', 'b', 'c', 'd', 'e', 'f') = 1\n"
    (found,) = check(module(text))
    assert found.message.endswith("no example with an empty string for `p3`; and 2 more")


# --- M027: nesting ---------------------------------------------------------------------------

DEEP = 2_000


@pytest.mark.parametrize(
    "argument",
    [
        "[" * DEEP + "]" * DEEP,
        "(" * DEEP + "1" + ")" * DEEP,
        "-" * DEEP + "1",
        "+".join(["1"] * DEEP),
        "x" + "[0]" * DEEP,
        "not " * DEEP + "x",
    ],
)
def test_an_example_nested_thousands_deep_is_an_error_not_a_crash(argument: str) -> None:
    text = f"# func f(x: int): int\n\nx.\n\n* f({argument}) = 1\n* f(1) = 1\n"
    (found,) = checked(module(text))
    line = f"* f({argument}) = 1"
    span = Span(5, 1, 5, len(line) + 1)
    assert (found.severity, found.code, found.span) == ("error", "M027", span)
    assert found.message == "example nests more than 100 levels deep"
    assert found.hint == "split it into smaller examples"


def test_an_expected_value_nested_too_deep_is_an_error_too() -> None:
    text = f"# func f(x: int): list\n\nx.\n\n* f(1) = {'[' * DEEP}{']' * DEEP}\n* f(2) = []\n"
    assert [d.code for d in checked(module(text))] == ["M027"]


def test_redundant_parentheses_do_not_count_as_nesting() -> None:
    text = f"# func f(x: int): int\n\nx.\n\n* f({'(' * 150}1{')' * 150}) = 1\n"
    (example,) = module(text).funcs[0].examples
    assert example.checkable


# --- M028: calls of undeclared functions inside an example -----------------------------------

PEOPLE = """\
# type person
name, age
Joe, 20

# func oldest(people: list of person): person

Return the oldest person.

"""


def test_a_misspelt_constructor_inside_an_argument_is_an_error_with_a_hint() -> None:
    text = PEOPLE + "* oldest([persn('Jane', 50)]) = person('Jane', 50)\n"
    assert render(checked(module(text)), text) == (
        "t.mrsh:9:11: error[M028]: example calls undeclared function 'persn'\n"
        "    * oldest([persn('Jane', 50)]) = person('Jane', 50)\n"
        "              ^^^^^\n"
        "  hint: did you mean 'person'?"
    )


def test_an_undeclared_call_in_the_expected_value_is_an_error() -> None:
    text = "# func add(a: int, b: int): int\n\nAdd.\n\n* add(1, 2) = ad(2, 1)\n"
    (found,) = checked(module(text))
    assert (found.code, found.message, found.hint) == (
        "M028",
        "example calls undeclared function 'ad'",
        "did you mean 'add'?",
    )
    assert found.span == Span(5, 15, 5, 17)


def test_a_name_like_nothing_declared_gets_a_hint_to_declare_it() -> None:
    text = "# func add(a: int, b: int): int\n\nAdd.\n\n* add(zzz(1), 2) = 3\n"
    (found,) = checked(module(text))
    assert found.hint == "declare it with `# func zzz(...)`, or `# use` the spec that does"


def test_the_called_function_itself_is_m012s_not_reported_twice() -> None:
    text = "# func add(a: int, b: int): int\n\nAdd.\n\n* ad(ad(1, 2), 3) = 6\n"
    assert [d.code for d in checked(module(text))] == ["M012"]


@pytest.mark.parametrize(
    "call",
    [
        "add(len([1]), abs(-2))",  # builtins
        "add(int('1'), round(1.2))",
        "add(math.floor(1.5), 1)",  # a module's function: an attribute, not a name
        "add(decimal(1), 1)",  # a stdlib module's name
        "add(helper(1), 1)",  # a function of a used spec
        "add(add(1, 0), 1)",  # a declared function
        "add((lambda x: x)(1), 1)",
        "add(sum(f(1) for f in [abs]), 1)",  # names the expression binds itself
        "add((g := abs)(1), g(1))",
        "add(sum([y for x in [[1]] for y in x]), 1)",  # a later clause reads an earlier's
        "add(sum([(z := x) for x in [1]]), z)",  # `:=` binds around the comprehension
        "add((lambda x=1: x)(), len([x for x in 'ab' if x]))",
    ],
)
def test_known_and_locally_bound_names_are_not_undeclared(call: str) -> None:
    from marshalike.language.spec import Func

    text = f"# func add(a: int, b: int): int\n\nAdd.\n\n* {call} = 2\n"
    used = module("# func helper(x: int): int\n\nx.\n\n* helper(1) = 1\n").funcs[0]
    assert checked(module(text), extra_functions={"helper": used}) == [], call
    assert isinstance(used, Func)


@pytest.mark.parametrize(
    ("example", "code", "name"),
    [
        ("add(sum([x for x in [1]]), 1) = x", "M052", "x"),
        ("add(len({k: v for k, v in {1: 2}.items()}), v) = 2", "M052", "v"),
        ("add(sum(x for x in [1]), 1) = x + 1", "M052", "x"),
        ("add((lambda y: y)(1), y) = 2", "M052", "y"),
        ("add(sum([f(1) for f in [abs]]), f(1)) = 2", "M028", "f"),
    ],
)
def test_a_name_bound_inside_a_comprehension_or_lambda_is_undeclared_outside_it(
    example: str, code: str, name: str
) -> None:
    """As in Python 3, a comprehension's variables and a lambda's parameters are bound
    inside it only: read outside it, the test would fail with a NameError."""
    text = f"# func add(a: int, b: int): int\n\nAdd.\n\n* {example}\n"
    (found,) = checked(module(text))
    assert (found.code, f"'{name}'" in found.message) == (code, True), found


def test_an_informal_example_is_not_checked_for_undeclared_calls() -> None:
    text = "# func add(a: int, b: int): int\n\nAdd.\n\n* add(zzz(1), 2) = about three\n"
    assert [d.code for d in checked(module(text))] == ["M023", "M022"]
