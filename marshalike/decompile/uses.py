"""The `# use` lines between specs decompiled together.

A module that imports functions of another module of the same run (`from a import f`, or
`import a` and `a.f`; from the same folder, the one place the sandbox resolves its imports
from) gets a `# use` of that module's spec, so its examples and description may call them.
Specs may not use each other in a circle (M035): where imports go round in one, the use
that would close it is left out, with a report line. Modules are decompiled used before
users (`Plan.order`), so a use is written only where the used spec holds at least one of
the functions called (a function refused there is not in it).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path

_ALL = "*"  # `from a import *`: every function of a


@dataclass(frozen=True)
class Link:
    """One `# use` of a spec, or one left out, with its report line."""

    spec: str  # the used spec's path relative to the using spec's folder; "" where left out
    note: str


@dataclass(frozen=True)
class Plan:
    """Which of a run's modules use which (by index in the run), and in what order to
    decompile them."""

    order: tuple[int, ...]  # a used module before its users, else the run's order
    uses: Mapping[int, Mapping[int, frozenset[str]]]  # user -> used -> functions it calls
    circular: Mapping[int, Mapping[int, frozenset[str]]]  # uses left out: they close a circle


def plan(modules: Sequence[tuple[Path, str]]) -> Plan:
    """The plan for modules given as (path, source), in the run's order."""
    trees = [_tree(source) for _, source in modules]
    wanted: dict[int, dict[int, frozenset[str]]] = {}
    for i, (path, _) in enumerate(modules):
        taken = imported_names(trees[i])
        for j, (other, _) in enumerate(modules):
            if j == i or _folder(other) != _folder(path) or other.stem not in taken:
                continue
            functions = defined_functions(trees[j])
            called = functions if _ALL in taken[other.stem] else taken[other.stem] & functions
            if called:
                wanted.setdefault(i, {})[j] = frozenset(called)
    uses: dict[int, dict[int, frozenset[str]]] = {i: {} for i in range(len(modules))}
    circular: dict[int, dict[int, frozenset[str]]] = {i: {} for i in range(len(modules))}
    for i in range(len(modules)):
        for j, called_names in sorted(wanted.get(i, {}).items()):
            (circular if _reaches(uses, j, i) else uses)[i][j] = called_names
    return Plan(_order(uses), uses, circular)


def links(
    plan: Plan, user: int, targets: Sequence[Path], held: Mapping[int, Set[str]]
) -> list[Link]:
    """The `# use` lines of module `user`'s spec (and those left out), given where each
    spec is written and the functions each spec decompiled so far holds."""
    found = []
    for used, called in plan.uses[user].items():
        path = _relative(targets[used], targets[user].parent)
        name = f"{targets[used].stem}.py"
        holds = sorted(called & set(held.get(used, ())))
        if any(c.isspace() for c in path):
            found.append(Link("", f"no `# use` of {path}: a `# use` line cannot hold a space"))
        elif holds:
            found.append(Link(path, f"# use {path}: calls {_names(holds)} of {name}"))
        else:
            found.append(
                Link("", f"no `# use {path}`: it holds none of {_names(called)}, called here")
            )
    for used, called in plan.circular[user].items():
        path = _relative(targets[used], targets[user].parent)
        found.append(
            Link(
                "",
                f"no `# use {path}`, though this module calls {_names(called)} of it: "
                f"{targets[used].stem}.py imports this module back (directly or through "
                "others), and specs may not use each other in a circle (M035)",
            )
        )
    return found


def imported_names(tree: ast.Module) -> dict[str, set[str]]:
    """Module name -> the names the code takes from it: `from a import f` and `from .a
    import f` give f, `import a` (or `from . import a`) and `a.f` give f, `from a import *`
    gives `*`."""
    taken: dict[str, set[str]] = {}
    bound: dict[str, str] = {}  # local name -> the module it is
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if "." not in alias.name:
                    bound[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level <= 1:
            if node.module is None:  # `from . import a`
                bound.update({alias.asname or alias.name: alias.name for alias in node.names})
            elif "." not in node.module:
                taken.setdefault(node.module, set()).update(a.name for a in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in bound:
                taken.setdefault(bound[node.value.id], set()).add(node.attr)
    return taken


def defined_functions(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _tree(source: str) -> ast.Module:
    """The module's tree; an empty one where it is not Python (decompiling it says so)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ast.Module([], [])


def _reaches(uses: Mapping[int, Mapping[int, object]], start: int, goal: int) -> bool:
    seen, todo = set(), [start]
    while todo:
        here = todo.pop()
        if here == goal:
            return True
        if here not in seen:
            seen.add(here)
            todo += list(uses.get(here, {}))
    return False


def _order(uses: Mapping[int, Mapping[int, object]]) -> tuple[int, ...]:
    """Each module after those it uses; otherwise in the run's order (the uses have no
    circle, so every module comes)."""
    done: list[int] = []
    while len(done) < len(uses):
        ready = [i for i in uses if i not in done and all(j in done for j in uses[i])]
        done.append(min(ready))
    return tuple(done)


def _folder(path: Path) -> Path:
    return path.resolve().parent


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _names(names: Set[str] | Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names))
