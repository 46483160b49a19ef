"""Import statements of generated files: hoisted out of model code, merged, written sorted.

Each function's code may start with its own imports; the module writes them once, at the
top, so two functions importing `re` give one `import re`. Only top-level imports move:
an import inside a function or under `try:` stays where its author put it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TypeGuard

from marshalike.language.naming import parse_or_none

_LINE_LIMIT = 88  # ruff format's default


@dataclass(frozen=True)
class Imported:
    """One imported name: `import module [as alias]` or `from module import name [as alias]`."""

    module: str
    name: str | None = None
    alias: str | None = None

    def key(self) -> tuple[str, str, str]:
        return (self.module, self.name or "", self.alias or "")

    @property
    def bound(self) -> str:
        """The name this import binds in the importing module."""
        if self.alias:
            return self.alias
        return self.name if self.name else self.module.split(".")[0]

    def phrase(self) -> str:
        target = self.name if self.name else self.module
        return f"{target} as {self.alias}" if self.alias else target


@dataclass
class ImportSet:
    items: set[Imported] = field(default_factory=set)

    def add(self, *items: Imported) -> None:
        self.items.update(items)

    def binds(self, name: str) -> bool:
        return any(i.bound == name for i in self.items if i.module != "__future__")

    def keep_only(self, used: Collection[str]) -> None:
        """Drop the imports whose name nothing in `used` refers to (`from __future__` and
        `*` imports stay): what ruff's F401 would flag in the generated module."""
        self.items = {
            i for i in self.items if i.module == "__future__" or i.name == "*" or i.bound in used
        }

    def groups(self, local: Collection[str] = ()) -> list[str]:
        """The sections isort (and ruff's I001) wants, in its order: `from __future__`, the
        standard library, third-party modules, then this folder's modules (`local`, and
        relative imports). In each, plain imports, then from-imports, sorted."""
        future = [i for i in self.items if i.module == "__future__"]
        sections: list[list[Imported]] = [[], [], []]
        for item in self.items:
            if item.module != "__future__":
                sections[_section(item.module, local)].append(item)
        groups = [_from_line("__future__", sorted(future, key=Imported.key))] if future else []
        for items in sections:
            plain = sorted(f"import {i.phrase()}" for i in items if i.name is None)
            froms = [_from_line(m, names) for m, names in _by_module(items)]
            if plain or froms:
                groups.append("\n".join(plain + froms))
        return groups


def _section(module: str, local: Collection[str]) -> int:
    top = module.split(".")[0]
    if module.startswith(".") or top in local:
        return 2
    return 0 if top in sys.stdlib_module_names else 1


def split_imports(code: str) -> tuple[list[Imported], str]:
    """The top-level imports of `code`, and the code without them.

    Code that does not parse is returned whole: the compiler validates candidates before
    they get here, and emit must not fail on what it was given.
    """
    tree = parse_or_none(code, "exec")
    if not isinstance(tree, ast.Module):
        return [], code.strip("\n")
    imported: list[Imported] = []
    drop: set[int] = set()
    shared = {n for s in tree.body if not _is_import(s) for n in _lines(s)}
    for node in tree.body:
        # `import re; x = 1` stays put: its line cannot be dropped without `x = 1`.
        if _is_import(node) and not shared.intersection(_lines(node)):
            imported.extend(_imported(node))
            drop.update(_lines(node))
    lines = code.split("\n")
    kept = [line for number, line in enumerate(lines, start=1) if number not in drop]
    return imported, "\n".join(kept).strip("\n")


def _is_import(node: ast.stmt) -> TypeGuard[ast.Import | ast.ImportFrom]:
    return isinstance(node, ast.Import | ast.ImportFrom)


def _lines(node: ast.stmt) -> range:
    return range(node.lineno, (node.end_lineno or node.lineno) + 1)


def _imported(node: ast.Import | ast.ImportFrom) -> Iterable[Imported]:
    if isinstance(node, ast.Import):
        return [Imported(a.name, None, a.asname) for a in node.names]
    module = "." * node.level + (node.module or "")
    return [Imported(module, a.name, a.asname) for a in node.names]


def _by_module(items: list[Imported]) -> list[tuple[str, list[Imported]]]:
    modules: dict[str, list[Imported]] = {}
    for item in items:
        if item.name is not None:
            modules.setdefault(item.module, []).append(item)
    return [(m, sorted(modules[m], key=Imported.key)) for m in sorted(modules)]


def _from_line(module: str, names: list[Imported]) -> str:
    line = f"from {module} import {', '.join(n.phrase() for n in names)}"
    if len(line) <= _LINE_LIMIT:
        return line
    inner = "".join(f"    {n.phrase()},\n" for n in names)
    return f"from {module} import (\n{inner})"
