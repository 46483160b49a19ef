"""`# use` lines between specs decompiled together: a module that imports functions of
another of the run gets a `# use` of its spec, the spec loads clean with the two written, a
circle of imports never becomes a circle of uses, and a use is left out, with a reason,
where the used spec holds none of the functions called."""

from __future__ import annotations

import ast
from pathlib import Path

from test_decompile import run_cli

from marshalike.decompile.module import decompile_files
from marshalike.decompile.uses import Link, imported_names, links, plan
from marshalike.language.load import load_spec
from marshalike.sandbox.isolation import Limits

LIMITS = Limits(timeout_s=2.0, startup_s=20.0)
GEOMETRY = '''def double(n: int) -> int:
    """Twice n."""
    return 2 * n


def half(n: int) -> int:
    """Half of n, rounded down."""
    return n // 2
'''
SHAPES = '''import geometry
from geometry import half


def quad(n: int) -> int:
    """Four times n."""
    return geometry.double(geometry.double(n))


def quarter(n: int) -> int:
    """A quarter of n, rounded down."""
    return half(half(n))
'''


def test_imported_names_are_taken_from_imports_and_attribute_reads() -> None:
    source = (
        "import a\nimport b as bee\nimport pkg.c\nfrom d import f, g as h\nfrom .e import k\n"
        "from . import m\nfrom n import *\n\n\ndef x():\n    return a.one() + bee.two + m.three()\n"
    )
    assert imported_names(ast.parse(source)) == {
        "a": {"one"},
        "b": {"two"},
        "d": {"f", "g"},
        "e": {"k"},
        "m": {"three"},
        "n": {"*"},
    }


def test_a_used_module_comes_first_and_its_spec_is_named_relative_to_the_user(
    tmp_path: Path,
) -> None:
    shapes, geometry = tmp_path / "shapes.py", tmp_path / "geometry.py"
    made = plan([(shapes, SHAPES), (geometry, GEOMETRY)])
    assert made.order == (1, 0)
    assert made.uses == {0: {1: frozenset({"double", "half"})}, 1: {}}
    targets = [tmp_path / "specs" / "shapes.mrsh", tmp_path / "lib" / "geometry.mrsh"]
    assert links(made, 0, targets, {1: {"double", "half"}}) == [
        Link(
            "../lib/geometry.mrsh",
            "# use ../lib/geometry.mrsh: calls `double`, `half` of geometry.py",
        )
    ]
    assert links(made, 0, targets, {1: {"triple"}}) == [
        Link("", "no `# use ../lib/geometry.mrsh`: it holds none of `double`, `half`, called here")
    ]


def test_modules_of_other_folders_and_names_that_are_not_functions_are_no_use(
    tmp_path: Path,
) -> None:
    other = tmp_path / "other"
    made = plan([(tmp_path / "shapes.py", SHAPES), (other / "geometry.py", GEOMETRY)])
    assert made.uses == {0: {}, 1: {}}
    constants = "from geometry import LIMIT\n\n\ndef f(n: int) -> int:\n    return n + LIMIT\n"
    made = plan([(tmp_path / "f.py", constants), (tmp_path / "geometry.py", GEOMETRY)])
    assert made.uses == {0: {}, 1: {}}


def test_imports_in_a_circle_leave_out_the_use_that_would_close_it(tmp_path: Path) -> None:
    first = "import second\n\n\ndef f(n: int) -> int:\n    return n\n\n\ndef g(n: int) -> int:\n"
    first += "    return second.h(n)\n"
    second = "from first import f\n\n\ndef h(n: int) -> int:\n    return f(n) + 1\n"
    paths = [tmp_path / "first.py", tmp_path / "second.py"]
    made = plan(list(zip(paths, [first, second], strict=True)))
    assert made.uses == {0: {1: frozenset({"h"})}, 1: {}}
    assert made.circular == {0: {}, 1: {0: frozenset({"f"})}}
    assert made.order == (1, 0)
    targets = [p.with_suffix(".mrsh") for p in paths]
    assert links(made, 1, targets, {}) == [
        Link(
            "",
            "no `# use first.mrsh`, though this module calls `f` of it: first.py imports this "
            "module back (directly or through others), and specs may not use each other in a "
            "circle (M035)",
        )
    ]


