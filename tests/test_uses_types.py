"""A used spec's types built in a spec's examples, end to end: compiled with a real HTTP
server speaking OpenAI's API (scripted answers, written for these tests), the generated
tests run under pytest, `marshalike check` on the outputs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from fake_openai import FakeOpenAI, Request

from marshalike.cli.main import cli

GEOMETRY = """\
# type Point
x, y
1, 2

# func origin(): Point

The point at the origin.

* origin() = Point(0, 0)
"""

SHAPES = """\
# use geometry.mrsh

# func norm(p: Point): float

The distance of `p` from the origin.

* norm(Point(3, 4)) = 5.0
* norm(origin()) = 0.0
* norm(Point(-6, 8)) = 10.0

# func mirror(p: Point): Point

`p` with its coordinates swapped.

* mirror(Point(1, 2)) = Point(2, 1)
* mirror(Point(0, 5)) = Point(5, 0)
* mirror(origin()) = Point(0, 0)
"""

ORIGIN = "```python\ndef origin():\n    return Point(0, 0)\n```"
NORM = "```python\nimport math\n\ndef norm(p):\n    return math.hypot(p.x, p.y)\n```"
MIRROR = "```python\nfrom geometry import Point\n\ndef mirror(p):\n    return Point(p.y, p.x)\n```"
# A class of its own with the same fields: equal-looking, but not geometry's Point.
IMPOSTER = """```python
from dataclasses import dataclass

@dataclass
class Pt:
    x: int
    y: int

def mirror(p):
    return Pt(p.y, p.x)
```"""


def compile_(folder: Path, server: FakeOpenAI) -> tuple[int, str]:
    argv = [
        "compile", str(folder), "--backend", "openai", "--base-url", server.base_url,
        "--model", "fake-model", "--candidates", "1", "--attempts", "1", "--jobs", "1",
        "--timeout", "5", "--questions", "0",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def answering(answers: dict[str, str]) -> Callable[[Request], str]:
    """A script that answers each request with the code of the function it asks for (its
    name in backquotes, as the prompt writes it)."""

    def script(request: Request) -> str:
        text = request.body["messages"][-1]["content"]
        return next(code for marker, code in answers.items() if marker in text)

    return script


def refused(folder: Path, specs: dict[str, str], answers: dict[str, str]) -> str:
    """What compile says of `specs` (file name to text) written into `folder`, answered
    with `answers`, where it must fail."""
    for name, text in specs.items():
        (folder / name).write_text(text, encoding="utf-8")
    with FakeOpenAI(script=answering(answers)) as server:
        status, said = compile_(folder, server)
    assert status != 0, said
    return said


def scripted(mirror: str) -> Callable[[Request], str]:
    return answering({"`origin`": ORIGIN, "`norm`": NORM, "`mirror`": mirror})


def project(tmp_path: Path) -> Path:
    (tmp_path / "geometry.mrsh").write_text(GEOMETRY, encoding="utf-8")
    (tmp_path / "shapes.mrsh").write_text(SHAPES, encoding="utf-8")
    return tmp_path


def test_an_example_builds_a_used_specs_type_and_its_tests_import_it(tmp_path: Path) -> None:
    folder = project(tmp_path)
    prompts: list[str] = []

    def script(request: Request) -> str:
        prompts.append(request.body["messages"][-1]["content"])
        return scripted(MIRROR)(request)

    with FakeOpenAI(script=script) as server:
        status, said = compile_(folder, server)
    assert status == 0, said
    tests = (folder / "test_shapes.py").read_text(encoding="utf-8")
    assert "from geometry import Point, origin\n" in tests
    assert "from shapes import mirror, norm\n" in tests
    # mirror's own import of the type, merged with the module's of the used function
    assert "from geometry import Point, origin\n" in (folder / "shapes.py").read_text()
    # The prompt shows the used type where the function's examples build it.
    (mirror_prompt,) = [p for p in prompts if "`mirror`" in p]
    assert "from geometry import Point\n# @dataclass\n# class Point:\n#     x: int" in mirror_prompt
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_shapes.py"]
    run = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout
    checked = CliRunner().invoke(cli, ["check", str(folder)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.endswith("2 specs checked, 0 failed\n")


def test_a_value_of_another_class_than_the_used_type_is_refused(tmp_path: Path) -> None:
    folder = project(tmp_path)
    with FakeOpenAI(script=scripted(IMPOSTER)) as server:
        status, said = compile_(folder, server)
    assert status != 0
    assert "mirror(Point(1, 2)) should return geometry.Point(x=2, y=1), but it returned " in said
    assert "an instance of shapes.Pt, which is neither a plain value nor a type" in said
    assert not (folder / "shapes.py").exists()


BODIES = {  # what a base model writes after each function's stub: a body, no import
    "def origin(": "    return Point(0, 0)\n",
    "def norm(": "    return (p.x ** 2 + p.y ** 2) ** 0.5\n",
    "def mirror(": "    return Point(p.y, p.x)\n",
}


def test_a_body_written_after_a_stub_builds_the_used_type_the_module_imports(
    tmp_path: Path,
) -> None:
    """A completion writes a body only: the module imports the used type its examples
    build, so the body can build it too."""
    folder = project(tmp_path)

    def script(request: Request) -> str:
        prompt = request.prompt_text
        # the last stub of the prompt is the function asked for
        return max(BODIES.items(), key=lambda item: prompt.rfind(item[0]))[1]

    argv = ["--api", "completions"]
    with FakeOpenAI(script=script) as server:
        result = CliRunner().invoke(
            cli,
            ["compile", str(folder), "--backend", "openai", "--base-url", server.base_url,
             "--model", "fake-model", "--candidates", "1", "--attempts", "1", "--jobs", "1",
             "--timeout", "5", "--questions", "0", *argv],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "from geometry import Point, origin\n" in (folder / "shapes.py").read_text()
    checked = CliRunner().invoke(cli, ["check", str(folder)])
    assert checked.exit_code == 0, checked.output


def test_a_function_two_used_specs_declare_is_imported_from_the_first_use_only() -> None:
    """As the checker calls it (M054): the first `# use`'s, never both, whose later import
    line would win in the module."""
    from marshalike.build.uses import module_imports
    from marshalike.language.parse import parse

    module = parse(SHAPES).module
    assert module is not None
    imports = {"zeta": ("size", "origin"), "alpha": ("size", "area")}
    assert module_imports(module, imports, {"Point": "geometry"}) == {
        "zeta": ("size", "origin"),
        "alpha": ("area",),
        "geometry": ("Point",),
    }


# A used spec whose code keeps a table, and a spec (its tests run first: `alpha` sorts
# before `zeta`) whose code changes that table once it has answered: every example of each
# spec passes alone, and a user's `pytest` in the folder fails the used spec's tests.
ZETA = """\
# type Point
x, y
1, 2

