"""Decompiling Python into specs: type phrases that read back as the same annotation,
examples measured on the existing code in the sandbox, refusals with reasons, and a round
trip: the spec parses clean and every example holds for the original module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from marshalike.decompile.examples import MAX_EXAMPLES, MIN_EXAMPLES
from marshalike.decompile.module import (
    DecompileError,
    decompile_files,
    decompile_source,
    module_path_problem,
)
from marshalike.decompile.phrases import canonical, phrase_of
from marshalike.decompile.reading import python_text
from marshalike.decompile.roundtrip import round_trip
from marshalike.decompile.writing import prose
from marshalike.language.load import load_spec, load_text
from marshalike.language.parse import parse
from marshalike.language.semantics import check
from marshalike.language.typemap import _BARE, _CONTAINERS, _SCALARS, annotation
from marshalike.sandbox.isolation import Limits

LIMITS = Limits(timeout_s=2.0, startup_s=20.0)
TYPES = {"Person"}
# The phrases of docs/language.md's table, and compositions of them.
TABLE = [
    "a positive integer", "true or false", "date and time", "json object", "Person",
    "persons", "list of Person", "Person list", "array of integer", "sequence of string",
    "set of integer", "tuple of integer and string", "tuple of integer, string",
    "dict of string to integer", "mapping of string to number", "dictionary of string and Person",
    "optional integer", "string or None", "integer or string", "H3 index as a string",
    "list[int]", "dict[str, Person]", "Person | None", "list of list of integer",
    "dict of string to list of Person", "optional list of tuple of integer and boolean",
    "string tuple", "tuple[list[int], ...]", "set of tuple of integer and integer",
]  # fmt: skip
KNOWN_PHRASES = sorted({*_SCALARS, *_CONTAINERS, *_BARE, *TABLE})

MODULE = '''"""Helpers for people."""
from dataclasses import dataclass
from typing import List, Optional
import random


@dataclass
class Person:
    name: str
    age: int


def clamp(n: int, low: int = 0, high: int = 10) -> int:
    """Clamp n into [low, high].

    >>> clamp(15)
    10
    """
    if n < low:
        return low
    if n > high:
        return high
    return n


def oldest(people: List[Person]) -> Optional[Person]:
    if not people:
        return None
    return max(people, key=lambda p: p.age)


def greet(p: Person, polite: bool = True) -> str:
    if p.age >= 18 and polite:
        return "Dear " + p.name
    return "Hi " + p.name


def parse_age(text: str) -> int:
    n = int(text)
    if n < 0:
        raise ValueError("negative")
    return n


def roll() -> int:
    return random.randint(1, 6)


def count_up(n: int):
    for i in range(n):
        yield i


class Counter:
    def bump(self) -> int:
        return 1
'''


@pytest.mark.parametrize("phrase", KNOWN_PHRASES)
def test_every_phrase_the_mapper_knows_reads_back_as_the_same_annotation(phrase: str) -> None:
    first = annotation(phrase, TYPES)
    tree = ast.parse(first, mode="eval").body
    said = phrase_of(canonical(tree, TYPES), TYPES)
    assert said.exact, (phrase, first, said)
    assert annotation(said.text, TYPES) == first, (phrase, first, said.text)


@pytest.mark.parametrize(
    ("python", "english"),
    [
        ("List[int]", "list of integer"),
        ("Optional[Dict[str, List[float]]]", "optional dict of string to list of number"),
        ("Tuple[int, str]", "tuple of integer and string"),
        ("typing.Sequence[Person]", "list of Person"),
        ("Union[int, str]", "integer or string"),
        ("'Person'", "Person"),
        ("dict", "dict"),
        ("Callable[[int], int]", "any"),
    ],
)
def test_python_annotations_become_english(python: str, english: str) -> None:
    tree = ast.parse(python, mode="eval").body
    assert phrase_of(canonical(tree, TYPES), TYPES).text == english


def decompiled(source: str = MODULE, **options: object):
    return decompile_source(source, filename="people.py", limits=LIMITS, **options)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory):
    done = decompiled()
    folder = tmp_path_factory.mktemp("people")
    (folder / "people.mrsh").write_text(done.spec, encoding="utf-8")
    (folder / "people.py").write_text(MODULE, encoding="utf-8")
    return done, folder


def test_the_spec_parses_clean_and_every_example_holds_for_the_original(people) -> None:
    done, folder = people
    loaded = load_spec(folder / "people.mrsh")
    assert [d for d in loaded.diagnostics if d.is_error] == []
    module = loaded.module
    assert module is not None
    assert [f.name for f in module.funcs] == ["clamp", "oldest", "greet", "parse_age"]
    assert [t.name for t in module.types] == ["Person"]
    checked = round_trip(done.spec, MODULE, "people.py", LIMITS)
    assert checked.ok, checked
    assert checked.total == sum(f.examples for f in done.functions) > 0


def test_headings_keep_names_defaults_and_types(people) -> None:
    done, _ = people
    assert "# func clamp(n: integer, low: integer = 0, high: integer = 10): integer" in done.spec
    assert "# func oldest(people: list of Person): optional Person" in done.spec
    assert "# func greet(p: Person, polite: boolean = True): string" in done.spec
    assert "# type Person\nname, age\nhello world, 3\n" in done.spec


def test_each_function_gets_three_to_six_examples_and_a_score(people) -> None:
    done, _ = people
    kept = [f for f in done.functions if not f.refused]
    assert len(kept) == 4
    for report in kept:
        assert MIN_EXAMPLES <= report.examples <= MAX_EXAMPLES, report
        assert report.measured is not None and report.measured.strength.total > 0
        assert "examples pin down" in report.line()
    greet = next(f for f in kept if f.name == "greet")
    # The examples reach both sides of `p.age >= 18`, a constant of the code.
    assert "Dear" in done.spec and "Hi " in done.spec
    assert greet.measured is not None and greet.measured.strength.killed >= 8


def test_the_docstring_is_the_description_without_its_doctests(people) -> None:
    done, _ = people
    assert "Clamp n into [low, high]." in done.spec
    assert ">>>" not in done.spec
    assert "no docstring: say here what `oldest` does" in done.spec


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("roll", "depends on randomness"),
        ("count_up", "a generator"),
        ("Counter.bump", "a method of class Counter"),
    ],
)
def test_what_cannot_be_a_spec_is_prose_for_a_human_with_a_reason(
    people, name: str, why: str
) -> None:
    done, _ = people
    [report] = [f for f in done.functions if f.name == name]
    assert why in report.refused and report.line().startswith(f"{name}: not decompiled: ")
    head, _, _ = done.spec.partition("# type Person")
    assert f"### `{name}`" in head and why in head
    assert f"# func {name.split('.')[-1]}(" not in done.spec


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("    with open('x.txt') as f:\n        return f.read()\n", "does I/O (`open`)"),
        ("    print(n)\n    return n\n", "does I/O (`print`)"),
        ("    return helper(n)\n\n\ndef helper(n: int) -> int:\n    return time.time()\n",
         "depends on the time (`time`) (through `helper`)"),
        ("    return datetime.now().year + n\n", "depends on the time (`datetime.datetime.now`)"),
        ("    return os.getpid()\n", "does I/O (`os`)"),
        ("    return hash(str(n))\n", "answered `f(3)` differently on two runs"),
        ("    return object()\n", "no answer is a value an example can write"),
    ],
)  # fmt: skip
def test_refusals_by_what_the_code_uses_and_by_running_it_twice(body: str, why: str) -> None:
    source = (
        "import os\nimport time\nfrom datetime import datetime\n\n\ndef f(n: int) -> int:\n" + body
    )
    done = decompiled(source, functions=["f"])
    [report] = done.functions
    assert why in report.refused
    assert "### `f`" in done.spec


def test_calls_the_docstring_prose_writes_are_inputs_and_their_claims_are_not() -> None:
    """No annotation and no doctest: the calls the prose writes are the inputs, run on the
    code, whatever the prose says they return."""
    source = (
        "def count_even(nums):\n"
        '    """Count the even numbers. For example:\n'
        "    count_even([1, 2, 4]) -> 99\n"
        '    count_even([]) should be 0, and count_even([3]) is 0."""\n'
        "    return sum(1 for n in nums if n % 2 == 0)\n"
    )
    done = decompile_source(source, filename="evens.py", limits=Limits(timeout_s=5))
    assert "* count_even([1, 2, 4]) = 2" in done.spec
    bullets = [line for line in done.spec.splitlines() if line.startswith("* ")]
    assert "* count_even([]) = 0" in bullets and not any("99" in line for line in bullets)
    assert round_trip(done.spec, source, "evens.py", Limits(timeout_s=5)).ok


