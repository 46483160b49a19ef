"""Where settings come from: `[tool.marshalike]` in the nearest pyproject.toml, then the
environment (`MARSHALIKE_*`, `OPENAI_*`), then command-line flags; later sources win.
Each value remembers where it came from, for `marshalike config`."""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from marshalike.errors import ConfigError
from marshalike.settings.schema import ENV_KEYS, FILE_KEYS, SETTINGS, Setting, Settings
from marshalike.settings.urls import check_url

# How a flag written in the environment or a file says yes or no.
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def resolve(flags: Mapping[str, Any], start: Path | None = None) -> Settings:
    settings = Settings()
    pyproject = find_pyproject(start or working_folder())
    if pyproject is not None:
        settings = _apply(settings, _from_file(pyproject), f"{pyproject}", typed=True)
    for name, key in _env_names(os.environ).items():
        settings = _apply(settings, {key: os.environ[name]}, f"environment: {name}")
    settings = _apply(settings, {k: v for k, v in flags.items() if v is not None}, "flag")
    return _validate(settings)


GONE = "the working folder no longer exists"


def working_folder() -> Path:
    """The current folder; a ConfigError, in one line, where it was deleted (or moved out
    of reach) after the command's shell entered it."""
    try:
        return Path.cwd()
    except (FileNotFoundError, PermissionError):
        raise ConfigError(GONE) from None


def working_folder_gone() -> bool:
    """Whether `working_folder` would say the folder is gone."""
    try:
        working_folder()
    except ConfigError:
        return True
    return False


def find_pyproject(start: Path) -> Path | None:
    if not start.is_absolute():
        start = working_folder() / start
    for folder in [start.resolve(), *start.resolve().parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _from_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read: {reason}") from None
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    tool = parsed.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: 'tool' must be a table, got {tool!r}")
    table = tool.get("marshalike", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'tool.marshalike' must be a table, got {table!r}")
    for key in table:
        if key not in FILE_KEYS:
            line, col = _locate_key(text, key)
            known = ", ".join(sorted(FILE_KEYS))
            raise ConfigError(
                f"{path}:{line}:{col}: unknown key '{key}' in [tool.marshalike] (known: {known})"
            )
    # A path in the file means the same from whichever folder the command runs.
    return {
        key: str(path.parent / value)
        if SETTINGS[key].path and isinstance(value, str) and value
        else value
        for key, value in table.items()
    }


def _locate_key(text: str, key: str) -> tuple[int, int]:
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped.replace(" ", "") == "[tool.marshalike]"
        match = re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line)
        if in_table and match:
            return number, line.index(key[0]) + 1
    return 1, 1


def _env_names(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` marshalike reads, each with its setting, in the
    environment's order (a later one wins: MARSHALIKE_API_KEY over OPENAI_API_KEY)."""
    return {name: ENV_KEYS[name] for name in environ if name in ENV_KEYS}


def _apply(
    settings: Settings, values: Mapping[str, Any], source: str, *, typed: bool = False
) -> Settings:
    """`values` read as their settings' types; what they allow is checked once every
    source is read (`_validate`), so a value a later source replaces is not held against it.
    `typed`: TOML values, whose booleans and numbers must be TOML's, not text."""
    if typed:
        for key, value in values.items():
            _typed(SETTINGS[key], value, source)
    converted = {key: _read(SETTINGS[key], value, source) for key, value in values.items()}
    sources = {**settings.sources, **{key: source for key in converted}}
    return replace(settings, **converted, sources=sources)


def checked(about: Setting, value: Any, source: str) -> Any:
    """`value` of the setting as `source` gave it (a TOML value, or the text of a variable
    or a flag), read as the setting's type and checked as `resolve` checks it."""
    return _check(about, _read(about, value, source), source)


def _read(about: Setting, value: Any, source: str) -> Any:
    """`value` as the setting's type: true or false, text, or a number not yet checked."""
    if value is None:
        return None
    if about.type is bool:
        return _boolean(about.name, value, source)
    if about.type is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{about.name}' must be a string, got {value!r}")
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # TOML's true is no number, though Python's is
    # A variable's or a flag's text: `inf`, `nan`, `1e3` too; in ASCII, without the `_`
    # separators and other scripts' digits that `int()` takes (`4_0`, `٤`).
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and "_" not in text:
        for number in (int, float):
            try:
                return number(text)
            except ValueError:
                pass
    raise ConfigError(
        f"{source}: '{about.name}' must be a number, got {value!r} ({about.expected})"
    )


def _typed(about: Setting, value: Any, source: str) -> None:
    """A TOML value of the setting's TOML type: the spellings `yes` and `1`, or a number
    written as text, are for the environment and flags, whose values are all text."""
    if about.type is bool and not isinstance(value, bool):
        raise ConfigError(
            f"{source}: '{about.name}' must be true or false (a TOML boolean), got {value!r}"
        )
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if about.type in (int, float) and not number:
        raise ConfigError(
            f"{source}: '{about.name}' must be a TOML number, got {value!r} ({about.expected})"
        )


def _check(about: Setting, value: Any, where: str) -> Any:
    """The one check of a setting's value, whichever source gave it: one of its choices;
    a number finite, in its range and, for a whole-number setting, whole (then an int)."""
    if value is None or about.type is bool:
        return value
    if about.type is str:
        # An empty path names no folder: `--out ""` is a mistake, not "beside the spec".
        if not value and (not about.empty or about.path):
            raise ConfigError(f"{where}: {about.name} is empty — leave it unset for the default")
        if about.url:
            return check_url(value, where, about.name)
        if about.choices and value not in (allowed := about.allowed):
            choices = ", ".join(sorted(allowed))
            raise ConfigError(f"{where}: {about.name} must be one of {choices}, got {value!r}")
        return value
    finite = not isinstance(value, float) or math.isfinite(value)
    if not finite or not about.in_range(value):
        raise ConfigError(f"{where}: {about.name} must be {_range(about, finite)}")
    if about.type is float:
        return float(value)
    if isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{where}: {about.name} must be {about.expected}")
    return int(value)


def _range(about: Setting, finite: bool) -> str:
    """What the message says a number out of range (or not finite) must be."""
    if about.type is int:
        return about.expected
    if finite:
        return about.bounds
    return " ".join(part for part in ("a finite number", about.bounds) if part)


def _boolean(key: str, value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ConfigError(f"{source}: '{key}' must be true or false, got {value!r}")


def _validate(settings: Settings) -> Settings:
    """The settings with each value checked (`_check`), and checked together."""
    values = {
        about.name: _check(
            about, getattr(settings, about.name), settings.sources.get(about.name, "default")
        )
        for about in SETTINGS.values()
    }
    settings = replace(settings, **values)
    _validate_quant(settings)
    return settings


def _validate_quant(settings: Settings) -> None:
    """A server already holds its model in memory: `--quant` on the same command line as
    another backend would be silently ignored, so it is an error. From pyproject or the
    environment it is a standing preference, kept for the runs that use the local backend."""
    source = settings.sources.get("quant")
    if settings.quant in ("none", "auto") or source != "flag" or settings.backend_name == "local":
        return
    fix = "drop --quant"
    if settings.backend_name == "openai":
        fix += f", or quantize where the model runs (marshalike serve --quant {settings.quant})"
    raise ConfigError(
        f"flag: --quant {settings.quant} applies to the local backend only, "
        f"not {settings.backend_name} — {fix}"
    )