def test_the_user_spec_uses_the_other_and_loads_with_no_errors(tmp_path: Path) -> None:
    (tmp_path / "geometry.py").write_text(GEOMETRY, encoding="utf-8")
    (tmp_path / "shapes.py").write_text(SHAPES, encoding="utf-8")
    specs = tmp_path / "specs"
    targets = [
        (tmp_path / n, specs / n.replace(".py", ".mrsh")) for n in ("shapes.py", "geometry.py")
    ]
    done = list(decompile_files(targets, limits=LIMITS))
    assert [path.name for path, _, _ in done] == ["geometry.py", "shapes.py"]
    specs.mkdir()
    for _, target, decompiled in done:
        target.write_text(decompiled.spec, encoding="utf-8")
    shapes = done[1][2]
    assert shapes.notes == ("# use geometry.mrsh: calls `double`, `half` of geometry.py",)
    assert "\n# use geometry.mrsh\n" in shapes.spec
    assert shapes.spec.index("# use geometry.mrsh") < shapes.spec.index("# func quad(")
    assert "# use" not in done[0][2].spec
    loaded = load_spec(specs / "shapes.mrsh")
    assert [d for d in loaded.diagnostics if d.is_error] == []
    assert loaded.module is not None
    assert [u.path for u in loaded.module.uses] == ["geometry.mrsh"]
    assert [f.name for f in loaded.module.funcs] == ["quad", "quarter"]
    # An example of shapes may now call geometry's functions; without the use it may not.
    called = shapes.spec + "* quarter(double(4)) = 2\n"
    (specs / "shapes.mrsh").write_text(called, encoding="utf-8")
    assert [d for d in load_spec(specs / "shapes.mrsh").diagnostics if d.is_error] == []
    alone = called.replace("# use geometry.mrsh\n", "")
    (specs / "shapes.mrsh").write_text(alone, encoding="utf-8")
    assert [d.code for d in load_spec(specs / "shapes.mrsh").diagnostics if d.is_error]


def test_a_use_of_a_function_the_used_spec_refused_is_left_out(tmp_path: Path) -> None:
    dice = "import random\n\n\ndef roll() -> int:\n    return random.randint(1, 6)\n"
    game = '''from dice import roll


def turn(n: int) -> int:
    """n rolls added up."""
    return sum(roll() for _ in range(n))
'''
    (tmp_path / "dice.py").write_text(dice, encoding="utf-8")
    (tmp_path / "game.py").write_text(game, encoding="utf-8")
    targets = [(tmp_path / n, tmp_path / n.replace(".py", ".mrsh")) for n in ("game.py", "dice.py")]
    done = {path.name: d for path, _, d in decompile_files(targets, limits=LIMITS)}
    assert done["game.py"].notes[0] == (
        "no `# use dice.mrsh`: it holds none of `roll`, called here"
    )
    assert "# use" not in done["game.py"].spec


def test_the_command_writes_the_used_spec_first_and_reports_the_use(tmp_path: Path) -> None:
    (tmp_path / "geometry.py").write_text(GEOMETRY, encoding="utf-8")
    (tmp_path / "shapes.py").write_text(SHAPES, encoding="utf-8")
    done = run_cli("shapes.py", "geometry.py", "--out", "specs", "--no-model", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "geometry.py -> specs/geometry.mrsh"
    assert "shapes.py -> specs/shapes.mrsh" in lines
    assert "  # use geometry.mrsh: calls `double`, `half` of geometry.py" in lines
    loaded = load_spec(tmp_path / "specs" / "shapes.mrsh")
    assert [d for d in loaded.diagnostics if d.is_error] == []
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "shapes.py").write_text(SHAPES, encoding="utf-8")
    clash = run_cli("shapes.py", "other/shapes.py", "--out", "more", "--no-model", cwd=tmp_path)
    assert clash.returncode == 2
    assert clash.stderr == (
        "marshalike: error: shapes.py and other/shapes.py would both be written to "
        "more/shapes.mrsh\n"
    )
    assert not (tmp_path / "more").exists()
