"""The settings schema is the one place each setting's default, choices and spelling are
written: the flags, the file keys, the environment, the loop and the lock take them from
it, and no other module writes a list of a setting's choices."""

from __future__ import annotations

import argparse
import ast
from dataclasses import fields
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from marshalike.backends import BackendOptions
from marshalike.build.job import backend_options
from marshalike.build.lock import SAMPLING_DEFAULTS
from marshalike.cli.compile_cmd import command as compile_command
from marshalike.cli.options import compile_options
from marshalike.cli.watch_cmd import command as watch_command
from marshalike.errors import ConfigError
from marshalike.settings import (
    ENV_KEYS,
    FILE_KEYS,
    LOCKED,
    OLDER_LOCKS,
    SETTINGS,
    add_arguments,
    choices,
    default,
    flag_values,
    repairs,
    resolve,
    token_budget,
)
from marshalike.settings import backends as settings_backends
from marshalike.synth.loop_settings import LoopSettings

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "marshalike" / "settings" / "schema.py"


@pytest.mark.parametrize("command", [compile_command, watch_command])
def test_the_compiling_commands_take_each_flag_setting_as_the_schema_spells_it(
    command: click.Command,
) -> None:
    options = {p.name: p for p in command.params if isinstance(p, click.Option)}
    flagged = [name for name, about in SETTINGS.items() if about.flag]
    assert [name for name in options if name in SETTINGS] == flagged
    for name in flagged:
        option, about = options[name], SETTINGS[name]
        assert option.help == about.help_text, name
        if about.choices:
            assert isinstance(option.type, click.Choice)
            assert tuple(option.type.choices) == choices(name)
    assert options["candidates"].help == "Candidates per attempt [4]."
    assert options["rank"].help.endswith(" [shortest].")
    assert options["holdout"].help.endswith(" [no].")
    assert options["timeout"].help == "Seconds per test run [10]."


def test_a_flag_not_given_leaves_the_file_and_the_environment_in_place() -> None:
    seen: dict[str, object] = {}
    command = compile_options(click.command()(lambda **given: seen.update(given)))
    assert CliRunner().invoke(command, []).exit_code == 0
    flagged = [name for name, about in SETTINGS.items() if about.flag]
    assert {name: seen[name] for name in flagged} == dict.fromkeys(flagged)


def test_the_backend_choices_are_the_registered_backends() -> None:
    assert choices("backend") == settings_backends.names()
    assert {"local", "openai", "replay"} <= set(settings_backends.names())


def test_file_keys_and_environment_variables_come_from_the_schema() -> None:
    assert FILE_KEYS == set(SETTINGS) - {"api_key"}  # a secret never lives in a file
    assert ENV_KEYS["OPENAI_API_KEY"] == ENV_KEYS["MARSHALIKE_API_KEY"] == "api_key"
    assert ENV_KEYS["OPENAI_BASE_URL"] == "base_url"
    assert ENV_KEYS["OPENAI_MODEL"] == "model"
    for name in SETTINGS:
        assert ENV_KEYS[f"MARSHALIKE_{name.upper()}"] == name


@pytest.mark.parametrize("kind", ["chat", "completion"])
def test_the_loops_defaults_are_the_settings_defaults(kind: str) -> None:
    loop = LoopSettings(kind=kind)  # type: ignore[arg-type]
    shared = {f.name for f in fields(LoopSettings)} & set(SETTINGS)
    assert shared >= {"candidates", "attempts", "rank", "probe", "holdout", "seed", "jobs"}
    for name in shared:
        assert getattr(loop, name) == default(name), name
    assert loop.limits.timeout_s == default("timeout")
    assert loop.token_budget == token_budget(kind, default("max_tokens"))  # type: ignore[arg-type]
    assert loop.repairs == repairs(kind, default("repair"))  # type: ignore[arg-type]


def test_the_lock_reads_older_locks_by_the_schema() -> None:
    assert SAMPLING_DEFAULTS == OLDER_LOCKS
    assert set(OLDER_LOCKS) <= set(LOCKED)
    # The loop before these settings were recorded: the plain loop.
    assert OLDER_LOCKS == {
        "rank": "first", "holdout": False, "temperature_step": 0.0, "probe": False,
        "repair": True,
    }  # fmt: skip


def test_a_backend_takes_its_defaults_from_the_schema() -> None:
    options = BackendOptions()
    assert (options.api, options.quant) == (default("api"), default("quant"))
    assert options.timeout == default("request_timeout")


def test_request_timeout_is_a_flag_that_reaches_the_backend(tmp_path: Path) -> None:
    assert "--request-timeout" in _option_names(compile_command)
    settings = resolve({"request_timeout": 7.5}, start=tmp_path)
    assert settings.sources["request_timeout"] == "flag"
    assert backend_options(settings).timeout == 7.5
    with pytest.raises(ConfigError, match="request_timeout must be > 0"):
        resolve({"request_timeout": 0}, start=tmp_path)


def _option_names(command: click.Command) -> set[str]:
    return {name for param in command.params for name in getattr(param, "opts", [])}


def test_benchmark_flags_are_the_settings_flags() -> None:
    parser = argparse.ArgumentParser()
    names = ("backend", "rank", "candidates", "probe", "max_tokens", "temperature_step")
    add_arguments(parser, names)
    assert flag_values(parser.parse_args([]), names) == dict.fromkeys(names)
    given = parser.parse_args(
        ["--rank", "first", "--candidates", "2", "--no-probe", "--max-tokens", "64"]
    )
    assert flag_values(given, ("rank", "candidates", "probe", "max_tokens")) == {
        "rank": "first", "candidates": 2, "probe": False, "max_tokens": 64,
    }  # fmt: skip
    actions = {action.dest: action for action in parser._actions}
    assert tuple(actions["rank"].choices or ()) == choices("rank")
    assert tuple(actions["backend"].choices or ()) == choices("backend")
    assert actions["candidates"].help == SETTINGS["candidates"].help_text
    with pytest.raises(SystemExit):
        parser.parse_args(["--rank", "vote"])


def _string_sets(tree: ast.AST) -> list[tuple[int, frozenset[str]]]:
    """The literal collections of strings in a module (tuples, lists, sets, Literal[...])."""
    found = []
    for node in ast.walk(tree):
        items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else None
        if items and all(isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items):
            found.append((node.lineno, frozenset(i.value for i in items)))  # type: ignore[attr-defined]
    return found


def test_no_module_but_the_schema_writes_a_settings_choices() -> None:
    lists = {frozenset(choices(name)): name for name, about in SETTINGS.items() if about.choices}
    sources = [*(ROOT / "marshalike").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    repeated = [
        f"{path.relative_to(ROOT)}:{line}: the choices of {lists[values]}"
        for path in sources
        if path != SCHEMA
        for line, values in _string_sets(ast.parse(path.read_text(encoding="utf-8")))
        if values in lists
    ]
    assert repeated == []


def test_the_schema_writes_each_choice_list_once() -> None:
    tree = ast.parse(SCHEMA.read_text(encoding="utf-8"))
    lists = [values for _, values in _string_sets(tree)]
    for name, about in SETTINGS.items():
        if about.choices and not callable(about.choices):
            assert lists.count(frozenset(choices(name))) == 1, name
