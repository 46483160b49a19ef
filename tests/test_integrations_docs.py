"""docs/integrations.md: its commands, links and shell-completion lines are the real ones."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from marshalike.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "integrations.md"
TEXT = DOC.read_text(encoding="utf-8")


def test_every_command_it_names_exists() -> None:
    named = set(re.findall(r"`marshalike (\w+)", TEXT))
    assert {"init", "cache", "check", "parse"} <= named
    assert named <= set(cli.list_commands(click.Context(cli)))


def test_its_links_lead_to_files() -> None:
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", TEXT)
    assert links and [link for link in links if not (DOC.parent / link).exists()] == []


def test_the_completion_variable_is_the_entry_points() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    [name] = scripts
    variable = f"_{name.upper().replace('-', '_')}_COMPLETE"
    assert f"{variable}=bash_source {name}" in TEXT
    assert set(re.findall(r"(_\w+_COMPLETE)=", TEXT)) == {variable}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script_is_generated(shell: str) -> None:
    code = "import sys; sys.argv = ['marshalike']; from marshalike.cli.main import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"_MARSHALIKE_COMPLETE": f"{shell}_source", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "_MARSHALIKE_COMPLETE" in done.stdout and "marshalike" in done.stdout