# func label(n: int): str

The name of a small number.

* label(1) = "one"
* label(2) = "two"
* label(3) = "three"
"""
ALPHA = """\
# use zeta.mrsh

# func mirror(p: Point): Point

`p` with its coordinates swapped.

* mirror(Point(1, 2)) = Point(2, 1)
* mirror(Point(0, 5)) = Point(5, 0)
* mirror(Point(-1, 3)) = Point(3, -1)
"""
LABEL = """```python
NAMES = {1: "one", 2: "two", 3: "three"}

def label(n):
    return NAMES[n]
```"""
# The table reached through a list of its own: no import of the used module's names is
# rewritten where extraction can see it.
RETABLING = """```python
from zeta import NAMES, Point

def mirror(p):
    tables = [NAMES]
    tables[0][1] = "uno"
    return Point(p.y, p.x)
```"""


def test_code_that_changes_a_used_modules_table_is_not_written(tmp_path: Path) -> None:
    specs = {"zeta.mrsh": ZETA, "alpha.mrsh": ALPHA}
    said = refused(tmp_path, specs, {"`label`": LABEL, "`mirror`": RETABLING})
    assert "test_zeta.py fails when run in one pytest session with test_alpha.py" in said
    assert not (tmp_path / "alpha.py").exists()
    assert (tmp_path / "zeta.py").exists()


# A used function right only on its first call in a process: its spec's one example makes
# that call, and so does the one example of its user's that calls it; a user's `pytest`
# in the folder calls it in both test files, and fails the second.
ONCE = """```python
CALLS = [0]

def origin():
    CALLS[0] += 1
    return Point(0, 0) if CALLS[0] == 1 else Point(1, 1)
```"""
NORMS = """\
# use geometry.mrsh

# func norm(p: Point): float

The distance of `p` from the origin.

