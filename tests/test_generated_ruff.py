"""Every generated file (module, test file, the command line's support module) passes
`ruff check` and `ruff format --check` with ruff's default settings (`--isolated`, so no
configuration of this repository applies).

The function bodies are hand-written TEST DOUBLES standing in for verified model output,
laid out as ruff lays them out: the compiler keeps a model's code as the model wrote it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from marshalike.codegen.emit import module_source, spec_hash, test_source
from marshalike.codegen.module_main import SUPPORT_FILE, append_main, support_source
from marshalike.language.parse import parse

SPECS = {
    "add": (
        """\
# func add(a: integer, b: integer): integer

Adds two numbers.

* add(1, 2) = 3
* add(-1, 1) = 0
* add( 1,2 ) = 3
* add(100000000000000, 200000000000000) = 100000000000000 + 200000000000000 + 0 + 0 + 0 + 0
""",
        # as a model may write it: single quotes, its own spacing
        {"add": "def add(a: int,b: int) -> int:\n    '''The sum.'''\n    return a+b\n"},
    ),
    "people": (
        """\
# type Person
name, age
Alice, 31

# type Team
title, size, lead_name
core, 3, Ann

# func sort_by_age(list of Person): list of Person

Sorts people, youngest first.

* sort_by_age([]) = []
* sort_by_age([Person("A", 2), Person("B", 1)]) = [Person("B", 1), Person("A", 2)]

# func greet(name: string, punctuation: string = "!", times: integer = 1): string

Greets someone by name.

* greet("Bob") = "Hello, Bob!"
* greet('Bob', '?', 2) = 'Hello, Bob?Hello, Bob?'
* greet(None) raises TypeError
* greet( 'x' ,times=3 ) raises ValueError

# func average_age_of_a_very_long_list_of_people(people: list of Person, \
default_value: number = 0.0, rounding_digits: integer = 2): number

The mean age, or the default for no people.

* average_age_of_a_very_long_list_of_people([]) = 0.0
* average_age_of_a_very_long_list_of_people([]) raises ValueError
* average_age_of_a_very_long_list_of_people([Person("A", 1)]) = throws an error
""",
        {
            "sort_by_age": (
                "def sort_by_age(person_list: list[Person]) -> list[Person]:\n"
                "    return sorted(person_list, key=lambda person: person.age)\n"
            ),
            "greet": (
                'def greet(name: str, punctuation: str = "!", times: int = 1) -> str:\n'
                '    return f"Hello, {name}{punctuation}" * times\n'
            ),
        },
    ),
    "uses_add": (
        """\
# use add.mrsh

# func twice(n: integer): integer

Adds n to itself.

* twice(2) = 4
""",
        # imports of the standard library, a third party and none used (`os`), as a
        # model may write them: the module sorts them into isort's sections
        {
            "twice": (
                "import re\nimport os\nimport numpy as np\n\n"
                "def twice(n: int) -> int:\n"
                '    return add(n, n) + int(np.sign(0)) + len(re.findall("x", ""))\n'
            )
        },
    ),
}
USES = {"uses_add": {"add": ("add",)}}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    for name, (text, bodies) in SPECS.items():
        parsed = parse(text, f"{name}.mrsh")
        assert parsed.module is not None, parsed.diagnostics
        module, hash_ = parsed.module, spec_hash(text)
        uses = USES.get(name)
        source = module_source(module, bodies, spec_name=f"{name}.mrsh", spec_hash=hash_, uses=uses)
        (out / f"{name}.py").write_text(append_main(source, module), encoding="utf-8")
        tests = test_source(module, module_name=name, spec_name=f"{name}.mrsh", spec_hash=hash_)
        (out / f"test_{name}.py").write_text(tests, encoding="utf-8")
    (out / SUPPORT_FILE).write_text(support_source(), encoding="utf-8")
    return out


def ruff(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--isolated", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_imports_are_in_isort_sections_and_unused_ones_left_out(folder: Path) -> None:
    text = (folder / "uses_add.py").read_text(encoding="utf-8")
    sections = "from __future__ import annotations\n\nimport re\n\nimport numpy as np\n\n"
    assert sections + "from add import add\n" in text
    assert "import os" not in text


def test_every_generated_file_is_there(folder: Path) -> None:
    names = sorted(p.name for p in folder.glob("*.py"))
    assert len(names) == 2 * len(SPECS) + 1
    assert SUPPORT_FILE in names


def test_ruff_check_with_default_rules_finds_nothing(folder: Path) -> None:
    done = ruff(folder, "check", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_with_default_settings_changes_nothing(folder: Path) -> None:
    done = ruff(folder, "format", "--check", "--diff")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_long_signature_and_main_block_are_wrapped(folder: Path) -> None:
    text = (folder / "people.py").read_text(encoding="utf-8")
    assert "def average_age_of_a_very_long_list_of_people(\n    people: list[Person],\n" in text
    assert "    _marshalike_main.main(\n        globals(),\n        {\n" in text


def test_the_generated_tests_pass(folder: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_add.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
