"""The benchmarks measure marshalike through its public API: every name they import from
`marshalike` or `marshalike_runtime`, or read off a module of theirs, is one that
benchmarks/README.md lists under "The API they use"."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("marshalike", "marshalike_runtime")
SOURCES = {"marshalike": ROOT, "marshalike_runtime": ROOT / "runtime"}


def declared() -> set[tuple[str, str]]:
    """(module, name) pairs of the README's list."""
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    section = text.split("## The API they use", 1)[1]
    pairs = set()
    for line in section.splitlines():
        if match := re.match(r"- `([\w.]+)`: (.*)", line):
            pairs |= {(match[1], name) for name in re.findall(r"`(\w+)`", match[2])}
    return pairs


def is_module(dotted: str) -> bool:
    parts = dotted.split(".")
    path = SOURCES[parts[0]].joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def used(tree: ast.Module) -> set[tuple[str, str]]:
    """(module, name) pairs a benchmark imports or reads off an imported module."""
    pairs: set[tuple[str, str]] = set()
    modules: dict[str, str] = {}  # local name -> module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGES):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if is_module(dotted):
                    modules[alias.asname or alias.name] = dotted
                else:
                    pairs.add((node.module or "", alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGES):
                    pairs.add((alias.name, "*"))  # a bare import: the list names no module
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in modules:
                pairs.add((modules[node.value.id], node.attr))
    return pairs


def test_the_list_names_only_public_names_of_real_modules() -> None:
    pairs = declared()
    assert len(pairs) > 10
    for module, name in pairs:
        assert is_module(module), module
        assert not name.startswith("_") and not any(p.startswith("_") for p in module.split("."))


def test_the_benchmarks_use_only_the_listed_api() -> None:
    allowed = declared()
    found = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.name}: {m}.{n}" for m, n in sorted(used(tree) - allowed)]
    # A new public name a benchmark needs goes into the README's list, with this test.
    assert found == [], "not in benchmarks/README.md's list: " + ", ".join(found)


def test_a_private_helper_is_caught() -> None:
    tree = ast.parse(
        "from marshalike.synth import loop\n"
        "from marshalike.synth.loop import make_harness\n"
        "loop.gate_reason(1)\n"
    )
    assert used(tree) == {
        ("marshalike.synth.loop", "make_harness"),
        ("marshalike.synth.loop", "gate_reason"),
    }
