"""Declared names the generated files cannot hold (M029), names kept as written, names read
as Python reads them (NFKC), raised exceptions spelt like built-in ones (M050), and
standard library names that are no exception (M051)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from marshalike.codegen import emit
from marshalike.codegen.testfile import SAME_HELPER
from marshalike.language.diagnostics import render
from marshalike.language.naming import field_names, identifier
from marshalike.language.parse import parse
from marshalike.language.reserved import (
    HELPER_IMPORTS,
    TEST_FILE_BUILTINS,
    TEST_FILE_HELPERS,
    TEST_FILE_MODULES,
    declared_name_problem,
)
from marshalike.language.semantics import check


def _spec(heading: str, call: str) -> str:
    return f"{heading}\n\nTwice `n`.\n\n* {call}(2) = 4\n* {call}(0) = 0\n* {call}(-3) = -6\n"


def _findings(text: str, path: str = "s.mrsh") -> list[str]:
    parsed = parse(text, path)
    found = list(parsed.diagnostics)
    if parsed.module is not None:
        found += check(parsed.module)
    return [render(d, text) for d in found if d.is_error or d.code == "M050"]


# --- identifier(): a name that is one already stays as written -----------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("_double", "_double"), ("x_", "x_"), ("__x", "__x"), ("_", "_"), ("ﬁx", "fix"),
     ("first name", "first_name"), ("class", "class_"), ("2nd", "_2nd"), ("x²", "x2")],
)  # fmt: skip
def test_identifier_keeps_a_valid_name_and_makes_others_valid(text: str, expected: str) -> None:
    assert identifier(text) == expected


def test_field_names_drop_underscores_at_the_ends_so_no_field_is_name_mangled() -> None:
    assert field_names(["_id", "__secret", "name_", "_"]) == ["id", "secret", "name", "field_4"]


# --- M029 ----------------------------------------------------------------------------------


def test_a_function_named_with_a_leading_underscore_is_an_error() -> None:
    assert _findings(_spec("# func _double(n: int): int", "_double")) == [
        "s.mrsh:1:8: error[M029]: function name '_double' starts with '_', which marks a "
        "private name; a spec's functions and types are its public interface, which the "
        "generated module exports\n"
        "    # func _double(n: int): int\n"
        "           ^^^^^^^\n"
        "  hint: rename it without the leading '_' ('double')"
    ]


def test_a_type_named_with_a_leading_underscore_is_an_error() -> None:
    text = "# type _Pt\nx, y\n1, 2\n"
    assert _findings(text) == [
        "s.mrsh:1:8: error[M029]: type name '_Pt' starts with '_', which marks a private "
        "name; a spec's functions and types are its public interface, which the generated "
        "module exports\n"
        "    # type _Pt\n"
        "           ^^^\n"
        "  hint: rename it without the leading '_' ('Pt')"
    ]


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        ("pytest", "would replace the module pytest that the generated test file imports",
         "rename the function"),
        ("importlib", "would replace the module importlib that the generated test file imports",
         "rename the function"),
        ("_same", "is a name the generated test file defines for itself", "rename the function"),
        ("_same_key", "is a name the generated test file defines for itself",
         "rename the function"),
        ("_generated", "is a name the generated test file defines for itself",
         "rename the function"),
        ("_generated2", "is a name the generated test file defines for itself",
         "rename the function"),
        ("test_even", "starts with 'test', so pytest would collect it from the generated test "
         "file as a test", "rename it so that it does not start with 'test'"),
        ("testing", "starts with 'test', so pytest would collect it from the generated test "
         "file as a test", "rename it so that it does not start with 'test'"),
    ],
)  # fmt: skip
def test_a_function_name_the_test_file_cannot_import_is_an_error(
    name: str, message: str, hint: str
) -> None:
    [found] = _findings(_spec(f"# func {name}(n: int): int", name))
    column = 8
    assert found == (
        f"s.mrsh:1:{column}: error[M029]: function name '{name}' {message}\n"
        f"    # func {name}(n: int): int\n"
        f"           {'^' * len(name)}\n"
        f"  hint: {hint}"
    )


def test_a_type_pytest_would_collect_as_a_class_of_tests_is_an_error() -> None:
    assert declared_name_problem("type", "TestPoint") == (
        "type name 'TestPoint' starts with 'Test', so pytest would try to collect it from the "
        "generated test file as a class of tests",
        "rename it so that it does not start with 'Test'",
    )


@pytest.mark.parametrize(
    ("kind", "name"),
    [("type", "testing"), ("function", "Testify"), ("function", "contest"),
     ("function", "double_"), ("type", "Point"), ("type", "Tested")],
)  # fmt: skip
def test_names_pytest_does_not_collect_are_allowed(kind: str, name: str) -> None:
    """pytest collects functions named `test*` and classes named `Test*` (its defaults,
    `python_functions` and `python_classes`), case and all."""
    expected = None if name != "Tested" else declared_name_problem("type", "TestPoint")
    found = declared_name_problem(kind, name)
    assert (found is None) == (expected is None)


def test_the_reserved_names_are_the_test_files_own() -> None:
    """`codegen.testfile` defines the helpers and imports these modules; `reserved` must
    know each of them."""
    tree = ast.parse(SAME_HELPER)
    helpers = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert helpers and all(TEST_FILE_HELPERS.fullmatch(name) for name in helpers)
    imported = {
        a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
    }
    assert imported <= HELPER_IMPORTS


def test_every_module_level_name_of_a_test_file_is_declared_a_test_or_reserved() -> None:
    """A test file for a module whose name `import` cannot take (it loads it by path, with
    `importlib` into `_generated`), with value and raising tests: no name of its own may
    be one a spec can declare."""
    text = _spec("# func double(n: int): int", "double") + "* double('x') raises TypeError\n"
    module = parse(text, "query-builder.mrsh").module
    assert module is not None
    source = emit.test_source(
        module, module_name="query-builder", spec_name="query-builder.mrsh", spec_hash="0"
    )
    tree = ast.parse(source)
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Assign):
            bound |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    own = {n for n in bound if n != "double" and not n.startswith("test_double_")}
    assert {"importlib", "pytest", "_same", "_generated"} <= own
    assert all(n in TEST_FILE_MODULES or TEST_FILE_HELPERS.fullmatch(n) for n in own), own


# --- parameters, trailing underscores: the generated files run -----------------------------

UNDERSCORES = """\
# type Pt
_x, y_
1, 2

