"""Effective settings: `[tool.marshalike]` in the nearest pyproject.toml, then the
environment (`MARSHALIKE_*`, `OPENAI_*`), then command-line flags; later sources win.
Each value remembers where it came from, for `marshalike config`."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from marshalike.errors import ConfigError

# How the local backend holds the model's weights: "none" (as the checkpoint stores them,
# fp32 on a CPU), "int4" (runtime/marshalike_runtime/quant.py: the GGUF's own 4- to 8-bit
# codes, on CPU), or "auto": int4 where the model runs on a CPU and our kernels can be
# built, else none (marshalike_runtime/toolchain.py decides, without importing torch). The
# default is one constant so that measurements (benchmarks/runtime_bench.py, quality.py)
# can flip it in one place; README's settings table names it too.
DEFAULT_QUANT = "auto"
QUANT_CHOICES = ("auto", "none", "int4")


@dataclass(frozen=True)
class Settings:
    backend: str | None = None
    model: str | None = None
    base_url: str | None = None
    api: str = "chat"
    api_key: str | None = field(default=None, repr=False)
    candidates: int = 4
    attempts: int = 3
    out: str | None = None
    jobs: int = 4
    seed: int = 0
    timeout: float = 10.0
    temperature: float = 0.8
    max_tokens: int | None = None  # per prompt kind when unset: see `token_budget`
    request_timeout: float = 120.0
    replay_dir: str | None = None
    # Among passing candidates: "shortest" (the least code), "first", or "consensus"
    # (marshalike/gate/consensus.py); the shortest made fewer false successes on the quality
    # benchmark, at no cost in solved tasks.
    rank: str = "shortest"
    holdout: bool = False
    temperature_step: float = 0.0
    # The loop's probe gate (marshalike/gate/overfit.py, consensus.probe_outcomes): on, since it
    # cuts false successes far more than it costs (docs/benchmarks.md, gate_check).
    probe: bool = True
    # Whether attempts after the first show the model its failing code; None: by prompt
    # kind (see `repairs`).
    repair: bool | None = None
    quant: str = DEFAULT_QUANT  # local backend only: see `_validate_quant`
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def backend_name(self) -> str:
        """The backend setting; unset, the local runtime unless a server URL was given to
        marshalike itself (a flag or pyproject.toml). OPENAI_BASE_URL, which other tools
        read too, gives the openai backend its URL but never switches to it."""
        if self.backend:
            return self.backend
        from_env = self.sources.get("base_url", "").startswith("environment")
        return "openai" if self.base_url and not from_env else "local"

    @property
    def token_budget(self) -> int:
        """A completion writes only a body; a chat answer writes the whole function."""
        if self.max_tokens is not None:
            return self.max_tokens
        return 192 if self.prompt_kind == "completion" else 512

    @property
    def repairs(self) -> bool:
        """A base model (completion prompts) samples the first prompt afresh: with the
        embedded model, in the same build and seeds, repairs gave 27 compiled / 20 solved /
        7 false successes, fresh samples 25 / 21 / 4, with 24% fewer prompt tokens on
        HumanEval.
        Chat models repair: published work found repairs pay for capable models."""
        if self.repair is not None:
            return self.repair
        return self.prompt_kind == "chat"

    @property
    def prompt_kind(self) -> str:
        """Base models continue a stub; chat models answer. The local default is a base model."""
        if "api" in self.sources:
            return "completion" if self.api == "completions" else "chat"
        return "completion" if self.backend_name == "local" else "chat"


# Keys allowed in [tool.marshalike]; api_key is not: secrets never live in a committed file.
FILE_KEYS = {
    "backend", "model", "base_url", "api", "candidates", "attempts", "out", "jobs",
    "seed", "timeout", "temperature", "max_tokens", "request_timeout", "replay_dir",
    "rank", "holdout", "temperature_step", "quant", "probe", "repair",
}  # fmt: skip
ENV_KEYS = {
    "OPENAI_BASE_URL": "base_url",
    "OPENAI_API_KEY": "api_key",
    "OPENAI_MODEL": "model",
    **{f"MARSHALIKE_{k.upper()}": k for k in FILE_KEYS},
    "MARSHALIKE_API_KEY": "api_key",
}
CHOICES = {
    "backend": {"local", "openai", "replay"},
    "api": {"chat", "completions"},
    "rank": {"first", "consensus", "shortest"},
    "quant": set(QUANT_CHOICES),
}
# How a flag written in the environment or a file says yes or no.
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def resolve(flags: Mapping[str, Any], start: Path | None = None) -> Settings:
    settings = Settings()
    pyproject = find_pyproject(start or Path.cwd())
    if pyproject is not None:
        settings = _apply(settings, _from_file(pyproject), f"{pyproject}")
    for name, key in _env_names(os.environ).items():
        settings = _apply(settings, {key: os.environ[name]}, f"environment: {name}")
    settings = _apply(settings, {k: v for k, v in flags.items() if v is not None}, "flag")
    _validate(settings)
    return settings


def find_pyproject(start: Path) -> Path | None:
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
        table = tomllib.loads(text).get("tool", {}).get("marshalike", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for key in table:
        if key not in FILE_KEYS:
            line, col = _locate_key(text, key)
            known = ", ".join(sorted(FILE_KEYS))
            raise ConfigError(
                f"{path}:{line}:{col}: unknown key '{key}' in [tool.marshalike] (known: {known})"
            )
    return dict(table)


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


def _apply(settings: Settings, values: Mapping[str, Any], source: str) -> Settings:
    types = {f.name: str(f.type) for f in fields(Settings)}  # annotations are text here
    converted: dict[str, Any] = {}
    for key, value in values.items():
        converted[key] = _convert(key, value, types[key], source)
    sources = {**settings.sources, **{key: source for key in converted}}
    return replace(settings, **converted, sources=sources)


def _convert(key: str, value: Any, kind: str, source: str) -> Any:
    if kind in ("bool", "bool | None"):
        return _boolean(key, value, source)
    try:
        if "int" in kind and not isinstance(value, bool):
            return int(value)
        if "float" in kind:
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: '{key}' must be a number, got {value!r}") from None
    return None if value is None else str(value)


def _boolean(key: str, value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ConfigError(f"{source}: '{key}' must be true or false, got {value!r}")


def _validate(settings: Settings) -> None:
    for key, allowed in CHOICES.items():
        value = getattr(settings, key)
        if value is not None and value not in allowed:
            where = settings.sources.get(key, "default")
            choices = ", ".join(sorted(allowed))
            raise ConfigError(f"{where}: {key} must be one of {choices}, got {value!r}")
    for key in ("candidates", "attempts", "jobs", "max_tokens"):
        if (getattr(settings, key) or 1) < 1:
            raise ConfigError(f"{settings.sources.get(key, 'default')}: {key} must be at least 1")
    if settings.timeout <= 0:
        raise ConfigError(f"{settings.sources.get('timeout', 'default')}: timeout must be > 0")
    if not -2 <= settings.temperature_step <= 2:
        # Each attempt adds the step and the result is clamped to [0, 2]: a step outside
        # [-2, 2] would only ever hit a bound.
        where = settings.sources.get("temperature_step", "default")
        raise ConfigError(f"{where}: temperature_step must be between -2 and 2")
    _validate_quant(settings)


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
