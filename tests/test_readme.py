"""README.md is a short user's guide whose commands and links are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_it_is_short() -> None:
    assert len(README.splitlines()) <= 150


def test_its_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert f"```sh\n{ci}\n```" in README


def test_its_links_lead_to_files_of_the_tree() -> None:
    links = re.findall(r"\]\(([^)#:]+)\)", README)
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_every_command_it_lists_exists() -> None:
    import click

    from marshalike.cli.main import cli

    listed = set(re.findall(r"^\| `marshalike (\w+)", README, re.M))
    assert listed and listed <= set(cli.list_commands(click.Context(cli)))
