"""Click options shared by the commands that compile (`compile`, `watch`): one for each
setting the schema marks as a flag (marshalike/settings/schema.py), so their names, types,
choices and help texts with defaults are the settings' own.

Every setting's option defaults to None: a flag not given leaves the value of pyproject.toml
or the environment in place (`settings.resolve`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from marshalike.build.shard import MOST_SHARDS, ShardError
from marshalike.settings import SETTINGS, Setting, checked

F = TypeVar("F", bound=Callable[..., object])


def setting_option(about: Setting) -> Callable[[F], F]:
    """The option that gives one setting: `--NAME VALUE`, or `--NAME/--no-NAME`."""
    flag = about.flag_name
    if about.type is bool:
        names = f"{flag}/--no-{flag[2:]}"
        return click.option(names, about.name, default=None, help=about.help_text)
    return click.option(flag, about.name, type=click_type(about), help=about.help_text)


def click_type(about: Setting) -> Any:
    """The setting's values as click takes them: its choices, a path, or a number that the
    settings check as they check the same number from pyproject.toml or the environment."""
    if about.choices:
        return click.Choice(about.allowed)
    if about.path:
        return click.Path(file_okay=about.path != "dir")
    if about.type in (int, float):
        return SettingNumber(about)
    return about.type


class SettingNumber(click.ParamType):
    """A number flag, converted and checked by the settings (`settings.checked`): a bad
    one is the same one-line error, exit 2, as in pyproject.toml."""

    def __init__(self, about: Setting) -> None:
        self.about = about
        self.name = "integer" if about.type is int else "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return checked(self.about, value, "flag")


class WholeNumber(click.IntRange):
    """A whole-number option in ASCII digits, as the settings read numbers: `int()` also
    takes other scripts' digits (`٨٠`) and `_` separators, which no number flag takes."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not (value.isascii() and "_" not in value):
            self.fail(f"{value!r} is not a whole number in ASCII digits", param, ctx)
        return super().convert(value, param, ctx)


def _options() -> list[Callable[[F], F]]:
    """In the order `--help` lists them: the settings', then the run's own."""
    return [
        *(setting_option(about) for about in SETTINGS.values() if about.flag),
        click.option(
            "--quick",
            is_flag=True,
            help="One candidate, one attempt, no probe gate; its examples still run.",
        ),
        click.option(
            "--no-main", "no_main", is_flag=True, help="Leave out the module's own command line."
        ),
    ]


def compile_options(command: F) -> F:
    """Add the backend, sampling and output options every compiling command takes."""
    for option in reversed(_options()):
        command = option(command)
    return command


# The settings that choose a model and reach it: what a command that asks a model for text
# but compiles nothing (`decompile`) takes of the settings.
MODEL_SETTINGS = ("backend", "model", "base_url", "api", "quant", "request_timeout", "replay_dir")


def model_options(command: F) -> F:
    """Add the options of `MODEL_SETTINGS`, the same as `compile`'s."""
    for name in reversed(MODEL_SETTINGS):
        command = setting_option(SETTINGS[name])(command)
    return command


def display_options(command: F) -> F:
    """Add what the progress display on stderr shows (`cli.display`): the report on stdout
    is the same whatever they say."""
    options = [
        no_progress_option,
        click.option("-q", "--quiet", is_flag=True, help="No progress: warnings and errors only."),
        click.option("-v", "--verbose", is_flag=True,
                     help="A progress line for every step (sampling, verifying, asking)."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def no_progress_option(command: F) -> F:
    """Add `--no-progress`, which `watch` takes as `compile` does: it writes plain lines
    always, so a command line made for one runs the other."""
    return click.option(
        "--no-progress", "no_progress", is_flag=True,
        help="Plain lines instead of the live table at a terminal (watch writes no other).",
    )(command)  # fmt: skip


def shard_option(command: F) -> F:
    """Add `--shard K/N`: only the specs of shard K of N (`build.shard`)."""
    return click.option(
        "--shard",
        metavar="K/N",
        callback=_ascii_shard,
        help="Only shard K of N of the specs, specs joined by # use kept together; the N "
        "shards together are every spec, each once (for parallel CI jobs); N is at most "
        f"{MOST_SHARDS}.",
    )(command)


def _ascii_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--shard` in ASCII digits, as every number flag takes them (`parse_shard` checks
    the rest)."""
    if value is not None and not value.isascii():
        raise ShardError(f"--shard takes K/N (shard K of N, from 1), not {value!r}")
    return value
