"""Settings a user can get wrong in ways the schema's ranges do not cover: a `[tool]` that
is no table, text where pyproject.toml needs a TOML boolean or number, a server URL that
is no http(s) URL, an empty model. Each is a one-line error naming where it came from
(exit 2); a password in the URL is never printed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli
from marshalike.errors import ConfigError
from marshalike.settings import resolve
from marshalike.settings.urls import shown_url


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("MARSHALIKE_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def refused(tmp_path: Path, text: str) -> str:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        resolve({}, tmp_path)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tool = 5\n", "'tool' must be a table, got 5"),
        ("[tool]\nmarshalike = 5\n", "'tool.marshalike' must be a table, got 5"),
        ('[tool]\nmarshalike = "x"\n', "'tool.marshalike' must be a table, got 'x'"),
    ],
)
def test_a_tool_table_that_is_no_table_is_one_line_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    assert refused(tmp_path, text) == f"{tmp_path / 'pyproject.toml'}: {message}"


def test_config_with_a_bad_tool_table_exits_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("tool = 5\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    where = tmp_path / "pyproject.toml"
    assert result.stderr == f"marshalike: error: {where}: 'tool' must be a table, got 5\n"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('holdout = "yes"', "'holdout' must be true or false (a TOML boolean), got 'yes'"),
        ('holdout = "0"', "'holdout' must be true or false (a TOML boolean), got '0'"),
        ("probe = 1", "'probe' must be true or false (a TOML boolean), got 1"),
        (
            'candidates = "8"',
            "'candidates' must be a TOML number, got '8' (a whole number between 1 and 64)",
        ),
        (
            "timeout = true",
            "'timeout' must be a TOML number, got True (a number > 0 and at most 3600)",
        ),
    ],
)  # fmt: skip
def test_the_file_takes_toml_booleans_and_numbers_only(
    tmp_path: Path, table: str, message: str
) -> None:
    found = refused(tmp_path, f"[tool.marshalike]\n{table}\n")
    assert found == f"{tmp_path / 'pyproject.toml'}: {message}"


def test_the_environment_keeps_its_spellings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MARSHALIKE_HOLDOUT", "yes")
    monkeypatch.setenv("MARSHALIKE_CANDIDATES", "8")
    settings = resolve({}, tmp_path)
    assert (settings.holdout, settings.candidates) == (True, 8)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "is not a valid URL (Invalid IPv6 URL)"),
        ("http://x:abc/v1",
         "is not a valid URL (Port could not be cast to integer value as 'abc')"),
        ("http://x:99999/v1", "is not a valid URL (Port out of range 0-65535)"),
        ("http://[zz]/v1",
         "is not a valid URL ('zz' does not appear to be an IPv4 or IPv6 address)"),
        ("not a url", "is not an http:// or https:// URL"),
        ("ftp://x/", "is not an http:// or https:// URL"),
        ("", "is not an http:// or https:// URL"),
        ("http:///v1", "names no valid host"),
    ],
)  # fmt: skip
def test_a_bad_base_url_is_one_line_with_exit_2_before_any_request(
    tmp_path: Path, url: str, problem: str
) -> None:
    (tmp_path / "s.mrsh").write_text("# func f(x: int): int\n\nx.\n\n* f(1) = 1\n", "utf-8")
    args = ["compile", "s.mrsh", "-q", "--backend", "openai", "--model", "m", "--base-url", url]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"marshalike: error: flag: base_url {url!r} {problem} — give a URL such as "
        "http://127.0.0.1:8000/v1\n"
    )


def test_a_bad_base_url_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://bob:hunter2@[zz]/v1")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "marshalike: error: environment: OPENAI_BASE_URL: base_url 'http://bob:***@[zz]/v1' "
    )
    assert "hunter2" not in result.output


def test_config_hides_the_password_of_the_url(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://bob:hunter2@host:8000/v1")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    assert "'http://bob:***@host:8000/v1'" in result.stdout
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bob:hunter2@host/v1", "http://bob:***@host/v1"),
        ("https://bob:a@b:c@host:1/v1?x=y@z", "https://bob:***@host:1/v1?x=y@z"),
        ("http://bob@host/v1", "http://bob@host/v1"),
        ("http://host/v1/a:b@c", "http://host/v1/a:b@c"),
    ],
)
def test_shown_url_hides_only_the_password(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_a_server_error_hides_the_password(tmp_path: Path) -> None:
    from marshalike.backends.openai_backend import server_model

    with pytest.raises(ConfigError) as info:
        server_model("http://bob:hunter2@127.0.0.1:9/v1", None, 5)
    assert "http://bob:***@127.0.0.1:9/v1" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_an_empty_model_flag_is_a_setting_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"model": ""}, tmp_path)
    assert str(info.value) == "flag: model is empty — leave it unset for the default"


def test_an_empty_model_variable_is_a_setting_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MARSHALIKE_MODEL", "")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert result.stderr == (
        "marshalike: error: environment: MARSHALIKE_MODEL: model is empty — leave it unset "
        "for the default\n"
    )
