"""The exceptions a spec's `raises NAME` may name: Python's built-in ones, and the standard
library's by their dotted names (`json.JSONDecodeError`), found by importing the module
that holds them. The compiler, the checker and the verifier all find a name's class here.

A spec is read in the compiler's own process (and in an editor's language server on every
change), so only modules whose import runs no program are imported: none whose name has a
part starting with `_` (`venv.__main__` runs venv on import), and none of the few that run
one at top level (`antigravity` opens a browser, `idlelib.idle` starts IDLE)."""

from __future__ import annotations

import builtins
import difflib
import functools
import importlib
import sys

BUILTIN_EXCEPTIONS = tuple(
    sorted(
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    )
)
# Standard packages whose modules run a program (or print) when imported: never imported
# for a name, here, in the generated tests or in the verifier's runs.
RUN_ON_IMPORT = frozenset(
    ("antigravity", "this", "idlelib", "turtledemo", "__hello__", "__phello__")
)


def runs_on_import(name: str) -> bool:
    """Whether importing the dotted module `name` runs a program: a module of
    `RUN_ON_IMPORT`, or a package's `__main__` (`unittest.__main__` runs the tests it finds
    and exits, `venv.__main__` makes a virtual environment where the process's arguments
    say), which candidate code is refused (`tampering`)."""
    parts = name.split(".")
    return parts[0] in RUN_ON_IMPORT or "__main__" in parts[1:]


def is_standard(name: str) -> bool:
    """Whether the dotted `name` is in a module of the standard library."""
    return "." in name and name.split(".")[0] in sys.stdlib_module_names


@functools.cache
def exception_class(name: str) -> type[BaseException] | None:
    """The exception class `name` names: a built-in one, or a standard library one by
    its dotted name; None for any other name, or a module that cannot be imported."""
    root, _, last = name.rpartition(".")
    found: object = None
    if not root:
        found = getattr(builtins, name, None)
    elif _importable(root):
        try:
            found = getattr(importlib.import_module(root), last, None)
        except Exception:  # noqa: BLE001 - a module that cannot be imported names no exception
            return None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _importable(module: str) -> bool:
    parts = module.split(".")
    return (
        parts[0] in sys.stdlib_module_names
        and parts[0] not in RUN_ON_IMPORT
        and all(part.isidentifier() and not part.startswith("_") for part in parts)
    )


def standard_problem(name: str) -> tuple[str, str | None] | None:
    """Why the dotted standard library `name` can be no example's exception, and a close
    name of the module's that is one; None where it names an exception class (or is no
    standard library name)."""
    if not is_standard(name) or exception_class(name) is not None:
        return None
    root, _, last = name.rpartition(".")
    if not _importable(root):
        why = "a private module, or one that runs a program when imported"
        return f"'{name}' is in {root}, {why}: it is not read", None
    try:
        held = vars(importlib.import_module(root))
    except Exception:  # noqa: BLE001 - whatever stops the import, the module is not here
        return f"'{root}' cannot be imported here, so '{name}' names no exception", None
    others = [n for n, v in held.items() if isinstance(v, type) and issubclass(v, BaseException)]
    close = difflib.get_close_matches(last, others, n=1, cutoff=0.6)
    hint = f"did you mean '{root}.{close[0]}'?" if close else None
    return f"'{name}' is no exception of the standard library's {root}", hint
