"""docs/models.md: its commands, links and model names are real, and every model it
recommends is of an architecture the runtime loads."""

from __future__ import annotations

import re
from pathlib import Path

import click

from marshalike.backends import hub
from marshalike.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "models.md"
TEXT = DOC.read_text(encoding="utf-8")


def test_every_command_it_names_exists() -> None:
    found = re.findall(r"^marshalike (\w+)|`marshalike (\w+)", TEXT, re.M)
    named = {first or second for first, second in found}
    assert {"models", "compile", "cache"} <= named
    assert named <= set(cli.list_commands(click.Context(cli)))


def test_its_links_lead_to_files() -> None:
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", TEXT)
    assert [link for link in links if not (DOC.parent / link).exists()] == []


def test_its_models_are_hub_names_of_supported_families() -> None:
    models = set(re.findall(r"hf:[\w.-]+/[\w.-]+", TEXT)) - {"hf:OWNER/REPO"}
    assert len(models) >= 4
    for model in models:
        ref = hub.parse(model)
        assert ref.file is None and "Qwen2.5-Coder" in ref.repo, model  # qwen2 GGUFs


def test_readme_and_integrations_link_it() -> None:
    assert "](docs/models.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](models.md)" in (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
