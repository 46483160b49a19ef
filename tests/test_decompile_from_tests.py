"""Candidate inputs from the project's tests (`--tests DIR`): the calls of a function its
tests make with literal arguments are read with `ast`, run against the existing function
in the sandbox like every other candidate, and what the test expects is never copied."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_decompile import run_cli

from marshalike.decompile.errors import DecompileError
from marshalike.decompile.from_tests import MAX_CALLS, ProjectTests
from marshalike.decompile.module import Aids, decompile_source
from marshalike.decompile.reading import read_module
from marshalike.sandbox.isolation import Limits

LIMITS = Limits(timeout_s=2.0, startup_s=20.0)
BONUS = '''from dataclasses import dataclass


@dataclass
class Card:
    number: int


def bonus(n: int, scale: int = 1) -> int:
    """A bonus for lucky numbers."""
    if (n * 7) % 1000 == 779:
        return scale
    return 0


def card_bonus(card: Card) -> int:
    """The bonus of a card."""
    return bonus(card.number)
'''
TESTS = """import bonus as b
from bonus import bonus, card_bonus, Card
from elsewhere import card_bonus as other_bonus


def test_lucky():
    assert bonus(1397) == 5  # wrong on purpose: the spec must say what the code says
    assert bonus(1397, scale=3) == 3
    assert b.bonus(n=2397) == 1
    assert bonus(x) == 0  # not a literal
    assert bonus(1, 2, 3) == 0  # does not fit the parameters
    assert bonus(*[1]) == 0
    assert card_bonus(Card(397)) == 1
    assert other_bonus(Card(5)) == 0
"""


def function(source: str, name: str):
    return next(f for f in read_module(source, "bonus.py").functions if f.name == name)


@pytest.fixture
def tests_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "tests"
    (folder / "unit").mkdir(parents=True)
    (folder / "unit" / "test_bonus.py").write_text(TESTS, encoding="utf-8")
    (folder / "bonus_test.py").write_text("from bonus import bonus\nbonus(4397)\n", "utf-8")
    (folder / "helpers.py").write_text("from bonus import bonus\nbonus(5397)\n", "utf-8")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "test_x.py").write_text("bonus(6397)\n", "utf-8")
    (folder / "test_broken.py").write_text("def f(:\n", encoding="utf-8")
    return folder


def test_literal_calls_that_fit_are_read_from_every_test_file(tests_folder: Path) -> None:
    tests = ProjectTests.read(tests_folder)
    assert [p.name for p in tests.skipped] == ["test_broken.py"]
    assert tests.calls("bonus", function(BONUS, "bonus"), {"Card"}) == (
        "bonus(4397)",
        "bonus(1397)",
        "bonus(1397, scale=3)",
        "bonus(n=2397)",
    )
    assert tests.calls("bonus", function(BONUS, "card_bonus"), {"Card"}) == (
        "card_bonus(Card(397))",
    )
    # A record the module does not declare is not a literal.
    assert tests.calls("bonus", function(BONUS, "card_bonus"), set()) == ()
    # The calls of a function of another module of the same name are not its calls.
    assert tests.calls("other", function(BONUS, "card_bonus"), {"Card"}) == ()


def test_at_most_so_many_calls_are_taken_per_function(tmp_path: Path) -> None:
    calls = "\n".join(f"bonus({n})" for n in range(MAX_CALLS + 5))
    (tmp_path / "test_many.py").write_text(f"from bonus import bonus\n{calls}\n", "utf-8")
    found = ProjectTests.read(tmp_path).calls("bonus", function(BONUS, "bonus"), set())
    assert len(found) == MAX_CALLS and found[0] == "bonus(0)"


def test_a_tests_folder_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DecompileError) as raised:
        ProjectTests.read(tmp_path / "nowhere")
    assert str(raised.value) == (
        f"{tmp_path / 'nowhere'}: no such folder (--tests names the folder of the project's tests)"
    )


def test_a_tests_file_is_an_error_that_says_it_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "test_bonus.py").write_text("from bonus import bonus\nbonus(3)\n", "utf-8")
    with pytest.raises(DecompileError) as raised:
        ProjectTests.read(tmp_path / "test_bonus.py")
    assert str(raised.value) == (
        f"{tmp_path / 'test_bonus.py'}: is a file, not a folder (--tests names the folder of "
        "the project's tests)"
    )


def test_the_tests_calls_are_measured_on_the_code_not_copied(tests_folder: Path) -> None:
    tests = ProjectTests.read(tests_folder)
    done = decompile_source(BONUS, filename="bonus.py", limits=LIMITS, aids=Aids(tests))
    reports = {f.name: f for f in done.functions}
    assert "; 4 inputs from the tests" in reports["bonus"].line()
    assert "; 1 input from the tests" in reports["card_bonus"].line()
    # Only an input from the tests reaches the lucky branch; the code answers 1 there.
    assert "* bonus(" in done.spec and "= 5" not in done.spec
    assert any(f"* bonus({n}" in done.spec and " = 1" in done.spec for n in (1397, 2397, 4397))
    assert "* card_bonus(Card(397)) = 1" in done.spec
    without = decompile_source(BONUS, filename="bonus.py", limits=LIMITS)
    assert "= 1\n" not in without.spec.split("# func bonus(")[1].split("# func card_bonus")[0]


def test_the_command_refuses_a_tests_folder_that_is_not_there(tmp_path: Path) -> None:
    (tmp_path / "bonus.py").write_text(BONUS, encoding="utf-8")
    done = run_cli("bonus.py", "--tests", "nowhere", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "marshalike: error: nowhere: no such folder (--tests names the folder of the project's "
        "tests)\n"
    )
    assert not (tmp_path / "bonus.mrsh").exists()


def test_the_command_refuses_a_tests_file_saying_it_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "bonus.py").write_text(BONUS, encoding="utf-8")
    (tmp_path / "test_bonus.py").write_text("from bonus import bonus\nbonus(3)\n", "utf-8")
    done = run_cli("bonus.py", "--tests", "test_bonus.py", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "marshalike: error: test_bonus.py: is a file, not a folder (--tests names the folder "
        "of the project's tests)\n"
    )
    assert done.stdout == "" and not (tmp_path / "bonus.mrsh").exists()