* norm(Point(3, 4)) = 5.0
* norm(origin()) = 0.0
* norm(Point(-6, 8)) = 10.0
"""


def test_a_used_function_right_only_once_in_a_process_is_not_written_into_its_users_tests(
    tmp_path: Path,
) -> None:
    specs = {"geometry.mrsh": GEOMETRY, "shapes.mrsh": NORMS}
    said = refused(tmp_path, specs, {"`origin`": ONCE, "`norm`": NORM})
    assert "fails when run in one pytest session with test_shapes.py" in said
    assert not (tmp_path / "test_shapes.py").exists()


# Wrong only where a pytest frame is on its stack (read through where a warning says it was
# raised): the spec's own tests fail, in whatever session, before its used specs' tests run.
UNDER_PYTEST = """```python
import math
import warnings

def norm(p):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for level in range(2, 40):
            warnings.warn("where", stacklevel=level)
    if any("pytest" in str(w.filename) for w in seen):
        return 0.0
    return math.hypot(p.x, p.y)
```"""


def test_a_spec_with_uses_whose_own_tests_fail_under_pytest_is_told_so(tmp_path: Path) -> None:
    specs = {"geometry.mrsh": GEOMETRY, "shapes.mrsh": NORMS}
    said = refused(tmp_path, specs, {"`origin`": ORIGIN, "`norm`": UNDER_PYTEST})
    assert "test_shapes.py fails under pytest (FAILED test_shapes.py::test_norm_1" in said
    assert "one pytest session" not in said
    assert not (tmp_path / "test_shapes.py").exists()
    assert (tmp_path / "test_geometry.py").exists()


# A used spec's function named like another used spec's type: the examples call the
# function (the language's scope), and the module, its tests and the oracle must all take
# it, not the one of the two imports that came last as the modules' names sort.
PAIRS = """\
# func Point(a: int, b: int): list of int

The two numbers in a list.

* Point(1, 2) = [1, 2]
* Point(0, 5) = [0, 5]
* Point(-1, 3) = [-1, 3]
"""
BOTH = """\
# use geometry.mrsh
# use alpha.mrsh

# func mirror(p: Point): Point

`p` with its coordinates swapped.

* mirror(Point(1, 2)) = Point(2, 1)
* mirror(Point(0, 5)) = Point(5, 0)
* mirror(Point(-1, 3)) = Point(3, -1)
"""
SWAP = "```python\ndef mirror(p):\n    return [p[1], p[0]]\n```"


def test_a_used_type_named_like_a_used_function_is_never_taken_by_that_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "geometry.mrsh").write_text(GEOMETRY, encoding="utf-8")
    (tmp_path / "alpha.mrsh").write_text(PAIRS, encoding="utf-8")
    (tmp_path / "shapes.mrsh").write_text(BOTH, encoding="utf-8")
    pairs = "```python\ndef Point(a, b):\n    return [a, b]\n```"
    answers = {"`origin`": ORIGIN, "`Point`": pairs, "`mirror`": SWAP}

    def script(request: Request) -> str:
        text = request.body["messages"][-1]["content"]
        if "`mirror`" in text:
            assert "class Point" not in text  # geometry's is not the one examples build
        return next(code for marker, code in answers.items() if marker in text)

    with FakeOpenAI(script=script) as server:
        status, said = compile_(tmp_path, server)
    assert status == 0, said
    assert "type 'Point' of used spec 'geometry.mrsh' is a function's name too" in said
    for name in ("shapes.py", "test_shapes.py"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "from alpha import Point\n" in text
        assert [line for line in text.splitlines() if "Point" in line and "import" in line] == [
            "from alpha import Point"
        ]


def test_an_expected_value_a_used_function_returns_a_used_type_of(tmp_path: Path) -> None:
    """`origin()` claims a `geometry.Point`: its literal is written by the name the examples
    build it with, and computed where that name is geometry's; it was "a value that cannot
    be written as a literal", and every such example invalid."""
    spec = SHAPES.replace("* mirror(origin()) = Point(0, 0)", "* mirror(Point(0, 0)) = origin()")
    (tmp_path / "geometry.mrsh").write_text(GEOMETRY, encoding="utf-8")
    (tmp_path / "shapes.mrsh").write_text(spec, encoding="utf-8")
    with FakeOpenAI(script=scripted(MIRROR)) as server:
        status, said = compile_(tmp_path, server)
    assert status == 0, said
    assert "def test_mirror_3():\n    actual = mirror(Point(0, 0))\n    expected = origin()" in (
        tmp_path / "test_shapes.py"
    ).read_text(encoding="utf-8")
    # A function that returns its argument gives the origin's value here, not elsewhere.
    same = "```python\ndef mirror(p):\n    return p\n```"
    (tmp_path / "shapes.lock.json").unlink()
    with FakeOpenAI(script=scripted(same)) as server:
        status, said = compile_(tmp_path, server)
    assert status != 0
    assert "mirror(Point(1, 2)) should return geometry.Point(x=2, y=1)" in said
