"""The checks over Marsha's own 25 example specs (read in place, never copied here).

Four of them have real mistakes. Three have examples that call a function the file does
not declare; two (one of those among them) build a record of four columns,
`EmployeesByDepartment` read from its CSV file, from two or three values, which no
generated class accepts. The check must report exactly those, located; the other 21 give
no errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marshalike.language.codes import Code
from marshalike.language.diagnostics import Diagnostic, render_all
from marshalike.language.load import load_spec

MARSHA = Path(__file__).resolve().parents[2] / "shared" / "compat" / "marsha"

pytestmark = pytest.mark.skipif(
    not MARSHA.is_dir(), reason=f"Marsha's example specs are not at {MARSHA}"
)

UNKNOWN_CALLS = {
    "data-oriented/data_mangling_complex.mrsh": (
        "data-oriented/data_mangling_complex.mrsh:16:3: error[M012]: 11 examples call unknown "
        "function 'get_employee_skills'\n"
        "    * get_employee_skills() = throws an error\n"
        "      ^^^^^^^^^^^^^^^^^^^\n"
        "  hint: did you mean 'get_eng_skills'?"
    ),
    "general-purpose/external_api.mrsh": (
        "general-purpose/external_api.mrsh:25:3: error[M012]: 6 examples call unknown "
        "function 'get_revenue_growth'\n"
        "    * get_revenue_growth() = throws an error\n"
        "      ^^^^^^^^^^^^^^^^^^\n"
        "  hint: did you mean 'get_mrr_growth_rate'?"
    ),
    "web/city_to_h3.mrsh": (
        "web/city_to_h3.mrsh:7:3: error[M012]: 3 examples call unknown function 'h3'\n"
        "    * h3('Austin, TX', 9) = '894898d92abffff'\n"
        "      ^^\n"
        "  hint: did you mean 'city_to_h3', the function these examples are under?"
    ),
}


# Where an example builds `EmployeesByDepartment` from too few values: line, column, count.
SHORT_RECORDS = {
    "data-oriented/data_mangling.mrsh": [(19, 24, 2), (21, 24, 2), (22, 24, 2), (23, 24, 2)],
    "data-oriented/data_mangling_complex.mrsh": [
        (22, 24, 3),
        (24, 24, 3),
        (25, 24, 3),
        (26, 24, 3),
    ],
}
MISTAKES = set(UNKNOWN_CALLS) | set(SHORT_RECORDS)


@pytest.fixture(autouse=True)
def in_marsha(monkeypatch: pytest.MonkeyPatch) -> None:
    """Marsha's specs name their CSV files relative to their folder's root."""
    monkeypatch.chdir(MARSHA)


def errors_of(name: str) -> tuple[list[Diagnostic], str]:
    result = load_spec(name)
    return [d for d in result.diagnostics if d.is_error], result.source


def marsha_specs() -> list[str]:
    if not MARSHA.is_dir():
        return []
    return sorted(p.relative_to(MARSHA).as_posix() for p in MARSHA.rglob("*.mrsh"))


def test_all_25_files_are_there() -> None:
    assert len(marsha_specs()) == 25
    assert set(MISTAKES) <= set(marsha_specs())


@pytest.mark.parametrize("name", sorted(UNKNOWN_CALLS))
def test_the_unknown_functions_are_reported_exactly(name: str) -> None:
    errors, source = errors_of(name)
    unknown = [d for d in errors if d.code is Code.UNKNOWN_FUNCTION]
    assert render_all(unknown, {name: source}) == UNKNOWN_CALLS[name]


@pytest.mark.parametrize("name", sorted(SHORT_RECORDS))
def test_the_short_records_are_reported_where_they_are_built(name: str) -> None:
    errors, _ = errors_of(name)
    short = [
        (d.span.line, d.span.column, d.message, d.hint)
        for d in errors
        if d.code is Code.ARGUMENTS_MISMATCH
    ]
    assert short == [
        (
            line,
            column,
            f"example passes {count} arguments to type 'EmployeesByDepartment', which takes 4",
            "`EmployeesByDepartment` has the fields id, name, department, start_date, "
            "each required",
        )
        for line, column, count in SHORT_RECORDS[name]
    ]


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_the_files_with_mistakes_have_no_other_errors(name: str) -> None:
    errors, _ = errors_of(name)
    expected = {Code.UNKNOWN_FUNCTION} if name in UNKNOWN_CALLS else set()
    expected |= {Code.ARGUMENTS_MISMATCH} if name in SHORT_RECORDS else set()
    assert {d.code for d in errors} == expected


@pytest.mark.parametrize("name", [n for n in marsha_specs() if n not in MISTAKES])
def test_the_other_files_give_no_errors(name: str) -> None:
    result = load_spec(name)
    assert result.module is not None
    assert [d for d in result.diagnostics if d.is_error] == []


def test_csv_backed_types_are_read_from_marshas_files() -> None:
    result = load_spec("data-oriented/data_mangling.mrsh")
    assert result.module is not None
    employees = result.module.type("EmployeesByDepartment")
    assert employees is not None
    assert employees.columns == ("id", "name", "department", "start_date")
    assert employees.rows[0] == ("1", "Bob", "Accounting", "8/8/2003")
    assert len(employees.rows) == 5