# func shift_(_n: int, by_: int = 1): Pt

`Pt(_n, _n + by_)`.

* shift_(1) = Pt(1, 2)
* shift_(_n=2, by_=3) = Pt(2, 5)
* shift_(0, by_=0) = Pt(0, 0)
"""
SHIFT = "def shift_(_n, by_=1):\n    return Pt(_n, _n + by_)\n"


def test_names_with_underscores_at_the_ends_compile_as_written_and_their_tests_pass(
    tmp_path: Path,
) -> None:
    module = parse(UNDERSCORES, "shift.mrsh").module
    assert module is not None and check(module) == []
    source = emit.module_source(module, {"shift_": SHIFT}, spec_name="shift.mrsh", spec_hash="0")
    assert '__all__ = ["Pt", "shift_"]' in source
    stub = emit.module_source(module, {}, spec_name="shift.mrsh", spec_hash="0")
    assert "def shift_(_n: int | None = None, by_: int = 1) -> Pt:" in stub
    tests = emit.test_source(module, module_name="shift", spec_name="shift.mrsh", spec_hash="0")
    assert "from shift import Pt, shift_" in tests
    (tmp_path / "shift.py").write_text(source, encoding="utf-8")
    (tmp_path / "test_shift.py").write_text(tests, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_shift.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


# --- NFKC ----------------------------------------------------------------------------------


def test_declared_names_are_read_as_python_reads_them() -> None:
    text = _spec("# func ﬁx(ﬁrst: int): int", "ﬁx") + "* fix(ﬁrst=1) = 2\n"
    parsed = parse(text, "s.mrsh")
    assert parsed.module is not None
    [func] = parsed.module.funcs
    assert (func.name, func.params[0].name) == ("fix", "first")
    assert check(parsed.module) == []
    assert parse("# type Ｐt\nx\n1\n").module.types[0].name == "Pt"  # type: ignore[union-attr]


def test_two_names_python_reads_as_one_are_declared_twice() -> None:
    text = _spec("# func ﬁx(n: int): int", "fix") + "\n" + _spec("# func fix(n: int): int", "fix")
    assert [d.code for d in _found_errors(text)] == ["M010"]


def _found_errors(text: str) -> list:
    parsed = parse(text, "s.mrsh")
    assert parsed.module is not None
    return [d for d in check(parsed.module) if d.is_error]


def test_a_name_python_cannot_read_as_an_identifier_is_a_heading_error() -> None:
    assert _findings(_spec("# func x²(n: int): int", "x2")) == [
        "s.mrsh:1:8: error[M001]: 'x²' is not a valid function name\n"
        "    # func x²(n: int): int\n"
        "           ^^\n"
        "  hint: use letters, digits and '_'"
    ]
    assert _findings(_spec("# func f(n²: int): int", "f")) == [
        "s.mrsh:1:10: error[M001]: parameter name 'n²' is not a Python identifier\n"
        "    # func f(n²: int): int\n"
        "             ^^^^^^^\n"
        "  hint: write 'name: type', or just the type"
    ]
    assert _findings("# type P²\nx\n1\n") == [
        "s.mrsh:1:8: error[M002]: 'P²' is not a valid type name after '# type'\n"
        "    # type P²\n"
        "           ^^\n"
        "  hint: write '# type NAME' followed by CSV lines, or '# type NAME file.csv'"
    ]


# --- M050 ----------------------------------------------------------------------------------


def test_a_raised_exception_spelt_like_a_built_in_one_is_a_warning() -> None:
    text = _spec("# func double(n: int): int", "double") + "* double('x') raises ValueErorr\n"
    assert _findings(text) == [
        "s.mrsh:8:22: warning[M050]: 'ValueErorr' is not a built-in exception, so the test "
        "of this example accepts only an error of a class called 'ValueErorr'\n"
        "    * double('x') raises ValueErorr\n"
        "                         ^^^^^^^^^^\n"
        "  hint: did you mean 'ValueError'?"
    ]


@pytest.mark.parametrize(
    "raised", ["ValueError", "AgeError", "json.JSONDecodeError", "an error", "InvalidInput"]
)
def test_exceptions_of_the_spec_and_known_ones_are_not_warned_about(raised: str) -> None:
    text = _spec("# func double(n: int): int", "double") + f"* double('x') raises {raised}\n"
    assert _findings(text) == []


# --- M051 ----------------------------------------------------------------------------------


def test_a_standard_library_name_that_is_no_exception_is_an_error_with_a_close_name() -> None:
    text = _spec("# func double(n: int): int", "double") + "* double('x') raises json.DecodError\n"
    assert _findings(text) == [
        "s.mrsh:8:22: error[M051]: 'json.DecodError' is no exception of the standard "
        "library's json\n"
        "    * double('x') raises json.DecodError\n"
        "                         ^^^^^^^^^^^^^^^\n"
        "  hint: did you mean 'json.JSONDecodeError'?"
    ]


@pytest.mark.parametrize(
    ("raised", "module"),
    [("venv.__main__.Boom", "venv.__main__"), ("idlelib.idle.Boom", "idlelib.idle"),
     ("antigravity.Boom", "antigravity"), ("_queue.Empty", "_queue")],
)  # fmt: skip
def test_a_module_that_runs_a_program_on_import_is_never_imported_for_its_exceptions(
    raised: str, module: str
) -> None:
    """Reading a spec (an editor does it on every change) runs no program: `venv.__main__`
    would make a virtual environment, `idlelib.idle` open IDLE."""
    text = _spec("# func double(n: int): int", "double") + f"* double('x') raises {raised}\n"
    code = (
        "import sys\n"
        "from marshalike.language.parse import parse\n"
        "from marshalike.language.semantics import check\n"
        f"found = list(check(parse({text!r}, 's.mrsh').module))\n"
        "print([d.code == 'M051' for d in found if d.is_error])\n"
        f"print({module!r} in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[True]", "False"]


def test_the_builtins_the_test_file_calls_are_reserved() -> None:
    """Every builtin `_same`, `_same_key` and a test's message call is one a spec may not
    declare: imported into the test file, it would be called in their place."""
    import builtins

    from marshalike.codegen.testfile import _MESSAGE

    tree = ast.parse(SAME_HELPER + "\n" + _MESSAGE)
    called = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and hasattr(builtins, n.id)}
    assert called <= TEST_FILE_BUILTINS
    for name in ("type", "len", "setup_module", "pytestmark"):
        assert declared_name_problem("function", name) is not None
    assert declared_name_problem("function", "sum") is None
