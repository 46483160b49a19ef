"""The package's phases import downward only: data flows spec → AST → code → verdicts →
files, and a phase never reaches a later one (nor the runtime the compiler)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "marshalike"
# Each phase may import itself and the phases before it (parse_lock, first, is no phase of
# the data: it makes `ast.parse` safe in threads for all of them).
LAYERS = (
    "parse_lock", "errors", "settings", "language", "codegen", "sandbox", "gate", "backends",
    "synth", "build", "lsp", "decompile", "cli", "__main__",
)  # fmt: skip


def _phase(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_phases(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "marshalike":
                names = [f"marshalike.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "marshalike" and len(parts) > 1 and parts[1] != "__version__":
                found.add(parts[1])
    return found


def test_every_module_belongs_to_a_phase() -> None:
    phases = {_phase(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert phases <= set(LAYERS), phases - set(LAYERS)


def test_phases_import_only_themselves_and_earlier_phases() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        phase = _phase(path)
        if phase == "__init__":
            continue
        for target in _imported_phases(path):
            if LAYERS.index(target) > LAYERS.index(phase):
                upward.append(f"{path.relative_to(PACKAGE)} imports marshalike.{target}")
    assert upward == []


def test_code_that_runs_inside_the_sandbox_imports_nothing_of_marshalike() -> None:
    scripts = PACKAGE / "sandbox" / "scripts"
    for path in scripts.glob("*.py"):
        if path.name != "__init__.py":
            assert _imported_phases(path) == set(), path.name
