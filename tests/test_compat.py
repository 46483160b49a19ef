"""Marsha's own example specs (alantech/marsha) parse without a syntax error.

They are read from ../shared/compat/marsha next to the checkout, never copied here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marshalike.language.diagnostics import Span
from marshalike.language.parse import ParseResult, parse

COMPAT = Path(__file__).resolve().parents[2] / "shared" / "compat" / "marsha"
SPECS = sorted(COMPAT.rglob("*.mrsh")) if COMPAT.is_dir() else []

needs_compat = pytest.mark.skipif(
    not COMPAT.is_dir(), reason=f"Marsha's example specs are not at {COMPAT}"
)


def parsed(relative: str) -> ParseResult:
    path = COMPAT / relative
    return parse(path.read_text(encoding="utf-8"), str(path))


@needs_compat
def test_all_25_marsha_specs_are_found() -> None:
    assert len(SPECS) == 25


@needs_compat
@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(COMPAT)))
def test_marsha_spec_parses_without_syntax_error(path: Path) -> None:
    result = parse(path.read_text(encoding="utf-8"), str(path))
    assert [d for d in result.diagnostics if d.is_error] == []
    assert result.module is not None


@needs_compat
def test_only_lol_gets_a_warning() -> None:
    warned = {p.name for p in SPECS if parsed(str(p.relative_to(COMPAT))).diagnostics}
    assert warned == {"lol.mrsh"}


@needs_compat
def test_data_mangling_types_and_function() -> None:
    module = parsed("data-oriented/data_mangling.mrsh").module
    assert module is not None
    assert [(t.name, t.source) for t in module.types] == [
        ("EmployeesByDepartment", "employees_by_department.csv"),
        ("DepartmentSkills", "department_skills.csv"),
        ("EmployeeSkills", None),
    ]
    skills = module.types[2]
    assert skills.columns == ("name", "skill")
    assert skills.rows[0] == ("Bob", "math")
    (func,) = module.funcs
    assert func.name == "get_employee_skills"
    assert [p.type for p in func.params] == [
        "list of EmployeesByDepartment",
        "list of DepartmentSkills",
    ]
    assert [e.outcome for e in func.examples] == ["raises"] * 2 + ["returns"] * 6


@needs_compat
def test_void_function_and_comment_preamble() -> None:
    void = parsed("data-oriented/void_func_viz.mrsh").module
    assert void is not None
    assert void.funcs[0].returns is None
    query = parsed("sql/query-builder.mrsh").module
    assert query is not None
    (func,) = query.funcs
    assert func.name == "get_most_populated_cities"
    assert func.span.line == 6


@needs_compat
def test_examples_calling_undeclared_functions_keep_their_names() -> None:
    # The checker reports these; the parser only has to locate them.
    module = parsed("web/city_to_h3.mrsh").module
    assert module is not None
    assert [f.name for f in module.funcs] == ["city_to_h3"]
    first = module.funcs[0].examples[0]
    assert (first.func, first.call_span) == ("h3", Span(7, 3, 7, 5))


@needs_compat
def test_fibonacci_prose_formula_is_description_not_an_example() -> None:
    module = parsed("general-purpose/fibonacci.mrsh").module
    assert module is not None
    (func,) = module.funcs
    assert "fibonacci(n) = fibonacci(n - 1) + fibonacci(n - 2)" in func.description
    assert [e.outcome for e in func.examples] == ["returns"] * 3 + ["raises"]
