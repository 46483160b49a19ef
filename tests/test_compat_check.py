"""The checks over Marsha's own 25 example specs (read in place, never copied here).

Three of them have a real mistake: their examples call a function the file does not
declare. The check must report exactly that, located; the other 22 give no errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marshalike.language.diagnostics import render_all
from marshalike.language.load import load_spec

MARSHA = Path(__file__).resolve().parents[2] / "shared" / "compat" / "marsha"

pytestmark = pytest.mark.skipif(
    not MARSHA.is_dir(), reason=f"Marsha's example specs are not at {MARSHA}"
)

MISTAKES = {
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


def marsha_specs() -> list[str]:
    if not MARSHA.is_dir():
        return []
    return sorted(p.relative_to(MARSHA).as_posix() for p in MARSHA.rglob("*.mrsh"))


def test_all_25_files_are_there() -> None:
    assert len(marsha_specs()) == 25
    assert set(MISTAKES) <= set(marsha_specs())


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_the_three_real_mistakes_are_reported_exactly(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(MARSHA)
    result = load_spec(name)
    errors = [d for d in result.diagnostics if d.is_error]
    assert render_all(errors, {result.path: result.source}) == MISTAKES[name]


@pytest.mark.parametrize("name", [n for n in marsha_specs() if n not in MISTAKES])
def test_the_other_files_give_no_errors(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(MARSHA)
    result = load_spec(name)
    assert result.module is not None
    assert [d for d in result.diagnostics if d.is_error] == []


def test_csv_backed_types_are_read_from_marshas_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(MARSHA)
    result = load_spec("data-oriented/data_mangling.mrsh")
    assert result.module is not None
    employees = result.module.type("EmployeesByDepartment")
    assert employees is not None
    assert employees.columns == ("id", "name", "department", "start_date")
    assert employees.rows[0] == ("1", "Bob", "Accounting", "8/8/2003")
    assert len(employees.rows) == 5
