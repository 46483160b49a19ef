import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marshalike.language.typemap import annotation, infer_column_type, infer_literal_type

KNOWN = {"Person", "student", "task", "EmployeeSkills", "Persön"}


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("integer", "int"),
        ("int", "int"),
        ("a positive integer", "int"),
        ("string", "str"),
        ("str", "str"),
        ("text", "str"),
        ("boolean flag", "bool"),
        ("ascending boolean flag", "bool"),
        ("float", "float"),
        ("number", "float"),
        ("number of items", "int"),
        ("list of Person", "list[Person]"),
        ("person list", "list[Person]"),
        ("PERSONS", "Person"),
        ("person list ordered by age", "list[Person]"),
        ("list of list of int", "list[list[int]]"),
        ("set of strings", "set[str]"),
        ("string array", "list[str]"),
        ("dict of str to int", "dict[str, int]"),
        ("dict of str -> list of int", "dict[str, list[int]]"),
        ("dictionary with name property", "dict[str, Any]"),
        ("optional string", "str | None"),
        ("a string or None", "str | None"),
        ("a string or a list of strings", "str | list[str]"),
        ("tuple of int and str", "tuple[int, str]"),
        ("tuple of int, str and float", "tuple[int, str, float]"),
        (
            "list of n tuples of words and counts, ordered from greatest to least",
            "list[tuple[str, int]]",
        ),
        ("task dict", "task"),
        ("youngest student", "student"),
        ("EmployeeSkills list as csv formatted string", "str"),
        ("H3 index as a string", "str"),
        ("integer in the set of fibonacci numbers", "int"),
        ("string of location to get the H3 index", "str"),
        ("the current date and time", "datetime.datetime"),
        ("JSON object with connection properties", "dict[str, Any]"),
        ("list of all arguments", "list[Any]"),
        ("list", "list[Any]"),
        ("list[int]", "list[int]"),
        ("int | None", "int | None"),
        ("tuple[int, ...]", "tuple[int, ...]"),
        ("Optional[int]", "int | None"),
        ("list[person]", "list[Person]"),
        ("tuple of", "tuple[Any, ...]"),
        ("list of Persön", "list[Persön]"),
    ],
)
def test_annotation(phrase: str, expected: str) -> None:
    assert annotation(phrase, KNOWN) == expected


@pytest.mark.parametrize(
    "phrase", ["", "user request", "MRR Growth rate (%)", "??", "1 + 2", "x or none", "class"]
)
def test_unrecognised_phrases_are_any(phrase: str) -> None:
    assert annotation(phrase, KNOWN) == "Any"


def test_a_declared_type_that_is_a_keyword_becomes_a_valid_name() -> None:
    assert annotation("list of class", {"class"}) == "list[class_]"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", "+30"], "int"),
        (["1", "2.5", "1e5", ".5"], "float"),
        (["true", "False"], "bool"),
        (["Joe", "20"], "str"),
        (["'red'", "'blue'"], "str"),
        (["8/8/2003"], "str"),
        (["1", ""], "int | None"),
        (["yes", "  "], "str | None"),
        (["", ""], "str | None"),
        ([], "str"),
        (["1", "0"], "int"),
        (["nan", "inf"], "str"),
    ],
)
def test_infer_column_type(values: list[str], expected: str) -> None:
    assert infer_column_type(values) == expected


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (["'a'", "'b'"], "str"),
        (["1", "-2"], "int"),
        (["1", "2.5"], "float"),
        (["True"], "bool"),
        (["'a'", "None"], "str | None"),
        (["None"], "Any"),
        (["'a'", "1"], "Any"),
        (["[1]"], "Any"),
        (["person('Joe')"], "Any"),
        (["1 +"], "Any"),
        ([], "Any"),
    ],
)
def test_infer_literal_type(sources: list[str], expected: str) -> None:
    assert infer_literal_type(sources) == expected


_WORDS = ["list", "of", "tuple", "set", "dict", "to", "and", "or", "as", "optional", "none"]
_WORDS += ["person", "int", "string", ",", "(", ")", "[", "]", "|", "->", "where", "class"]
_WORDS += ["ｃlass", "None", "Any", "...", "1", "x"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_WORDS), max_size=9).map(" ".join)
    | st.lists(st.sampled_from(_WORDS), max_size=9).map("".join)
    | st.text(max_size=20)
)
def test_every_annotation_compiles(phrase: str) -> None:
    found = annotation(phrase, KNOWN | {"class"})
    compile(f"def f(x: {found}) -> {found}: pass", "annotation", "exec")
