"""The .mrsh parser: every construct, spans, extensions and syntax-error diagnostics."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from marshalike.language.diagnostics import Span, render
from marshalike.language.edit import add_example
from marshalike.language.examples import normalize
from marshalike.language.headings import Where, grammar_signature, grammar_text, simple_signature
from marshalike.language.load import load_paths
from marshalike.language.parse import ParseResult, document_parser, parse
from marshalike.language.semantics import check
from marshalike.language.spec import Func, Module, Param, TypeDef, Use


def spec(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def module_of(text: str) -> Module:
    result = parse(spec(text), "t.mrsh")
    assert [d for d in result.diagnostics if d.is_error] == []
    assert result.module is not None
    return result.module


def only_func(text: str) -> Func:
    (func,) = module_of(text).funcs
    return func


def rendered(text: str) -> str:
    source = spec(text)
    result = parse(source, "t.mrsh")
    return "\n".join(render(d, source) for d in result.diagnostics)


SORT_BY_AGE = """
# type person
name, age
Joe, 20
Jane, 50

# func sort_by_age(person list, ascending boolean flag): person list ordered by age

This function receives a list of `person` objects and returns them ordered by age.
The default value for the ascending flag is true.

* sort_by_age([person('Joe', 20)]) = [person('Joe', 20)]
* sort_by_age([person('Joe', 20)], false) == [person('Joe', 20)]
* sort_by_age() = throws a no list received error
"""


# --- whole modules -------------------------------------------------------------------------


def test_marsha_spec_builds_the_full_ast() -> None:
    module = module_of(SORT_BY_AGE)
    assert module.path == "t.mrsh"
    assert module.name == "t"
    assert module.uses == ()
    assert module.span == Span(1, 1, 13, 50)
    (person,) = module.types
    assert person == TypeDef(
        name="person",
        columns=("name", "age"),
        rows=(("Joe", "20"), ("Jane", "50")),
        source=None,
        text="# type person\nname, age\nJoe, 20\nJane, 50",
        span=Span(1, 1, 4, 9),
        name_span=Span(1, 8, 1, 14),
        row_spans=(Span(3, 1, 3, 8), Span(4, 1, 4, 9)),
    )
    (func,) = module.funcs
    assert func.name == "sort_by_age"
    assert func.name_span == Span(6, 8, 6, 19)
    assert func.params == (
        Param(None, "person list", None, Span(6, 20, 6, 31)),
        Param(None, "ascending boolean flag", None, Span(6, 33, 6, 55)),
    )
    assert func.returns == "person list ordered by age"
    assert func.description == (
        "This function receives a list of `person` objects and returns them ordered by age.\n"
        "The default value for the ascending flag is true."
    )
    assert func.span == Span(6, 1, 13, 50)
    assert func.text == "\n".join(spec(SORT_BY_AGE).splitlines()[5:13])


def test_examples_of_the_marsha_spec() -> None:
    first, second, third = module_of(SORT_BY_AGE).funcs[0].examples
    assert first.outcome == "returns"
    assert first.call == "sort_by_age([person('Joe', 20)])"
    assert first.expected == "[person('Joe', 20)]"
    assert first.span == Span(11, 1, 11, 57)
    assert first.call_span == Span(11, 3, 11, 14)
    assert (first.func, first.arg_count, first.keywords) == ("sort_by_age", 1, ())
    assert second.call == "sort_by_age([person('Joe', 20)], False)"
    assert second.arg_count == 2
    assert third.outcome == "informal"
    assert third.expected == "throws a no list received error"
    assert third.func == "sort_by_age"
    assert not third.checkable


def test_empty_text_is_an_empty_module() -> None:
    result = parse("", "empty.mrsh")
    assert result == ParseResult(Module("empty.mrsh", (), (), (), Span(1, 1, 1, 1)), ())
    assert result.ok


def test_sections_keep_their_order_and_text_excludes_trailing_blanks() -> None:
    module = module_of(
        """
        # func a(): x

        First.


        # func b(): y
        Second.
        """
    )
    assert [f.name for f in module.funcs] == ["a", "b"]
    assert module.funcs[0].text == "# func a(): x\n\nFirst."
    assert module.funcs[0].span == Span(1, 1, 3, 7)
    assert module.funcs[1].description == "Second."


# --- function headings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "# func f(x): y",
        "## func f(x): y",
        "###### func f(x): y",
        "#func f(x): y",
        "   # func f(x): y",
    ],
)
def test_func_heading_at_any_level(heading: str) -> None:
    func = only_func(heading + "\n\nText.\n")
    assert (func.name, func.returns) == ("f", "y")
    assert func.params[0].type == "x"


def test_void_function_has_no_return() -> None:
    func = only_func("# func plot(list of points)\n\nDraw them.\n")
    assert func.returns is None
    assert func.examples == ()


def test_zero_argument_function() -> None:
    func = only_func("# func now(): the current date and time\n\n* now() = 'x'\n")
    assert func.params == ()
    assert func.examples[0].arg_count == 0


def test_return_type_may_contain_anything() -> None:
    func = only_func("# func g(a, b): MRR Growth rate (%): a, b = 1\n")
    assert func.returns == "MRR Growth rate (%): a, b = 1"
    assert [p.type for p in func.params] == ["a", "b"]


def test_named_parameters_and_defaults() -> None:
    func = only_func(
        "# func f(people: list of person, limit: integer = 3, flag: boolean = true,"
        ' sep: str = ", ", ages: dict[str, int] = {"a": 1}): list\n'
    )
    assert func.params == (
        Param("people", "list of person", None, Span(1, 10, 1, 32)),
        Param("limit", "integer", "3", Span(1, 34, 1, 52)),
        Param("flag", "boolean", "True", Span(1, 54, 1, 74)),
        Param("sep", "str", '", "', Span(1, 76, 1, 91)),
        Param("ages", "dict[str, int]", '{"a": 1}', Span(1, 93, 1, 124)),
    )


def test_bare_type_with_apostrophe_and_brackets() -> None:
    func = only_func("# func f(user's name, list[tuple[str, int]]): x\n")
    assert [p.type for p in func.params] == ["user's name", "list[tuple[str, int]]"]


SIGNATURES = [
    "sort_by_age(person list, ascending boolean flag): person list ordered by age",
    "f()",
    " f( )",
    "g(a,  b c ):  ret  ",
    "k(people: list of P, limit: integer = 3, flag: bool=true): x",
    "k(x=1)",
    "k(a b: int)",
    "k(a: int = b c)",
    "h(x):",
    "k(a:b:c)",
    "f(a,)",
    "f(,)",
    "f(a\x0c): x",
    "f(a):\x0cb",
]


@pytest.mark.parametrize("signature", SIGNATURES)
def test_fast_signature_path_agrees_with_the_grammar(signature: str) -> None:
    where = Where(signature, 3, 7)
    fast = simple_signature(where)
    slow = grammar_signature(where, lambda *args, **kwargs: None)
    if fast is not None:
        assert fast == slow


def test_missing_colon_before_return_is_a_warning() -> None:
    source = "# func facebook(user request) facebook page\n"
    result = parse(source, "lol.mrsh")
    assert result.module is not None
    assert result.module.funcs[0].returns == "facebook page"
    assert [render(d, source) for d in result.diagnostics] == [
        "lol.mrsh:1:31: warning[M008]: missing ':' before the return type\n"
        "    # func facebook(user request) facebook page\n"
        "                                  ^^^^^^^^^^^^^\n"
        "  hint: write '): facebook page'"
    ]


# --- descriptions and what is not a heading ------------------------------------------------


def test_description_keeps_paragraphs_lists_code_spans_and_equals() -> None:
    func = only_func(
        """
        # func roman(string): integer

        In Roman numerals, I = 1, V = 5; see `int("5")`.


        - a list item is description
        * so is `f(x) = 1` in a code span
        1. and a numbered item without a call

        ## Notes
        roman(x) = sum of digits

        * roman('IV') = 4
        """
    )
    assert func.description == (
        'In Roman numerals, I = 1, V = 5; see `int("5")`.\n\n'
        "- a list item is description\n"
        "* so is `f(x) = 1` in a code span\n"
        "1. and a numbered item without a call\n\n"
        "## Notes\n"
        "roman(x) = sum of digits"
    )
    assert [e.call for e in func.examples] == ["roman('IV')"]


def test_hash_inside_prose_code_span_url_or_fence_starts_no_section() -> None:
    module = module_of(
        """
        # func f(): x
        A #tag, a `# type T` span and https://h3geo.org/#docs.
        #hashtag at the start of a line
            # indented four spaces is code
        ```
        # func g(): y
        ```
        * f() = 1
        """
    )
    assert [f.name for f in module.funcs] == ["f"]
    assert module.types == ()
    assert "# func g(): y" in module.funcs[0].description
    assert len(module.funcs[0].examples) == 1


def test_markdown_title_before_the_first_section_is_allowed() -> None:
    module = module_of("# My module\n\nSome words.\n- a list\n\n# func f(): x\n")
    assert [f.name for f in module.funcs] == ["f"]


def test_markdown_heading_after_a_type_starts_ignored_prose() -> None:
    module = module_of("# type P\nname\nBob\n\n## Functions\nSome prose.\n\n# func f(): x\n")
    assert module.types[0].rows == (("Bob",),)
    assert module.types[0].text == "# type P\nname\nBob"
    assert module.funcs[0].description == ""


def test_html_comments_single_and_multi_line_are_ignored() -> None:
    module = module_of(
        """
        <!--- A comment
        # func hidden(): x
        --->
        # func f(): x <!-- trailing -->

        Text <!-- inline --> more.
        <!-- * f() = 2 -->
        * f() = 1
        """
    )
    (func,) = module.funcs
    assert func.returns == "x"
    assert func.description == "Text                 more."
    assert [e.expected for e in func.examples] == ["1"]
    assert func.text.startswith("# func f(): x <!-- trailing -->")


# --- examples ------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["*", "-", "+", "1.", "12)"])
def test_example_list_markers(marker: str) -> None:
    func = only_func(f"# func f(integer): integer\n{marker} f(1) = 2\n")
    (example,) = func.examples
    assert (example.call, example.expected) == ("f(1)", "2")
    assert example.span == Span(2, 1, 2, len(marker) + 10)
    assert example.call_span == Span(2, len(marker) + 2, 2, len(marker) + 3)


EXAMPLE_FORMS = [
    ("f(x) = y", "returns", "f(x)", "y", None),
    ("f(x) == [1, 'a=b']", "returns", "f(x)", "[1, 'a=b']", None),
    ("f(x) = throws an error", "raises", "f(x)", None, "Exception"),
    ("f(x) throws an error", "raises", "f(x)", None, "Exception"),
    ("f(x) raises an exception", "raises", "f(x)", None, "Exception"),
    ("f(x) throws an Error.", "raises", "f(x)", None, "Exception"),
    ("f(x) = raises ValueError", "raises", "f(x)", None, "ValueError"),
    ("f(x) raises json.JSONDecodeError", "raises", "f(x)", None, "json.JSONDecodeError"),
    ("f(true, null) = {'a': false, 'b': NaN}", "returns", "f(True, None)", None, None),
    ("f('true') = 'null'", "returns", "f('true')", "'null'", None),
    ("f(x) = throws a no list received error", "informal", "f(x)", None, None),
    ("f(x) raises an error with the message: 'no'", "informal", "f(x)", None, None),
    ("f('x) = 1", "informal", None, None, None),
    ("f(x) = My facebook homepage", "informal", "f(x)", "My facebook homepage", None),
]


@pytest.mark.parametrize(("body", "outcome", "call", "expected", "exception"), EXAMPLE_FORMS)
def test_example_forms(
    body: str, outcome: str, call: str | None, expected: str | None, exception: str | None
) -> None:
    (example,) = only_func(f"# func f(x): y\n* {body}\n").examples
    assert example.text == body
    assert (example.outcome, example.call, example.exception) == (outcome, call, exception)
    if expected is not None:
        assert example.expected == expected
    assert example.func == "f"


def test_json_literals_become_python_outside_strings() -> None:
    (example,) = only_func(
        "# func f(x): y\n* f(true) = {'a': false, 'b': NaN, 'c': 'NaN'}\n"
    ).examples
    assert example.expected == "{'a': False, 'b': float('nan'), 'c': 'NaN'}"


@pytest.mark.parametrize(
    ("source", "python"),
    [
        ("[true, false, null]", "[True, False, None]"),
        ("-Infinity", "-float('inf')"),
        ("NaN", "float('nan')"),
        ("obj.null + nullable + true_", "obj.null + nullable + true_"),
        ("\"true\" + 'null' + f'{NaN}'", "\"true\" + 'null' + f'{NaN}'"),
        ("'it\\'s true'", "'it\\'s true'"),
    ],
)
def test_normalize_rewrites_json_words_outside_strings_only(source: str, python: str) -> None:
    assert normalize(source) == python


def test_arg_count_keywords_and_star_args() -> None:
    examples = only_func(
        "# func f(x): y\n* f(1, 2, key=3, other=[4]) = 0\n* f(*xs) = 0\n* obj.f(1) = 0\n"
    ).examples
    assert [(e.func, e.arg_count, e.keywords) for e in examples] == [
        ("f", 2, ("key", "other")),
        ("f", None, ()),
        (None, 1, ()),
    ]


def test_bullet_starting_with_a_call_but_saying_nothing_is_description() -> None:
    func = only_func("# func f(x): y\n* f(x) is computed lazily\n* f(1) = 2\n")
    assert func.description == "* f(x) is computed lazily"
    assert len(func.examples) == 1


# --- types and uses ------------------------------------------------------------------------


def test_type_rows_with_tabs_quotes_and_comments() -> None:
    (person,) = module_of(
        """
        # type Person
        name,\tskill, note
        Bob,\tmath, "likes a, b"
        <!-- a comment row -->

        'Ann',\tcoding, ''
        """
    ).types
    assert person.columns == ("name", "skill", "note")
    assert person.rows == (("Bob", "math", "likes a, b"), ("'Ann'", "coding", "''"))
    assert person.row_spans == (Span(3, 1, 3, 24), Span(6, 1, 6, 18))


def test_tab_separated_rows() -> None:
    (t,) = module_of("# type P\nname\tage\nBob\t3\n").types
    assert (t.columns, t.rows) == (("name", "age"), (("Bob", "3"),))


def test_file_backed_type_sets_source_and_leaves_columns_empty() -> None:
    (t,) = module_of("## type Department departments.csv\n\n# func f(): x\n").types
    assert t == TypeDef(
        "Department",
        (),
        (),
        "departments.csv",
        "## type Department departments.csv",
        Span(1, 1, 1, 35),
        Span(1, 9, 1, 19),
    )


def test_use_lines() -> None:
    module = module_of("# use helpers.mrsh\n# use ../lib/dates.mrsh\n\n# func f(): x\n")
    assert module.uses == (
        Use("helpers.mrsh", Span(1, 1, 1, 19)),
        Use("../lib/dates.mrsh", Span(2, 1, 2, 24)),
    )


def test_crlf_line_endings() -> None:
    module = module_of("# type P\r\nname, age\r\nBob, 3\r\n\r\n# func f(x): y\r\n* f(1) = 2\r\n")
    assert module.types[0].rows == (("Bob", "3"),)
    assert module.funcs[0].examples[0].expected == "2"


# --- syntax errors, asserted in full ---------------------------------------------------------

SYNTAX_ERRORS = {
    "misspelt func": (
        "# fucn f(x): y\n\n* f(1) = 2\n",
        "t.mrsh:1:3: error[M004]: unknown section '# fucn'\n"
        "    # fucn f(x): y\n"
        "      ^^^^\n"
        "  hint: did you mean '# func'?",
    ),
    "def instead of func": (
        "## def f(x): y\n",
        "t.mrsh:1:4: error[M004]: unknown section '## def'\n"
        "    ## def f(x): y\n"
        "       ^^^\n"
        "  hint: did you mean '## func'?",
    ),
    "capitalised type": (
        "# Type Person\nname\n",
        "t.mrsh:1:3: error[M004]: unknown section '# Type'\n"
        "    # Type Person\n"
        "      ^^^^\n"
        "  hint: did you mean '# type'?",
    ),
    "no function name": (
        "# func (x): y\n",
        "t.mrsh:1:8: error[M001]: missing function name before '('\n"
        "    # func (x): y\n"
        "           ^\n"
        "  hint: write '# func NAME(PARAMS): RETURN'",
    ),
    "keyword glued to the parameters": (
        "# func(x): y\n",
        "t.mrsh:1:7: error[M001]: missing function name before '('\n"
        "    # func(x): y\n"
        "          ^\n"
        "  hint: write '# func NAME(PARAMS): RETURN'",
    ),
    "bad function name": (
        "# func 2fast(x): y\n",
        "t.mrsh:1:8: error[M001]: '2fast' is not a valid function name\n"
        "    # func 2fast(x): y\n"
        "           ^^^^^\n"
        "  hint: use letters, digits and '_'",
    ),
    "bare func": (
        "# func\n",
        "t.mrsh:1:7: error[M001]: missing function name after '# func'\n"
        "    # func\n"
        "          ^\n"
        "  hint: write '# func NAME(PARAMS): RETURN'",
    ),
    "no parentheses": (
        "# func f: y\n",
        "t.mrsh:1:9: error[M001]: missing '(' after the function name\n"
        "    # func f: y\n"
        "            ^\n"
        "  hint: write '# func NAME(PARAMS): RETURN'; use '()' for no parameters",
    ),
    "unclosed parameters": (
        "# func f(x, y: y\n",
        "t.mrsh:1:17: error[M001]: unclosed '(' in the signature\n"
        "    # func f(x, y: y\n"
        "                    ^\n"
        "  hint: close the parameter list with ')'",
    ),
    "colon without return": (
        "# func f(x):\n",
        "t.mrsh:1:13: error[M001]: missing return type after ':'\n"
        "    # func f(x):\n"
        "                ^\n"
        "  hint: drop the ':' for a function that returns nothing",
    ),
    "two-word parameter name": (
        "# func f(a b: int): y\n",
        "t.mrsh:1:13: error[M001]: unexpected ':' in the parameters\n"
        "    # func f(a b: int): y\n"
        "                ^\n"
        "  hint: a parameter name is one word: 'name: type'",
    ),
    "second colon in a parameter": (
        "# func triple(n: int: int\n",
        "t.mrsh:1:21: error[M001]: unexpected ':' in the parameters\n"
        "    # func triple(n: int: int\n"
        "                        ^\n"
        "  hint: close the parameter list with ')' before ': RETURN'",
    ),
    "missing default": (
        "# func scale(x: float, factor: float = ): float\n",
        "t.mrsh:1:40: error[M001]: missing default value after '='\n"
        "    # func scale(x: float, factor: float = ): float\n"
        "                                           ^\n"
        "  hint: write a Python literal after '=', or drop it",
    ),
    "parameter name not an identifier": (
        "# func f(1x: int): y\n",
        "t.mrsh:1:10: error[M001]: parameter name '1x' is not a Python identifier\n"
        "    # func f(1x: int): y\n"
        "             ^^^^^^^\n"
        "  hint: write 'name: type', or just the type",
    ),
    "default not python": (
        "# func f(x: int = 1 2): y\n",
        "t.mrsh:1:10: error[M001]: default value '1 2' is not a Python expression\n"
        "    # func f(x: int = 1 2): y\n"
        "             ^^^^^^^^^^^^\n"
        "  hint: write a Python literal, e.g. 'flag: boolean = True'",
    ),
    "type without name": (
        "# type\nname\n",
        "t.mrsh:1:7: error[M002]: missing type name after '# type'\n"
        "    # type\n"
        "          ^\n"
        "  hint: write '# type NAME' followed by CSV lines, or '# type NAME file.csv'",
    ),
    "type name not an identifier": (
        "# type my-type\nname\n",
        "t.mrsh:1:8: error[M002]: 'my-type' is not a valid type name after '# type'\n"
        "    # type my-type\n"
        "           ^^^^^^^\n"
        "  hint: write '# type NAME' followed by CSV lines, or '# type NAME file.csv'",
    ),
    "words after type name": (
        "# type P some words\nname\n",
        "t.mrsh:1:10: error[M002]: unexpected 'some words' after the type name\n"
        "    # type P some words\n"
        "             ^^^^^^^^^^\n"
        "  hint: only a CSV file name may follow: '# type NAME file.csv'",
    ),
    "use without .mrsh": (
        "# use other\n",
        "t.mrsh:1:7: error[M003]: '# use' takes one .mrsh file name\n"
        "    # use other\n"
        "          ^^^^^\n"
        "  hint: write '# use other.mrsh'",
    ),
    "use without path": (
        "# use\n",
        "t.mrsh:1:6: error[M003]: '# use' takes one .mrsh file name\n"
        "    # use\n"
        "         ^\n"
        "  hint: write '# use other.mrsh'",
    ),
    "example before any function": (
        "# Title\n\n* f(1) = 2\n\n# func f(x): y\n",
        "t.mrsh:3:1: error[M005]: example before any '# func' heading\n"
        "    * f(1) = 2\n"
        "    ^^^^^^^^^^\n"
        "  hint: put examples under the function they test",
    ),
    "example inside a type": (
        "# type P\nname, age\n  * f(1) = 2\n",
        "t.mrsh:3:3: error[M005]: only CSV lines may follow '# type NAME'\n"
        "      * f(1) = 2\n"
        "      ^^^^^^^^^^\n"
        "  hint: start a '# func' section for prose",
    ),
    "rows after a file-backed type": (
        "# type P p.csv\nname, age\n",
        "t.mrsh:2:1: error[M005]: a type read from a CSV file takes no lines of its own\n"
        "    name, age\n"
        "    ^^^^^^^^^\n"
        "  hint: put the rows in the file, or drop the file name",
    ),
    "example under a title between sections": (
        "# use a.mrsh\n## Examples\n* f(1) = 2\n",
        "t.mrsh:3:1: error[M005]: example outside any function\n"
        "    * f(1) = 2\n"
        "    ^^^^^^^^^^\n"
        "  hint: put examples under the function they test",
    ),
    "prose after use": (
        "# use a.mrsh\nsome text\n",
        "t.mrsh:2:1: error[M005]: '# use' takes no lines of its own\n"
        "    some text\n"
        "    ^^^^^^^^^\n"
        "  hint: put prose under a '# func' heading",
    ),
    "unterminated csv quote": (
        '# type P\nname, age\n"Bob, 3\n',
        "t.mrsh:3:1: error[M006]: unterminated quoted field in CSV row\n"
        '    "Bob, 3\n'
        "    ^\n"
        "  hint: close the quote, or write the field without the '\"'",
    ),
    "unclosed comment": (
        "# func f(): x\ntext <!-- hi\n\n# func g(): x\n",
        "t.mrsh:2:6: error[M007]: unclosed HTML comment\n"
        "    text <!-- hi\n"
        "         ^^^^\n"
        "  hint: close it with '-->'",
    ),
    "unclosed code block": (
        "# func f(): x\n\n~~~~\n# not a heading\n",
        "t.mrsh:3:1: error[M007]: unclosed code block\n"
        "    ~~~~\n"
        "    ^^^^\n"
        "  hint: close it with a line of ~~~~",
    ),
    "type without header": (
        "# type P\n\n# func f(): x\n",
        "t.mrsh:1:8: error[M009]: type 'P' has no CSV header\n"
        "    # type P\n"
        "           ^\n"
        "  hint: add a header line such as 'name, age' and sample rows, "
        "or read them from a file: '# type P file.csv'",
    ),
}


@pytest.mark.parametrize("name", list(SYNTAX_ERRORS))
def test_syntax_error(name: str) -> None:
    source, expected = SYNTAX_ERRORS[name]
    result = parse(source, "t.mrsh")
    assert result.module is None
    assert "\n".join(render(d, source) for d in result.diagnostics) == expected


def test_errors_are_collected_across_sections() -> None:
    source = "# fucn a(x): y\n* a(1) = 2\n# func b(: y\n# type 3\n# func ok(): x\n* ok() = 1\n"
    result = parse(source, "t.mrsh")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [
        ("M004", 1),
        ("M001", 3),
        ("M002", 4),
    ]
    assert result.module is None


def test_misspelt_section_swallows_its_body() -> None:
    # The examples under a misspelt heading are not reported again as misplaced.
    assert rendered("# tpye person\nname, age\n* f(1) = 2\n").count("error[") == 1


def test_title_that_does_not_look_like_a_section_is_not_a_typo() -> None:
    text = "# The end\n\n# Functions\n# type-safe sorting\n\n# func f(): x\n"
    assert module_of(text).funcs[0].name == "f"


def test_byte_order_mark_is_ignored() -> None:
    """Editors show no byte-order mark: it is no column, as it is in none of theirs."""
    module = module_of("\ufeff# func f(x): y\n* f(1) = 2\n")
    assert module.funcs[0].name_span == Span(1, 8, 1, 9)


# --- nesting past what the type reader follows ----------------------------------------------

DEEP = 2_000


@pytest.mark.parametrize(
    ("kind", "typed", "column"),
    [
        ("parameter", f"{'list of ' * DEEP}integer", 10),
        ("parameter", f"x: {'list[' * DEEP}int{']' * DEEP}", 10),
        ("parameter", " or ".join(["integer"] * DEEP), 10),
        ("return", f"{'list of ' * DEEP}integer", 20),
    ],
)
def test_a_type_nested_thousands_deep_is_a_located_error(
    kind: str, typed: str, column: int
) -> None:
    heading = f"f(integer): {typed}" if kind == "return" else f"f({typed}): integer"
    result = parse(f"# func {heading}\n\nReturn 1.\n\n* f(1) = 1\n", "t.mrsh")
    assert result.module is None
    (found,) = result.diagnostics
    assert (found.code, found.span.line, found.span.column) == ("M001", 1, column)
    shown = typed.split(": ", 1)[-1][:37]
    assert found.message == f"{kind} type '{shown}...' nests more than 64 levels deep"
    assert found.hint == "name an inner part with its own `# type`"


def test_a_type_nested_64_deep_still_parses() -> None:
    func = only_func(f"# func f({'list of ' * 63}integer): integer\n\nReturn 1.\n")
    assert func.params[0].type.count("list of") == 63


# --- the grammar files ---------------------------------------------------------------------


def test_grammar_is_read_from_the_repository_in_an_editable_install() -> None:
    repo_grammar = Path(__file__).resolve().parents[1] / "grammar" / "mrsh.lark"
    assert grammar_text("mrsh.lark") == repo_grammar.read_text(encoding="utf-8")
    assert document_parser() is document_parser()


def test_no_grammar_is_built_at_import_time() -> None:
    code = (
        "import marshalike.language.parse as p, marshalike.language.headings as h;"
        "print(p.document_parser.cache_info().currsize, h.signature_parser.cache_info().currsize)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "0 0\n")


def test_the_language_reference_example_parses() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text("utf-8")
    example = docs.split("```md\n", 1)[1].split("```", 1)[0]
    module = module_of(example)
    assert [(t.name, t.columns, t.source) for t in module.types] == [
        ("Person", ("name", "age"), None)
    ]
    (func,) = module.funcs
    assert func.params[1] == Param("ascending", "boolean", "True", Span(10, 44, 10, 69))
    assert [(e.outcome, e.exception) for e in func.examples] == [
        ("returns", None),
        ("returns", None),
        ("returns", None),
        ("raises", "TypeError"),
        ("raises", "Exception"),
    ]


def test_small_specs_do_not_pay_for_the_regex_fast_path() -> None:
    import subprocess
    import sys

    code = (
        "from marshalike.language.parse import parse\n"
        "from marshalike.language import examples\n"
        "parse('# func f(x): y\\n\\nDo.\\n\\n* f(1) = 2\\n')\n"
        "print(examples._fast_patterns.cache_info().currsize)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "0\n"


# --- where lines end ------------------------------------------------------------------------

# Characters `str.splitlines` splits at that editors (and the language server protocol) do
# not: inside a spec they are characters of their line.
OTHER_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", OTHER_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_line_ends_only_at_a_newline_or_carriage_return(char: str) -> None:
    """An example with one of these in it stays one line (an informal example, warned
    about, not two), and every later line keeps the number an editor gives it."""
    source = (
        "# func f(n: int): int\n\nTwice `n`.\n\n"
        f"* f(1) = 2{char}* f(2) = 4\n* f(3) = 6\n* f(0) = 0\n* g(0) = 0\n"
    )
    result = parse(source, "t.mrsh")
    assert result.module is not None
    [func] = result.module.funcs
    assert [e.span.line for e in func.examples] == [5, 6, 7, 8]
    assert func.examples[0].outcome == "informal"
    assert func.examples[0].text == f"f(1) = 2{char}* f(2) = 4"
    assert func.span.end_line == 8
    [unknown] = [d for d in check(result.module) if d.code == "M012"]
    assert render(unknown, source).split("\n")[:2] == [
        "t.mrsh:8:3: error[M012]: example calls unknown function 'g'",
        "    * g(0) = 0",
    ]


def test_lines_end_at_crlf_and_at_a_lone_carriage_return() -> None:
    source = "# func f(n: int): int\r\n\r\nTwice `n`.\r* f(1) = 2\r\n* f(0) = 0\r* f(3) = 6\n"
    func = parse(source, "t.mrsh").module.funcs[0]  # type: ignore[union-attr]
    assert [e.span.line for e in func.examples] == [4, 5, 6]
    assert [e.text for e in func.examples] == ["f(1) = 2", "f(0) = 0", "f(3) = 6"]


def test_an_added_example_lands_after_the_last_one_past_a_form_feed() -> None:
    source = "# func f(n: int): int\n\nTwice\x0c`n`.\n\n* f(1) = 2\n\n# func g(): int\n\nOne.\n"
    assert add_example(source, "f", "f(2)", "4") == (
        "# func f(n: int): int\n\nTwice\x0c`n`.\n\n* f(1) = 2\n* f(2) = 4\n\n"
        "# func g(): int\n\nOne.\n"
    )


def test_a_bad_byte_is_located_on_the_line_the_parser_counts(tmp_path: Path) -> None:
    """A lone carriage return ends a line for the parser and the editor, so it does for
    the first byte that is not UTF-8 too; the column counts characters, as the caret does."""
    spec = tmp_path / "latin.mrsh"
    spec.write_bytes("# func f(): int\rGr\u00fc".encode() + b"\xdf\n")
    [loaded] = load_paths([spec])
    [found] = loaded.diagnostics
    assert (found.code, found.span.line, found.span.column) == ("M030", 2, 4)


def test_a_raised_name_is_read_as_python_reads_names() -> None:
    """`ＶalueError` (a fullwidth V) is `ValueError` to Python: the test of it must check
    for ValueError, not accept any exception."""
    source = "# func f(integer): integer\n\nRaise.\n\n* f(1) raises \uff36alueError\n"
    module = parse(source).module
    assert module is not None
    assert [e.exception for e in module.funcs[0].examples] == ["ValueError"]
