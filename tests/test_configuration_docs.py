"""docs/configuration.md is what the settings schema says, word for word."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from marshalike.cli.config_cmd import command
from marshalike.settings import SETTINGS
from marshalike.settings.reference import markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_the_reference_in_docs_is_the_schema_s() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/configuration.md is stale: marshalike config --reference > docs/configuration.md"
    )


def test_every_setting_has_a_section_with_its_default_and_variables() -> None:
    text = markdown()
    for name, about in SETTINGS.items():
        section = text.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        assert about.help in section
        assert all(f"`{variable}`" in section for variable in about.env_names)
        assert ("flag: `" + about.flag_name) in section if about.flag else "flag:" not in section


def test_config_prints_the_reference() -> None:
    result = CliRunner().invoke(command, ["--reference"])
    assert result.exit_code == 0 and result.output == markdown()
