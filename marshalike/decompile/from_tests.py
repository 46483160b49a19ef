"""Candidate inputs from the project's own tests (`--tests DIR`): the calls of a function
that its tests make with literal arguments.

Every `test_*.py` and `*_test.py` under the folder is read with `ast`, never imported or
run. A call counts where it names the function directly (`clamp(15)`, unless the test file
takes `clamp` from another module or defines its own) or through its module (`people.clamp
(15)`, `import people as p; p.clamp(15)`), where every argument is a literal (keyword
arguments too) or a record of the module built of literals, and where the arguments fit the
function's parameters. Only the call is kept: what the test expects of it is never read; the
call runs against the existing function in the sandbox like every other candidate.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Set
from dataclasses import dataclass
from pathlib import Path

from marshalike.decompile.errors import DecompileError
from marshalike.decompile.reading import Function

MAX_CALLS = 20  # per function: the rest of the candidates keep room
_MAX_FILES = 2000
_MAX_BYTES = 1_000_000
_SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})


@dataclass(frozen=True)
class ParsedTest:
    path: Path
    tree: ast.Module


@dataclass(frozen=True)
class ProjectTests:
    """The test files of a folder, parsed once; those that are not Python are named in
    `skipped`."""

    files: tuple[ParsedTest, ...]
    skipped: tuple[Path, ...] = ()

    @classmethod
    def read(cls, folder: Path) -> ProjectTests:
        """The test files under `folder`; DecompileError, one line, where it is no folder."""
        if not folder.is_dir():
            said = f"{_not_a_folder(folder)} (--tests names the folder of the project's tests)"
            raise DecompileError(f"{folder}: {said}")
        files, skipped = [], []
        for path in _test_paths(folder):
            try:
                if path.stat().st_size > _MAX_BYTES:
                    continue
                files.append(ParsedTest(path, ast.parse(path.read_bytes(), filename=str(path))))
            except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
                skipped.append(path)
        return cls(tuple(files), tuple(skipped))

    def calls(self, module_name: str, func: Function, records: Set[str]) -> tuple[str, ...]:
        """The distinct calls of `func` (of the module `module_name`) the tests make with
        literal arguments, written `name(args)`, at most `MAX_CALLS`."""
        found: list[str] = []
        for file in self.files:
            direct = _direct_names(file.tree, module_name, func.name)
            for node in ast.walk(file.tree):
                if (
                    isinstance(node, ast.Call)
                    and _names_function(node.func, direct, module_name, func.name, file.tree)
                    and _literal_arguments(node, records)
                    and _fits(node, func)
                ):
                    call = ast.Call(ast.Name(func.name), node.args, node.keywords)
                    found.append(ast.unparse(call))
        return tuple(dict.fromkeys(found))[:MAX_CALLS]


def _not_a_folder(path: Path) -> str:
    """What stands at `path`, which is no folder: nothing, a file, or something else."""
    if path.is_file():
        return "is a file, not a folder"
    if path.exists():
        return "not a folder"
    return "no such folder"


def _test_paths(folder: Path) -> Iterator[Path]:
    count = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_FOLDERS)
        for name in sorted(names):
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                count += 1
                if count > _MAX_FILES:
                    return
                yield Path(root) / name


def _direct_names(tree: ast.Module, module_name: str, name: str) -> set[str]:
    """The names a test file calls the function by without its module: those it imports it
    as from its module, and its own name unless the file binds that to something else."""
    found, other = set(), False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            ours = (node.module or "").rsplit(".", 1)[-1] == module_name
            for alias in node.names:
                if ours and alias.name in (name, "*"):
                    found.add(alias.asname or name)
                elif (alias.asname or alias.name) == name:
                    other = True
        elif isinstance(node, ast.Import):
            other |= any((a.asname or a.name) == name for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            other |= node.name == name
    if not other:
        found.add(name)
    return found


def _names_function(
    node: ast.expr, direct: set[str], module_name: str, name: str, tree: ast.Module
) -> bool:
    if isinstance(node, ast.Name):
        return node.id in direct
    if not isinstance(node, ast.Attribute) or node.attr != name:
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute):
        return owner.attr == module_name
    return isinstance(owner, ast.Name) and owner.id in _module_aliases(tree, module_name)


def _module_aliases(tree: ast.Module, module_name: str) -> set[str]:
    found = {module_name}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.asname and alias.name.rsplit(".", 1)[-1] == module_name:
                    found.add(alias.asname)
    return found


def _literal_arguments(node: ast.Call, records: Set[str]) -> bool:
    values = [*node.args, *(k.value for k in node.keywords)]
    return all(k.arg is not None for k in node.keywords) and all(
        _literal(v, records) for v in values
    )


def _literal(node: ast.expr, records: Set[str]) -> bool:
    """A literal, or a record of the module built of literals."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in records:
        return all(_literal(a, records) for a in [*node.args, *(k.value for k in node.keywords)])
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _fits(node: ast.Call, func: Function) -> bool:
    """Whether the arguments bind to the function's parameters, each given once and every
    parameter without a default given."""
    positional = [p for p in func.params if not p.keyword_only]
    if len(node.args) > len(positional):
        return False
    given = {p.name for p in positional[: len(node.args)]}
    names = {p.name for p in func.params}
    for keyword in node.keywords:
        if keyword.arg in given or keyword.arg not in names:
            return False
        given.add(keyword.arg)
    return all(p.name in given or p.default is not None for p in func.params)
