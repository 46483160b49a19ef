"""Every setting's value is checked once, in the settings layer, whichever source gave it
(pyproject.toml, the environment, a flag): whole numbers must be whole, numbers finite and
in their range, text settings text; a bad one is a one-line error naming the setting, the
source and what is allowed (exit 2), never an internal error or a value silently changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli
from marshalike.errors import ConfigError
from marshalike.settings import SETTINGS, resolve
from marshalike.settings.reference import markdown

ENV = "environment: MARSHALIKE_"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("MARSHALIKE_", "OPENAI_"))]:
        monkeypatch.delenv(name)


def project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.marshalike]\n{table}\n", encoding="utf-8")
    return tmp_path


def refused(tmp_path: Path, table: str) -> str:
    with pytest.raises(ConfigError) as info:
        resolve({}, project(tmp_path, table))
    return str(info.value).removeprefix(f"{tmp_path / 'pyproject.toml'}: ")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("candidates = inf", "candidates must be a whole number between 1 and 64"),
        ("jobs = inf", "jobs must be a whole number between 1 and 64"),
        ("seed = inf", "seed must be a whole number between 0 and 2147483647"),
        ("questions = 1e999", "questions must be a whole number between 0 and 20"),
        ("attempts = nan", "attempts must be a whole number between 1 and 20"),
        ("temperature = nan", "temperature must be a finite number between 0 and 2"),
        ("temperature = inf", "temperature must be a finite number between 0 and 2"),
        ("temperature = 2.5", "temperature must be between 0 and 2"),
        ("timeout = 1e300", "timeout must be > 0 and at most 3600"),
        ("request_timeout = 1e300", "request_timeout must be > 0 and at most 86400"),
        ("candidates = 1.5", "candidates must be a whole number between 1 and 64"),
        ("candidates = 1e9", "candidates must be a whole number between 1 and 64"),
        ("jobs = 1000", "jobs must be a whole number between 1 and 64"),
        ("seed = -1", "seed must be a whole number between 0 and 2147483647"),
        ("max_tokens = 0.5", "max_tokens must be a whole number at least 1"),
        ("model = ['a']", "'model' must be a string, got ['a']"),
        ("out = 5", "'out' must be a string, got 5"),
        ("base_url = { url = 'x' }", "'base_url' must be a string, got {'url': 'x'}"),
        ("backend = 1", "'backend' must be a string, got 1"),
        (
            "candidates = 'many'",
            "'candidates' must be a TOML number, got 'many' (a whole number between 1 and 64)",
        ),
        (
            "temperature = true",
            "'temperature' must be a TOML number, got True (a number between 0 and 2)",
        ),
    ],
)
def test_a_bad_value_in_pyproject_is_one_line_naming_the_setting_and_range(
    tmp_path: Path, table: str, message: str
) -> None:
    assert refused(tmp_path, table) == message


def test_whole_and_finite_values_are_taken_as_they_are(tmp_path: Path) -> None:
    start = project(tmp_path, "candidates = 2.0\njobs = 64\nseed = 2147483647\ntemperature = 0")
    settings = resolve({}, start)
    assert (settings.candidates, settings.jobs, settings.seed) == (2, 64, 2147483647)
    assert type(settings.candidates) is int and settings.temperature == 0.0


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("candidates", "inf", "candidates must be a whole number between 1 and 64"),
        ("candidates", "1.5", "candidates must be a whole number between 1 and 64"),
        ("jobs", "1e9", "jobs must be a whole number between 1 and 64"),
        ("temperature", "nan", "temperature must be a finite number between 0 and 2"),
        ("timeout", "-inf", "timeout must be a finite number > 0 and at most 3600"),
        ("seed", "many", "'seed' must be a number, got 'many' (a whole number between 0 and "
                         "2147483647)"),
        ("candidates", "4_0", "'candidates' must be a number, got '4_0' (a whole number "
                              "between 1 and 64)"),
        ("candidates", "\u0664", "'candidates' must be a number, got '\u0664' (a whole number "
                                  "between 1 and 64)"),
    ],
)  # fmt: skip
def test_the_environment_and_flags_get_the_same_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, message: str
) -> None:
    monkeypatch.setenv(f"MARSHALIKE_{name.upper()}", text)
    with pytest.raises(ConfigError) as info:
        resolve({}, tmp_path)
    assert str(info.value) == f"{ENV}{name.upper()}: {message}"
    monkeypatch.delenv(f"MARSHALIKE_{name.upper()}")
    with pytest.raises(ConfigError) as info:
        resolve({name: text}, tmp_path)
    assert str(info.value) == f"flag: {message}"


def test_a_variable_s_text_is_read_as_a_number(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MARSHALIKE_CANDIDATES", " 3 ")
    monkeypatch.setenv("MARSHALIKE_TEMPERATURE", "1")
    monkeypatch.setenv("MARSHALIKE_SEED", "1e3")
    settings = resolve({}, tmp_path)
    assert (settings.candidates, settings.temperature, settings.seed) == (3, 1.0, 1000)


def test_a_value_a_later_source_replaces_is_not_held_against_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARSHALIKE_CANDIDATES", "2")
    assert resolve({}, project(tmp_path, "candidates = inf")).candidates == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--candidates", "1.5"], "flag: candidates must be a whole number between 1 and 64"),
        (["--jobs", "inf"], "flag: jobs must be a whole number between 1 and 64"),
        (["--timeout", "nan"], "flag: timeout must be a finite number > 0 and at most 3600"),
        (["--seed", "-3"], "flag: seed must be a whole number between 0 and 2147483647"),
    ],
)
def test_a_bad_flag_is_the_same_one_line_error_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.mrsh").write_text("# func f(): int\n\nOne.\n\n* f() = 1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["compile", "a.mrsh", *args])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"marshalike: error: {message}\n"


def test_check_s_timeout_flag_is_the_setting_s(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.mrsh").write_text("# func f(): int\n\nOne.\n\n* f() = 1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "a.mrsh", "--timeout", "inf"])
    assert result.exit_code == 2
    assert result.stderr == (
        "marshalike: error: flag: timeout must be a finite number > 0 and at most 3600\n"
    )


@pytest.mark.parametrize("table", ["candidates = inf", "temperature = nan", "model = ['a']"])
def test_config_reports_a_bad_value_in_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    monkeypatch.chdir(project(tmp_path, table))
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert result.stderr.startswith("marshalike: error: ") and result.stderr.count("\n") == 1
    assert "internal error" not in result.stderr


def test_the_reference_says_each_number_s_range() -> None:
    text = markdown()
    for name, about in SETTINGS.items():
        if about.type in (int, float) and about.bounds:
            section = text.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
            assert f"- {about.expected}\n" in section, name
    assert "- a whole number between 1 and 64\n" in text  # candidates, jobs
    assert "- a number between 0 and 2\n" in text  # temperature
