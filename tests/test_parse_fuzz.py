"""Property: any text ends in a Module or in located diagnostics, never in an exception.

About 2,000 generated inputs in three families: random characters weighted toward the
spec's punctuation, soups of spec-like lines, and mutations of valid specs (lines deleted,
duplicated or swapped, characters inserted). Derandomized so CI runs the same inputs.
Two more properties check that the regex fast paths for examples and signatures accept
only what ast and the grammar accept, and build the same values.
"""

from __future__ import annotations

import ast
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marshalike.language import examples, headings
from marshalike.language.diagnostics import Span, render
from marshalike.language.parse import ParseResult, parse
from marshalike.language.spec import Module

FUZZ = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEDS = [
    "# type person\nname, age\nJoe, 20\n\n# func sort_by_age(person list, flag): list\n\n"
    "Sort them.\n\n* sort_by_age([person('Joe', 20)]) = [person('Joe', 20)]\n"
    "* sort_by_age() = throws an error\n",
    "<!-- note\n-->\n# Title\n\n## func f(x: int = 3, y: dict[str, int] = {}): int\n\n"
    "Uses `g` and I = 1.\n\n```\n# code\n```\n- f(1) == 2\n+ f(2) raises ValueError\n"
    "1. f(true) = null\n",
    "# use other.mrsh\n# type T t.csv\n#func now(): time\n* now() = 'x'\n"
    '# type Row\na\tb\n"x, y"\t2\n',
]

SNIPPETS = [
    "",
    "# func f(x): y",
    "#func g(): z",
    "## func h(a: int = 1",
    "# type P",
    "# type P p.csv",
    "# use a.mrsh",
    "# fucn f(x)",
    "# Title",
    "name, age",
    'Bob, "3',
    "* f(1) = 2",
    "- f(x) throws an error",
    "* f('a) = 1",
    "1. f(*a, k=2) == [1, {",
    "<!--",
    "-->",
    "```",
    "~~~",
    "Some prose with # and `code` = 3",
    "\t* nested(1) raises Err",
]

CHARS = st.sampled_from(list("#*-+1.()[]{}'\"=:,\t \n\r<>!-`~\\funcypes")) | st.characters()


def assert_well_formed(text: str, result: ParseResult) -> None:
    assert result.module is not None or not result.ok
    lines = max(len(text.splitlines()), 1)
    for diagnostic in result.diagnostics:
        assert re.fullmatch(r"M00\d", diagnostic.code)
        assert_span(diagnostic.span, lines)
        assert render(diagnostic, text).startswith("<spec>:")
    if result.module is not None:
        assert_module_spans(result.module, lines)


def assert_span(span: Span, lines: int) -> None:
    assert 1 <= span.line <= span.end_line <= lines
    assert span.column >= 1
    assert span.end_line > span.line or span.end_column > span.column


def assert_module_spans(module: Module, lines: int) -> None:
    for func in module.funcs:
        assert_span(func.span, lines)
        assert_span(func.name_span, lines)
        for example in func.examples:
            assert_span(example.span, lines)
    for typedef in module.types:
        assert_span(typedef.span, lines)


@settings(FUZZ, max_examples=700)
@given(st.text(CHARS, max_size=300))
def test_random_text(text: str) -> None:
    assert_well_formed(text, parse(text))


@settings(FUZZ, max_examples=500)
@given(st.lists(st.sampled_from(SNIPPETS), max_size=25).map("\n".join))
def test_line_soup(text: str) -> None:
    assert_well_formed(text, parse(text))


@st.composite
def mutated_specs(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(lines) - 1)) if lines else 0
        match draw(st.sampled_from(["delete", "duplicate", "swap", "insert"])):
            case "delete" if lines:
                del lines[where]
            case "duplicate" if lines:
                lines.insert(where, lines[where])
            case "swap" if lines:
                other = draw(st.integers(0, len(lines) - 1))
                lines[where], lines[other] = lines[other], lines[where]
            case _:
                line = lines[where] if lines else ""
                at = draw(st.integers(0, len(line)))
                char = draw(CHARS)
                lines[where : where + 1] = [line[:at] + char + line[at:]]
    return "\n".join(lines)


@settings(FUZZ, max_examples=800)
@given(mutated_specs())
def test_mutated_specs(text: str) -> None:
    assert_well_formed(text, parse(text))


# The examples fast path must accept only Python, and see what ast sees.
ARGUMENT = st.lists(
    st.sampled_from(["1", "-2", "0.5", "01", "'a, ('", '"b"', "x", "if", "None", "true", "[]"])
    | st.sampled_from(["[1, 'a']", "P('a', 1)", "{'k': 1}", "{}", "[P(1), {1: 2}]", "*", "k="])
    | st.sampled_from([" ", "\t", "(", ")", "[", "]", "{", "}", ":", "\\", "é", "\x00", "'", "."]),
    min_size=1,
    max_size=2,
).map("".join)
CALL_ENDS = st.sampled_from(["", ")", ") = 1", "))", ") raises X", ", )"])


@settings(FUZZ, max_examples=300)
@given(st.lists(ARGUMENT, max_size=4).map(", ".join), CALL_ENDS)
def test_fast_example_path_agrees_with_ast(inner: str, end: str) -> None:
    text = f"f({inner}{end}"
    simple = examples._keyword_free(examples._fast_patterns()[0].match(text))
    if simple is not None:
        node = ast.parse(simple.group(0), mode="eval").body
        assert isinstance(node, ast.Call)
        assert examples._simple_shape(simple) == examples._call_shape(node)
        scanned = examples._scan_call(text, 1)
        assert scanned is not None and scanned[0] == simple.end()
        assert examples._call_facts(simple.group(0), scanned[1]) == examples._call_shape(node)
    if examples._keyword_free(examples._fast_patterns()[2].fullmatch(inner)):
        ast.parse(inner, mode="eval")


SIGNATURE_NAMES = st.sampled_from(["f", "g_1", "1x", "é", " f", "f "])
PARAMETER = st.lists(
    st.sampled_from(["a", "b c", " ", "\t", "x: int", "= 3", "=", ":", "1", "true", "'x'"])
    | st.sampled_from(["[", "]", "#", "\xa0", "1x", "(", ")", "y:", "= b c"]),
    max_size=4,
).map("".join)
RETURNS = st.sampled_from(["", ":", ": x", ": a b ", " x", ":\tlist of y", ": (%)", ":\xa0z"])


@settings(FUZZ, max_examples=200)
@given(SIGNATURE_NAMES, st.lists(PARAMETER, max_size=4).map(",".join), RETURNS)
def test_fast_signature_path_agrees_with_the_grammar(name: str, params: str, ret: str) -> None:
    where = headings.Where(f"{name}({params}){ret}", 1, 7)
    fast = headings.simple_signature(where)
    if fast is not None:
        assert fast == headings.grammar_signature(where, lambda *args, **kwargs: None)