def test_inputs_the_docstring_gives_by_parameter_name_are_run() -> None:
    source = (
        "def top(arr, k):\n"
        '    """The k largest.\n\n'
        "    Example 1:\n"
        "        Input: arr = [-3, -4, 5], k = 2\n"
        "        Output: [5, -3] (never read)\n"
        '    For arr = [1, 2], k = 1 the output should be [2]."""\n'
        "    return sorted(arr, reverse=True)[:k]\n"
        "\n\n"
        "def square(n):\n"
        '    """Example:\n    Input: 3\n    Output: 9"""\n'
        "    return n * n\n"
    )
    done = decompile_source(source, filename="tops.py", limits=Limits(timeout_s=5))
    bullets = [line for line in done.spec.splitlines() if line.startswith("* ")]
    assert "* top([-3, -4, 5], 2) = [5, -3]" in bullets
    assert "* top([1, 2], 1) = [2]" in bullets
    assert "* square(3) = 9" in bullets


def test_a_length_the_code_compares_with_gets_text_and_lists_on_both_sides_of_it() -> None:
    """`len(word) > 5` is a threshold as `n > 5` is: without words of 5 and 6 letters the
    examples let `len(word) > 3` pass."""
    source = (
        "def is_long(word: str) -> bool:\n"
        '    """Whether the word is long."""\n'
        "    return len(word) > 5\n"
        "\n\n"
        "def crowded(names: list[int]) -> bool:\n"
        '    """Whether the room is crowded."""\n'
        "    return len(names) >= 3\n"
    )
    done = decompile_source(source, filename="sizes.py", limits=LIMITS)
    bullets = [line for line in done.spec.splitlines() if line.startswith("* ")]
    assert "* is_long('abcde') = False" in bullets and "* is_long('abcdef') = True" in bullets
    assert "* crowded([3, 3]) = False" in bullets and "* crowded([3, 3, 3]) = True" in bullets
    lines = [f.line() for f in done.functions]
    assert lines[0].startswith("is_long: 3 examples, examples pin down 4/4 variants"), lines


