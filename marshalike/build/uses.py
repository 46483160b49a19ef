"""What a spec gets from the specs it `# use`s: their functions and types, importable.

A used spec is compiled first; its generated module must land in the same output folder so
that `from other import f` works for the generated code, its tests and the sandbox.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshalike.language.files import read_regular
from marshalike.language.graph import Reached, SpecGraph
from marshalike.language.naming import parse_or_none
from marshalike.language.spec import Module, Use


def not_compiled(report: Any) -> str:
    """Why the compile of a used spec, `report` (a `results.SpecReport`), did not succeed:
    the end of the sentence that its user was not compiled for it, on one line."""
    errors = [d for d in report.diagnostics if d.is_error]
    if report.problem:
        why = report.problem
    elif errors:
        first = errors[0]
        why = f"{first.path}:{first.span.line}:{first.span.column}: {first.message} [{first.code}]"
    elif report.stale:
        why = f"{', '.join(report.stale)} would need the model (--frozen)"
    else:
        failed = [unit.name for unit in report.units if unit.status == "failed"]
        why = f"{', '.join(failed)} failed" if failed else ""
    return f": {why}" if why else ""


@dataclass(frozen=True)
class Used:
    """The used modules: names to import, code to show the model, files for the sandbox."""

    imports: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # module -> funcs
    # The types examples may build, each by its name from its module: the first `# use`'s
    # where two used specs declare one (`direct_types`).
    types: Mapping[str, str] = field(default_factory=dict)  # type -> module
    code: Mapping[str, str] = field(default_factory=dict)  # func -> verified code
    files: Mapping[str, str] = field(default_factory=dict)  # "other.py" -> its text
    # Their generated test files, which a user's `pytest` in the folder runs in the same
    # session as the spec's own ("test_other.py" -> its text).
    tests: Mapping[str, str] = field(default_factory=dict)
    # The types the used specs declare ("other.Point"): the only classes of those modules
    # whose instances are records, whatever else their code defines.
    records: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """Part of every unit's key: a change in a used module recompiles its users."""
        digest = hashlib.sha256()
        for name, text in sorted(self.files.items()):
            digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        return digest.hexdigest() if self.files else ""

    def merged(self, other: Used) -> Used:
        return Used(
            imports={**self.imports, **other.imports},
            types={**other.types, **self.types},
            code={**other.code, **self.code},  # the first `# use`'s, as imported
            files={**self.files, **other.files},
            tests={**self.tests, **other.tests},
            records=tuple(dict.fromkeys((*self.records, *other.records))),
        )


def declared_records(graph: SpecGraph, path: Path) -> tuple[str, ...]:
    """The types the specs the spec at `path` uses declare, directly or through others,
    as "module.Type" (`Used.records`)."""
    found: list[str] = []
    for reached in graph.reached(path):
        used = graph.file(reached.path).module
        if used is not None:
            found += [f"{used.name}.{t.name}" for t in used.types]
    return tuple(dict.fromkeys(found))


def direct_types(graph: SpecGraph, path: Path) -> dict[str, str]:
    """The types of the specs the spec at `path` uses directly, each by its name to its
    module, the first `# use`'s where two declare a name (`Used.types`, as compile has it),
    less those an example reads as a function (`scoped_types`)."""
    found: dict[str, str] = {}
    functions: dict[str, tuple[str, ...]] = {}
    for target in graph.uses(path):
        used = graph.file(target).module
        if used is not None:
            functions[used.name] = tuple(f.name for f in used.funcs)
            for typedef in used.types:
                found.setdefault(typedef.name, used.name)
    module = graph.file(path).module
    return found if module is None else scoped_types(module, functions, found)


def scoped_types(
    module: Module, imports: Mapping[str, tuple[str, ...]], types: Mapping[str, str]
) -> dict[str, str]:
    """`types` (by name to module) less those whose name is a function of the spec or of a
    spec it uses (`imports`, module to functions): its examples call the function by that
    name (`calls.scope_of`), so no module, test file, prompt or oracle may take the type
    by it. Without this, which of the two a module and its test file imported depended on
    how the used modules' names sort."""
    functions = {f.name for f in module.funcs}
    functions |= {name for names in imports.values() for name in names}
    return {name: where for name, where in types.items() if name not in functions}


def module_imports(
    module: Module, imports: Mapping[str, tuple[str, ...]], types: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """What the generated module, and where an example names it its test file, import from
    each used module: the used functions (`imports`), and the used types (`types`, by name
    to module) an example of the spec builds, which the functions' code may build too (a
    completion writes a body, never an import); a type the spec declares itself is its
    own. A name two used modules have comes from the first (`imports` is in the order of
    the `# use` lines, M054)."""
    named = {
        node.id
        for func in module.funcs
        for example in func.examples
        for text in (example.call, example.expected)
        for tree in [parse_or_none(text) if text else None]
        for node in (ast.walk(tree) if tree is not None else ())
        if isinstance(node, ast.Name)
    }
    taken: set[str] = set()
    found = {}
    for where, names in imports.items():
        found[where] = tuple(name for name in names if name not in taken)
        taken.update(names)
    for name, where in sorted(types.items()):
        if name in named and module.type(name) is None:
            found[where] = (*found.get(where, ()), name)
    return found


@dataclass(frozen=True)
class Absent:
    """A used spec (at any depth) whose generated module is not in the output folder, or
    whose own uses cannot be followed because it cannot be read or parsed."""

    spec: str  # the used spec, as reached from the checked spec's path
    module: Path | None  # the generated module that is missing; None: the spec is unreadable
    use: Use  # the checked spec's own `# use` line this one is reached through


def generated_modules(
    graph: SpecGraph, path: Path, folder: Path
) -> tuple[dict[str, str], list[Absent]]:
    """The generated modules of every spec the spec at `path` uses, directly or through
    others, read from `folder`: compile insists that used modules land beside their users,
    so that is the one place to look. Returns "name.py" -> text, and what could not be
    found."""
    files: dict[str, str] = {}
    absent: list[Absent] = []
    for reached in graph.reached(path):
        shown = _shown(path, reached)
        root = reached.via[0][0]
        used = graph.file(reached.path).module
        if used is None:
            absent.append(Absent(shown, None, root))
            continue
        name = f"{used.name}.py"
        text = _module_text(folder / name)
        if text is None:
            absent.append(Absent(shown, folder / name, root))
        else:
            files[name] = text
    return files, absent


def _shown(path: Path, reached: Reached) -> str:
    """The reached spec's path as seen from the checked spec's path, one `# use` a step."""
    shown = str(path)
    for use, _ in reached.via:
        shown = os.path.normpath(os.path.join(os.path.dirname(shown), use.path))
    return shown


def _module_text(path: Path) -> str | None:
    """The text with newlines translated, as `Path.read_text` gives it; None for anything
    but a readable regular UTF-8 file (a FIFO is never waited on)."""
    try:
        text = read_regular(path).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")
