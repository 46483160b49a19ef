"""The specs under examples/: they load cleanly, the README lists exactly them, and the
tier-1 ones really compile with the embedded model (slow), then decompile and compile again
(slow)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from marshalike.decompile.roundtrip import round_trip
from marshalike.language.load import load_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EMBEDDED = EXAMPLES / "embedded"
README = EXAMPLES / "README.md"
SPECS = sorted(EXAMPLES.rglob("*.mrsh"))
# Informal examples are shown to the model only; a spec may use them on purpose.
ALLOWED_WARNINGS = {"M022"}
# A spec name in the README, as `path.mrsh` relative to examples/.
README_SPEC = re.compile(r"`([\w./-]+\.mrsh)`")


def relative(path: Path) -> str:
    return path.relative_to(EXAMPLES).as_posix()


def readme_sections() -> dict[str, list[str]]:
    """The spec names of each `## ` section of the README, in order of appearance."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif line.startswith("- "):
            sections.setdefault(current, []).extend(README_SPEC.findall(line)[:1])
    return sections


@pytest.mark.parametrize("path", SPECS, ids=relative)
def test_every_example_loads_without_errors(path: Path) -> None:
    result = load_spec(path)
    unexpected = [d for d in result.diagnostics if d.code not in ALLOWED_WARNINGS]
    assert unexpected == []
    assert result.module is not None and result.module.funcs


def test_there_are_enough_examples_of_each_kind() -> None:
    modules = {relative(p): load_spec(p).module for p in SPECS}
    assert len([name for name in modules if "/" not in name]) >= 12
    assert any(m and any(t.source for t in m.types) for m in modules.values()), "CSV-backed"
    assert any(m and any(not t.source for t in m.types) for m in modules.values()), "inline"
    assert any(m and m.uses for m in modules.values()), "a spec that uses another"


def test_readme_lists_every_spec_once_and_nothing_else() -> None:
    named = [name for names in readme_sections().values() for name in names]
    assert sorted(named) == sorted(relative(p) for p in SPECS)
    assert len(named) == len(set(named))


def test_readme_tiers_match_the_folders() -> None:
    sections = readme_sections()
    tier1 = next(names for title, names in sections.items() if title.startswith("Tier 1"))
    tier2 = next(names for title, names in sections.items() if title.startswith("Tier 2"))
    assert sorted(tier1) == sorted(relative(p) for p in EMBEDDED.glob("*.mrsh"))
    assert all("/" not in name for name in tier2)


def test_readme_first_command_compiles_a_tier_one_spec() -> None:
    text = README.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if line.startswith("marshalike "))
    assert re.fullmatch(r"marshalike compile examples/embedded/\w+\.mrsh.*", first)
    assert (EXAMPLES.parent / first.split()[2]).is_file()


def compile_tier_one(out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "marshalike", "compile", str(EMBEDDED),
               "--out", str(out), "--seed", "0", "--format", "json"]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)


@pytest.mark.slow
def test_tier_one_compiles_with_the_embedded_model_and_its_tests_pass(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = compile_tier_one(out)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    statuses = {u["name"]: u["status"] for spec in report for u in spec["units"]}
    assert set(statuses.values()) == {"verified"}, statuses
    expected = sorted(f"test_{p.stem}.py" for p in EMBEDDED.glob("*.mrsh"))
    assert sorted(p.name for p in out.glob("test_*.py")) == expected
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out)],
        capture_output=True, text=True, cwd=out, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:]


@pytest.mark.slow
def test_tier_one_modules_decompile_and_compile_again(tmp_path: Path) -> None:
    """Each compiled tier-one module decompiles to a spec that loads clean and whose every
    example holds for it; compiled again with the embedded model, the code agrees with the
    original on every input decompile measured."""
    out = tmp_path / "out"
    out.mkdir()
    assert compile_tier_one(out).returncode == 0
    modules = sorted(str(out / f"{p.stem}.py") for p in EMBEDDED.glob("*.mrsh"))
    specs = tmp_path / "specs"
    command = [sys.executable, "-m", "marshalike", "decompile", *modules, "--out", str(specs),
               "--round-trip"]  # fmt: skip
    env = {**os.environ, "MARSHALIKE_SEED": "0"}  # as tier one compiles (decompile has no flag)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for module in modules:
        name = Path(module).stem
        spec = (specs / f"{name}.mrsh").read_text(encoding="utf-8")
        checked = round_trip(spec, Path(module).read_text(encoding="utf-8"), module)
        assert checked.ok and checked.total >= 3, (name, checked)
    agreed = [line for line in done.stdout.splitlines() if ": round trip: " in line]
    assert len(agreed) == len(modules), done.stdout
    assert all("compiled, agrees with the original" in line for line in agreed), done.stdout