def test_prose_that_looks_like_structure_is_escaped() -> None:
    doc = "# Not a section\n* f(1) = 2\n<!-- open\n```\ncode\n>>> f(1)\n1\n\nafter"
    text = f"# func f(x: integer): integer\n\n{prose(doc)}\n\n* f(1) = 1\n"
    result = parse(text, "m.mrsh")
    assert result.diagnostics == ()
    assert result.module is not None
    [func] = result.module.funcs
    assert len(func.examples) == 1 and "Not a section" in func.description


def test_a_module_that_is_not_python_is_one_line_naming_file_and_line() -> None:
    with pytest.raises(DecompileError, match=r"^bad\.py:2: not Python"):
        decompile_source("x = 1\ndef f(:\n", filename="bad.py")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marshalike", "decompile", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_writes_a_spec_and_reports_per_function(tmp_path: Path) -> None:
    (tmp_path / "people.py").write_text(MODULE, encoding="utf-8")
    done = run_cli("people.py", "--out", "specs", "--functions", "clamp,roll", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = (tmp_path / "specs" / "people.mrsh").read_text(encoding="utf-8")
    assert "# func clamp(" in spec and "# func greet(" not in spec
    assert "clamp: " in done.stdout and "examples pin down" in done.stdout
    assert "roll: not decompiled: depends on randomness" in done.stdout
    again = run_cli("people.py", "--out", "specs", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr == (
        "marshalike: error: specs/people.mrsh: already there; --force overwrites it\n"
    )


def test_the_command_names_the_file_and_line_of_a_module_that_is_not_python(
    tmp_path: Path,
) -> None:
    (tmp_path / "bad.py").write_text("def f(:\n", encoding="utf-8")
    done = run_cli("bad.py", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("marshalike: error: bad.py:1: not Python")
    assert len(done.stderr.splitlines()) == 1
    missing = run_cli("nothing.py", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr == "marshalike: error: nothing.py: no such file\n"
    (tmp_path / "folder.py").mkdir()
    folder = run_cli("folder.py", cwd=tmp_path)
    assert folder.returncode == 2
    assert folder.stderr == "marshalike: error: folder.py: is a directory, not a Python module\n"


def test_the_users_code_runs_only_in_the_sandbox(tmp_path: Path) -> None:
    """A module that writes a file when imported: decompiling it measures its function, and
    the file never appears where the decompiler runs (nor does this process import it)."""
    marker = tmp_path / "imported"
    source = (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n\n\n"
        "def inc(n: int) -> int:\n    return n + 1\n"
    )
    module = tmp_path / "noisy.py"
    module.write_text(source, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "marshalike", "decompile", str(module), "--no-model"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert not marker.exists()
    assert "noisy" not in sys.modules
    assert done.returncode == 0, done.stderr
    # In the sandbox the path does not exist: the import fails there, and the report says so.
    assert "the module cannot be imported in the sandbox" in done.stdout
    (said,) = [line for line in done.stdout.splitlines() if "cannot be imported" in line]
    assert "No such file or directory" in said  # the reason, on the report's one line
    assert "Traceback" not in done.stdout and "^^^" not in done.stdout
    spec = (tmp_path / "noisy.mrsh").read_text(encoding="utf-8")
    assert "# func inc" in spec


NAMED = '''"""Names a spec cannot declare."""
from dataclasses import dataclass


@dataclass
class _Point:
    x: int


def _half(n: int) -> int:
    return n // 2


def test_twice(n: int) -> int:
    return 2 * n


def quarter(n: int) -> int:
    return _half(_half(n))


def origin_x(p: _Point) -> int:
    return p.x
'''


def test_functions_and_records_a_spec_cannot_name_are_refused_with_the_reason() -> None:
    """A private function, one pytest would collect and one whose signature names a
    private record: each would make the spec an error (M029), so each is prose for a human,
    and the spec parses clean."""
    done = decompiled(NAMED)
    lines = [f.line() for f in done.functions]
    assert lines[:2] == [
        "_half: not decompiled: function name '_half' starts with '_', which marks a private "
        "name; a spec's functions and types are its public interface, which the generated "
        "module exports; a spec cannot declare it",
        "test_twice: not decompiled: function name 'test_twice' starts with 'test', so pytest "
        "would collect it from the generated test file as a test; a spec cannot declare it",
    ]
    assert lines[3] == (
        "origin_x: not decompiled: its signature names the record _Point, and type name "
        "'_Point' starts with '_', which marks a private name; a spec's functions and types "
        "are its public interface, which the generated module exports"
    )
    assert lines[2].startswith("quarter: ") and "not decompiled" not in lines[2]
    result = parse(done.spec, "named.mrsh")
    assert [d for d in result.diagnostics if d.is_error] == []
    assert result.module is not None
    assert [d for d in check(result.module) if d.is_error] == []
    assert [f.name for f in result.module.funcs] == ["quarter"]
    assert result.module.types == ()


def test_a_module_whose_spec_could_not_compile_is_refused_before_it_runs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from marshalike.cli.main import cli

    module = tmp_path / "conftest.py"
    module.write_text("def f(x):\n    return x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["decompile", str(module)])
    assert result.exit_code == 2
    assert "its spec would be conftest.mrsh, and conftest.py is the file pytest loads" in (
        result.output
    )
    assert not (tmp_path / "conftest.mrsh").exists()


def test_a_module_is_read_as_python_reads_it_a_byte_order_mark_or_a_coding_line(
    tmp_path: Path,
) -> None:
    """A UTF-8 file that starts with a byte-order mark, and one that declares another
    encoding, are both Python: each is decoded as Python decodes it, and the values its
    code returns are measured as Python sees them (no mojibake in the sandbox)."""
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbfdef twice(x: int) -> int:\n    return x * 2\n")
    (tmp_path / "lat.py").write_bytes(
        b"# -*- coding: latin-1 -*-\ndef accent(x: str) -> str:\n"
        b'    """Add an \xe9."""\n    return x + "\xe9"\n'
    )
    done = run_cli("bom.py", "lat.py", "--no-model", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "* twice(2) = 4" in (tmp_path / "bom.mrsh").read_text(encoding="utf-8")
    spec = (tmp_path / "lat.mrsh").read_text(encoding="utf-8")
    assert "Add an \xe9." in spec and "* accent('a') = 'a\xe9'" in spec
    assert python_text(b"#!/usr/bin/env python\n# coding=latin-1\nx = '\xe9'\n") == (
        "#!/usr/bin/env python\n# coding (read as UTF-8)=latin-1\nx = '\xe9'\n"
    )


def test_a_module_in_no_known_encoding_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "odd.py").write_bytes(b"# coding: klingon\nx = 1\n")
    (tmp_path / "bad.py").write_bytes(b"x = 1\ny = 2\nz = '\xe9'\n")
    (tmp_path / "first.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "ascii.py").write_bytes(b"# coding: ascii\nx = '\xe9'\n")
    hint = " (a coding line names another encoding: `# -*- coding: latin-1 -*-`)"
    for name, said in [("odd.py", "odd.py: not Python: unknown encoding: klingon"),
                       ("bad.py", f"bad.py: cannot be read: utf-8 cannot decode byte 0xe9 on "
                        f"line 3{hint}"),
                       # Not UTF-8 in the first two lines is that too, not a declaration
                       # missing.
                       ("first.py", f"first.py: cannot be read: utf-8 cannot decode byte 0xe9 "
                        f"on line 1{hint}"),
                       ("ascii.py", "ascii.py: cannot be read: ascii cannot decode byte 0xe9 "
                        "on line 2")]:  # fmt: skip
        done = run_cli(name, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr == f"marshalike: error: {said}\n"


def test_functions_naming_what_no_module_has_is_an_error_and_writes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "g.py").write_text("def g(x: int) -> int:\n    return x\n", encoding="utf-8")
    (tmp_path / "g.mrsh").write_text("# my spec\n", encoding="utf-8")
    done = run_cli("g.py", "--functions", "g,nope", "--force", "--no-model", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "marshalike: error: g.py has no function 'nope' (--functions)\n"
    assert (tmp_path / "g.mrsh").read_text(encoding="utf-8") == "# my spec\n"


def test_a_folder_named_like_a_module_is_said_to_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "d.py").mkdir()
    assert module_path_problem(tmp_path / "d.py") == (
        f"{tmp_path / 'd.py'}: is a directory, not a Python module"
    )
    assert module_path_problem(tmp_path / "e.py") == f"{tmp_path / 'e.py'}: no such file"
    assert module_path_problem(tmp_path / "e.txt") == (
        f"{tmp_path / 'e.txt'}: not a Python module; give a .py file"
    )
    with pytest.raises(DecompileError, match=r"d\.py: is a directory, not a Python module$"):
        list(decompile_files([(tmp_path / "d.py", tmp_path / "d.mrsh")]))


def test_no_example_holds_an_answer_its_test_would_not_read_as_it_shows() -> None:
    """A NaN equals nothing, and a test has no bare `inf`: the examples are drawn from the
    other answers. A Decimal is written by its bare name, which the test imports."""
    source = (
        "from decimal import Decimal\n\n\n"
        "def root(x: float) -> float:\n"
        '    """Square root, or nan."""\n'
        "    return x ** 0.5 if x >= 0 else float('nan')\n\n\n"
        "def third(x: int) -> Decimal:\n"
        '    """A third of it, as a decimal."""\n'
        "    return Decimal(x) / 3\n"
    )
    done = decompile_source(source, filename="odd.py", limits=LIMITS)
    bullets = [line for line in done.spec.splitlines() if line.startswith("* ")]
    assert bullets, done.spec
    assert not any(word in line for line in bullets for word in ("nan", "inf")), done.spec
    assert any(line.startswith("* third(") and "= Decimal('" in line for line in bullets), done.spec
    assert load_text("odd.mrsh", done.spec).has_errors is False


@pytest.mark.parametrize("fences", [["~~~"], ["```", "~~~"], ["````", "```"]])
def test_a_docstring_that_leaves_a_code_block_open_makes_a_spec_that_parses(
    fences: list[str],
) -> None:
    """The block is closed as the spec's parser reads it: by its own marker, at least as
    long (a ``` does not close a ~~~ block, nor a ```` one)."""
    docstring = "Add one.\n\n    " + "\n    ".join(fences) + "\n    "
    source = f'def inc(x: int) -> int:\n    """{docstring}"""\n    return x + 1\n'
    done = decompile_source(source, filename="inc.py", limits=LIMITS)
    parsed = parse(done.spec, "inc.mrsh")
    assert [d for d in parsed.diagnostics if d.is_error] == [], done.spec
    assert "* inc(" in done.spec


def test_a_module_without_functions_says_so() -> None:
    """Its spec holds the description only: the report says why, rather than a spec with
    nothing in it and no word of it."""
    done = decompiled('"""Settings."""\n\nLIMIT = 3\n')
    assert done.functions == ()
    assert done.notes == ("no function to describe: the spec holds only the module's description",)
    assert "# func" not in done.spec and "Settings." in done.spec
