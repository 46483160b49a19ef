from __future__ import annotations

from pathlib import Path

import pytest

from marshalike.errors import ConfigError
from marshalike.settings import resolve


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL", "MARSHALIKE_MODEL",
                 "MARSHALIKE_CANDIDATES"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def project(tmp_path: Path, table: str) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.marshalike]\n{table}")
    sub = tmp_path / "specs"
    sub.mkdir()
    return sub


def test_defaults_use_the_local_backend(tmp_path: Path) -> None:
    settings = resolve({}, tmp_path)
    assert (settings.backend_name, settings.candidates, settings.attempts) == ("local", 4, 3)
    assert settings.prompt_kind == "completion"


def test_flags_beat_environment_beat_pyproject(tmp_path: Path, monkeypatch) -> None:
    start = project(tmp_path, "model = 'from-file'\ncandidates = 2\nattempts = 5\n")
    monkeypatch.setenv("MARSHALIKE_MODEL", "from-env")
    monkeypatch.setenv("MARSHALIKE_CANDIDATES", "3")
    settings = resolve({"model": "from-flag", "seed": None}, start)
    assert (settings.model, settings.candidates, settings.attempts) == ("from-flag", 3, 5)
    assert settings.sources["model"] == "flag"
    assert settings.sources["candidates"] == "environment"
    assert settings.sources["attempts"] == str(tmp_path / "pyproject.toml")


def test_a_base_url_selects_the_openai_backend_and_chat(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    settings = resolve({}, tmp_path)
    assert (settings.backend_name, settings.prompt_kind) == ("openai", "chat")


def test_unknown_key_is_located(tmp_path: Path) -> None:
    start = project(tmp_path, "model = 'm'\ncandidats = 2\n")
    with pytest.raises(ConfigError) as info:
        resolve({}, start)
    assert str(info.value).startswith(
        f"{tmp_path / 'pyproject.toml'}:6:1: unknown key 'candidats' in [tool.marshalike]"
    )


def test_bad_values_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'candidates' must be a number, got 'many'"):
        resolve({}, project(tmp_path / "p", "candidates = 'many'\n"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(ConfigError, match="api must be one of chat, completions, got 'rest'"):
        resolve({"api": "rest"}, elsewhere)


def test_config_command_shows_values_and_sources(tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from marshalike.cli.main import cli

    start = project(tmp_path / "p", "model = 'tiny'\n")
    monkeypatch.chdir(start)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-printed")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert f"{'model':<16} = {repr('tiny'):<40} # {tmp_path / 'p' / 'pyproject.toml'}" in lines
    assert f"{'api_key':<16} = {repr('(set)'):<40} # environment" in lines
    assert "sk-never-printed" not in result.stdout


def test_loop_features_from_file_environment_and_flags(tmp_path: Path, monkeypatch) -> None:
    start = project(tmp_path, "rank = 'consensus'\nholdout = true\ntemperature_step = 0.25\n")
    settings = resolve({}, start)
    assert (settings.rank, settings.holdout, settings.temperature_step) == ("consensus", True, 0.25)
    monkeypatch.setenv("MARSHALIKE_HOLDOUT", "no")
    monkeypatch.setenv("MARSHALIKE_TEMPERATURE_STEP", "0.5")
    settings = resolve({"rank": "first"}, start)
    assert (settings.rank, settings.holdout, settings.temperature_step) == ("first", False, 0.5)
    assert settings.sources["holdout"] == "environment"


def test_loop_features_are_off_by_default(tmp_path: Path) -> None:
    settings = resolve({}, tmp_path)
    assert (settings.rank, settings.holdout, settings.temperature_step) == ("first", False, 0.0)


def test_bad_loop_feature_values_are_reported(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"rank": "vote"}, tmp_path)
    assert str(info.value) == "flag: rank must be one of consensus, first, got 'vote'"
    monkeypatch.setenv("MARSHALIKE_HOLDOUT", "sometimes")
    with pytest.raises(ConfigError) as info:
        resolve({}, tmp_path)
    assert str(info.value) == "environment: 'holdout' must be true or false, got 'sometimes'"
    monkeypatch.delenv("MARSHALIKE_HOLDOUT")
    with pytest.raises(ConfigError) as info:
        resolve({"temperature_step": 3}, tmp_path)
    assert str(info.value) == "flag: temperature_step must be between -2 and 2"


def test_compile_flags_reach_the_loop_settings(tmp_path: Path, monkeypatch) -> None:
    import click

    from marshalike.cli import compile_cmd

    seen: dict[str, object] = {}
    real_make_job = compile_cmd.make_job

    def fake_make_job(settings, **kwargs):  # type: ignore[no-untyped-def]
        seen["loop"] = real_make_job(settings, **kwargs).loop
        raise click.exceptions.Exit(0)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.mrsh").write_text("# func f(): int\n\nOne.\n\n* f() = 1\n")
    monkeypatch.setattr(compile_cmd, "make_job", fake_make_job)
    from click.testing import CliRunner

    args = ["a.mrsh", "--rank", "consensus", "--holdout", "--temperature-step", "0.3"]
    result = CliRunner().invoke(compile_cmd.command, args)
    assert result.exit_code == 0, result.output
    loop = seen["loop"]
    assert (loop.rank, loop.holdout, loop.temperature_step) == ("consensus", True, 0.3)
