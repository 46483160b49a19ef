"""Names the generated files keep for themselves, and the spec names and declared names
that would break them.

A spec `NAME.mrsh` compiles to the module `NAME.py` and the pytest file `test_NAME.py` in
one folder; every declared function and type is imported into that test file. So a
declared name must not be one the test file defines or imports itself, nor one pytest
collects as a test; and a spec must not be named like a file that Python or pytest treat
specially, or like a module the test file imports, a module of the standard library, or
pytest or marshalike themselves (run from that folder, they would import it instead).

The test file's own names are those of `marshalike.codegen.testfile` (its `SAME_HELPER`,
the `_generated` modules and the imports of `_import_groups`); tests/test_names_reserved.py
checks that the two agree.
"""

from __future__ import annotations

import re
import sys
import unicodedata

# Module-level names of the generated test file: the modules it imports itself and its
# helpers (`_generated`, `_generated1`, ... hold modules loaded by path).
TEST_FILE_MODULES = frozenset({"pytest", "importlib"})
# Modules a folder's own module would hide where Python, pytest or marshalike runs from
# that folder (the current folder comes first on `sys.path` for `python -m`).
# The tools a generated module runs beside, and what pytest itself imports.
TOOL_MODULES = frozenset(
    {"marshalike", "pytest", "_pytest", "pluggy", "iniconfig", "packaging", "py", "exceptiongroup"}
)
TEST_FILE_HELPERS = re.compile(r"_same|_same_key|_whole|_generated\d*")
# What `_same` and `_same_key` import when a test runs: a module of the output folder by
# one of these names would be imported in the standard library's place.
HELPER_IMPORTS = frozenset(
    {
        "builtins",
        "cmath",
        "collections",
        "dataclasses",
        "datetime",
        "decimal",
        "fractions",
        "math",
        "uuid",
    }
)
# The builtins the test file's comparison and its messages call: a declared `type` or `len`,
# imported into the test file, would be called in their place.
TEST_FILE_BUILTINS = frozenset(
    {"all", "any", "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset",
     "getattr", "int", "len", "list", "object", "repr", "set", "str", "tuple", "type", "vars",
     "zip"}
)  # fmt: skip
# Names pytest reads in a test module: set-up and tear-down functions, marks, plugins.
PYTEST_MODULE_NAMES = frozenset(
    {"setup_module", "teardown_module", "setup_function", "teardown_function", "setup",
     "teardown", "setUpModule", "tearDownModule", "pytestmark", "pytest_plugins"}
)  # fmt: skip
# pytest's defaults: `python_functions = test`, `python_classes = Test` (prefixes).
TEST_FUNCTION_PREFIX = "test"
TEST_CLASS_PREFIX = "Test"


def declared_name_problem(kind: str, name: str) -> tuple[str, str] | None:
    """Why a function or type (`kind`) of a spec may not be called `name`, and how to fix
    it; None when it may."""
    said = f"{kind} name '{name}'"
    if name in TEST_FILE_MODULES:
        return (
            f"{said} would replace the module {name} that the generated test file imports",
            f"rename the {kind}",
        )
    if name in TEST_FILE_BUILTINS:
        return (
            f"{said} would replace the builtin {name} that the generated test file's "
            "comparison calls",
            f"rename the {kind}",
        )
    if name in PYTEST_MODULE_NAMES:
        return (f"{said} is a name pytest reads in a test module", f"rename the {kind}")
    if TEST_FILE_HELPERS.fullmatch(name):
        return (
            f"{said} is a name the generated test file defines for itself",
            f"rename the {kind}",
        )
    if name.startswith("_"):
        return (
            f"{said} starts with '_', which marks a private name; a spec's functions and "
            "types are its public interface, which the generated module exports",
            f"rename it without the leading '_'{_suggestion(name.lstrip('_'))}",
        )
    if kind == "function" and name.startswith(TEST_FUNCTION_PREFIX):
        return (
            f"{said} starts with '{TEST_FUNCTION_PREFIX}', so pytest would collect it from "
            "the generated test file as a test",
            f"rename it so that it does not start with '{TEST_FUNCTION_PREFIX}'",
        )
    if kind == "type" and name.startswith(TEST_CLASS_PREFIX):
        return (
            f"{said} starts with '{TEST_CLASS_PREFIX}', so pytest would try to collect it "
            "from the generated test file as a class of tests",
            f"rename it so that it does not start with '{TEST_CLASS_PREFIX}'",
        )
    return None


def _suggestion(rest: str) -> str:
    return f" ('{rest}')" if rest and not rest[0].isdigit() else ""


def spec_name_problem(module_name: str) -> str | None:
    """Why a spec cannot compile to the module `module_name` (`NAME.mrsh` -> `NAME.py`,
    beside `test_NAME.py`): the file would mean something else to Python or pytest, or
    hide a module of the standard library, of pytest or of marshalike from whatever runs
    in the output folder. None when it can."""
    file = f"{module_name}.py"
    if (read := unicodedata.normalize("NFKC", module_name)) != module_name:
        return (
            f"`import {module_name}` looks for {read}.py (Python reads a name in its NFKC "
            f"form), not the generated {file}: rename the spec"
        )
    if module_name == "__init__":
        return (
            f"{file} would make the output folder a package, and pytest could then import "
            "none of the test files in it: rename the spec"
        )
    if module_name == "__main__":
        return (
            f"`import __main__` finds the running program, not the generated {file}: "
            "rename the spec"
        )
    if module_name.startswith("__") and module_name.endswith("__"):
        return f"{file} is a name Python keeps for itself (__NAME__): rename the spec"
    if module_name == "conftest":
        return f"{file} is the file pytest loads as the folder's own configuration: rename the spec"
    if module_name in ("pytest", "_pytest"):
        return (
            f"{file} would be imported in place of pytest's own {module_name}, which the "
            "generated test files need: rename the spec"
        )
    if module_name in TEST_FILE_MODULES | HELPER_IMPORTS:
        return (
            f"{file} would be imported in place of the standard library's {module_name}, "
            "which the generated test files import: rename the spec"
        )
    if module_name in TOOL_MODULES or module_name.startswith("pytest_"):
        return (
            f"{file} would be imported in place of {module_name} itself wherever Python runs "
            "from the output folder (`python -m pytest`, `python -m marshalike`): rename the spec"
        )
    if module_name in sys.stdlib_module_names:
        return (
            f"{file} would hide the standard library's {module_name} from every program run "
            "in the output folder (pytest among them): rename the spec"
        )
    return None
