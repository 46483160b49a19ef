"""The settings as argparse flags, for the scripts that compile outside the CLI (the
benchmarks): spelled, typed and explained as `marshalike compile` spells them."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from marshalike.settings.schema import SETTINGS


def add_arguments(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """Add `--NAME` for each named setting. Each is None unless given, so that `resolve`
    keeps the value of pyproject.toml or the environment (`flag_values`)."""
    for name in names:
        about = SETTINGS[name]
        flag = about.flag_name
        if about.type is bool:
            action = argparse.BooleanOptionalAction
            parser.add_argument(flag, dest=name, action=action, help=about.help_text)
        else:
            allowed = about.allowed or None
            parser.add_argument(
                flag, dest=name, type=about.type, choices=allowed, help=about.help_text
            )


def flag_values(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """The named settings' flags as `resolve` takes them."""
    return {name: getattr(args, name) for name in names}
