"""The settings schema: every setting once, as a field of `Settings` whose metadata
(`Setting`) says how it is spelled in each place it can be given.

From it come the flags of `compile` and `watch` (cli/options.py) and of the benchmarks
(`add_arguments`), the keys `[tool.marshalike]` allows, the environment variables read, the
checks on values, `marshalike config`'s listing, what the lock records of how a unit's code
was chosen, and the loop's own defaults (synth/loop.py `LoopSettings`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args

from marshalike.settings import backends

Api = Literal["chat", "completions"]
Rank = Literal["first", "consensus", "shortest"]
# How the local backend holds the model's weights: "none" (as the checkpoint stores them,
# fp32 on a CPU), "int4" (runtime/marshalike_runtime/quant.py: the GGUF's own 4- to 8-bit
# codes, on CPU), or "auto": int4 where the model runs on a CPU and our kernels can be
# built, else none (marshalike_runtime/toolchain.py decides, without importing torch).
Quant = Literal["auto", "none", "int4"]
PromptKind = Literal["chat", "completion"]

# Unset, `max_tokens` and `repair` follow the prompt kind (`token_budget`, `repairs`).
# A completion writes only a body; a chat answer writes the whole function.
TOKEN_BUDGETS: Mapping[PromptKind, int] = {"chat": 512, "completion": 192}
# A base model (completion prompts) samples the first prompt afresh, which makes fewer
# false successes than showing it its failing code and spends fewer prompt tokens; chat
# models repair, which pays for capable models.
REPAIRS: Mapping[PromptKind, bool] = {"chat": True, "completion": False}
# Nucleus sampling's p for every request: fixed, not a setting.
TOP_P = 0.95


def _shown(default: object) -> str:
    """A default as help shows it: 4, 0.5, yes."""
    if isinstance(default, bool):
        return "yes" if default else "no"
    if isinstance(default, float):
        return f"{default:g}"
    return "" if default is None else str(default)


def _number(value: float | None) -> str:
    """A bound as text: 64, 0.5, 2147483647 (never 2.14748e+09)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _by_kind(values: Mapping[PromptKind, object]) -> str:
    return ", ".join(f"{_shown(value)} with {kind} prompts" for kind, value in values.items())


def _backend_names() -> tuple[str, ...]:
    # Installed packages' metadata is read only when a backend is validated or a flag is
    # built, never at import.
    return backends.names()


# `Setting.older_locks` of a setting every lock records.
_RECORDED_FROM_THE_START: Any = object()


@dataclass(frozen=True)
class Setting:
    """How one setting is given and checked; `name`, `default` and `type` are filled in
    from its field of `Settings`."""

    help: str  # one phrase, no final full stop: flags add the default and the stop
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    low: float | None = None  # the least value allowed
    high: float | None = None  # the greatest value allowed
    low_open: bool = False  # the least value itself is not allowed
    env: tuple[str, ...] = ()  # variables read besides MARSHALIKE_NAME (OPENAI_API_KEY)
    secret: bool = False  # never in a file, never printed
    flag: bool = True  # a flag of `compile` and `watch`
    path: Literal["", "dir", "any"] = ""  # the flag names a folder, or any path
    shown: str | None = None  # what help says the default is; None: the default itself
    url: bool = False  # an http or https URL (settings/urls.py), shown without its password
    empty: bool = True  # "" is a value; else an error (leaving it unset is the way)
    locked: bool = False  # the lock records it, as part of how a unit's code was chosen
    # What a lock from before it was recorded means: the loop's behaviour then.
    older_locks: Any = _RECORDED_FROM_THE_START
    name: str = ""
    default: Any = None
    type: type = str  # of a value: int, float, bool or str

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.choices() if callable(self.choices) else self.choices

    @property
    def in_file(self) -> bool:
        return not self.secret

    @property
    def env_names(self) -> tuple[str, ...]:
        return (*self.env, f"MARSHALIKE_{self.name.upper()}")

    @property
    def flag_name(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def help_text(self) -> str:
        """The help of its flags: the phrase and the default, as `[4]`."""
        shown = self.shown if self.shown is not None else _shown(self.default)
        return f"{self.help} [{shown}]." if shown else f"{self.help}."

    @property
    def bounds(self) -> str:
        """The range a value must be in, as the error message says it ("" for none)."""
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"> {low} and at most {high}" if self.low_open else f"between {low} and {high}"
        if self.high is not None:
            return f"at most {high}"
        if self.low is not None:
            return f"> {low}" if self.low_open else f"at least {low}"
        return ""

    @property
    def expected(self) -> str:
        """What a value must be, as messages and the reference say it: "a whole number
        between 1 and 64", "a number > 0", "a string"."""
        if self.type is bool:
            return "true or false"
        if self.type is str:
            return "a string"
        kind = "a whole number" if self.type is int else "a number"
        return f"{kind} {self.bounds}" if self.bounds else kind

    def in_range(self, value: float) -> bool:
        above = self.low is None or value > self.low or (value == self.low and not self.low_open)
        return above and (self.high is None or value <= self.high)


def _setting(default: object, help: str, **about: Any) -> Any:
    """A field of `Settings`: its default and what `Setting` says about it."""
    secret = about.get("secret", False)
    return field(default=default, repr=not secret, metadata={"setting": Setting(help, **about)})


@dataclass(frozen=True)
class Settings:
    """The effective settings (settings/sources.py `resolve`), in the order of `--help`."""

    backend: str | None = _setting(
        None,
        "Who writes the bodies: the bundled runtime, an OpenAI-compatible server, or "
        "recorded responses (tests only)",
        choices=_backend_names,
        shown="local",  # `backend_name`
    )
    model: str | None = _setting(
        None,
        "Model id (openai); a GGUF file, safetensors folder or hf:OWNER/REPO[/FILE.gguf], "
        "downloaded from the Hugging Face Hub on first use (local)",
        env=("OPENAI_MODEL",),
        empty=False,
    )
    base_url: str | None = _setting(
        None,
        "An OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1",
        env=("OPENAI_BASE_URL",),
        url=True,
    )
    api: Api = _setting(
        "chat",
        "The openai backend's API: chat for instruct models, completions for base models",
        choices=get_args(Api),
        shown="",  # unset, the prompt kind follows the backend: `prompt_kind`
    )
    api_key: str | None = _setting(
        None,
        "The server's API key (from the environment, never a file)",
        env=("OPENAI_API_KEY",),
        secret=True,
        flag=False,
    )
    quant: Quant = _setting(
        "auto",
        "Local backend: int4 keeps the GGUF's 4- to 8-bit codes (CPU only); auto is int4 "
        "on a CPU with a C compiler, else none",
        choices=get_args(Quant),
    )
    # Upper bounds keep a typo (1e9) from becoming a run that never ends or a request no
    # server takes; they are far above the defaults.
    candidates: int = _setting(4, "Candidates per attempt", low=1, high=64, locked=True)
    attempts: int = _setting(3, "Attempts, repairs included", low=1, high=20, locked=True)
    # Among passing candidates, the shortest made fewer false successes on the quality
    # benchmark than the first, at no cost in solved tasks.
    rank: Rank = _setting(
        "shortest",
        "Among passing candidates: the first, the one most agree with, or the one with the "
        "least code",
        choices=get_args(Rank),
        locked=True,
        older_locks="first",
    )
    holdout: bool = _setting(
        False,
        "Keep the last of 3+ examples out of the prompts, as a final check",
        locked=True,
        older_locks=False,
    )
    # The probe gate (marshalike/gate/probe.py): on, since it cuts false successes far more
    # than it costs (docs/benchmarks.md, gate_check).
    probe: bool = _setting(
        True,
        "Reject passing code that crashes on inputs mutated from the examples, refuses them "
        "with an error the spec does not promise or returns a value of another type than the "
        "declared one there, special-cases an example's value, returns its output or keeps "
        "the examples' answers in a table, or "
        "ignores a promise of the description (case blindness). Where the only passing code "
        "crashes on an input the spec is silent about, it is accepted with that input as an "
        "open question",
        locked=True,
        older_locks=False,
    )
    questions: int = _setting(
        3,
        "Questions kept per function: inputs no example covers on which code that passes the "
        "examples gives different answers, for you to settle (0: ask none)",
        low=0,
        high=20,
    )
    allow_unchecked: bool = _setting(
        False,
        "Compile a function none of whose examples can be checked, marked unchecked, instead "
        "of failing it",
    )
    repair: bool | None = _setting(
        None,
        "Attempts after the first show the model its failing code; without, they sample the "
        "first prompt again",
        shown=_by_kind(REPAIRS),
        locked=True,
        older_locks=True,
    )
    temperature: float = _setting(
        0.8, "Sampling temperature of the first attempt", low=0, high=2, flag=False, locked=True
    )
    temperature_step: float = _setting(
        0.0,
        "Added to the temperature at each attempt, clamped to [0, 2]",
        # A step outside [-2, 2] would only ever hit a bound.
        low=-2,
        high=2,
        locked=True,
        older_locks=0.0,
    )
    max_tokens: int | None = _setting(
        None,
        "Tokens per completion",
        low=1,
        shown=_by_kind(TOKEN_BUDGETS),
        flag=False,
        locked=True,
    )
    out: str | None = _setting(None, "Write outputs here", path="dir")
    jobs: int = _setting(
        4, "Units and tests run at once, and requests in flight to a model server", low=1, high=64
    )
    # Each attempt and each extra request adds to the seed: the bound leaves room for that
    # below 2**32, for servers whose seeds are 32-bit.
    seed: int = _setting(0, "Sampling seed", low=0, high=2**31 - 1, locked=True)
    timeout: float = _setting(10.0, "Seconds per test run", low=0, low_open=True, high=3600)
    # Answers stream, so this bounds a silence, not an answer's length: a CPU server that
    # queues requests and reads a long prompt can be silent for minutes before its first
    # token, then steady.
    request_timeout: float = _setting(
        300.0,
        "Seconds a model server may stay silent: before its first token (waiting in its "
        "queue and reading the prompt included) and between tokens, however long the whole "
        "answer takes. Generous, since a CPU server queues requests and is slow to start",
        low=0,
        low_open=True,
        high=86400,
    )
    replay_dir: str | None = _setting(None, "Recorded responses (--backend replay)", path="any")
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
    def prompt_kind(self) -> PromptKind:
        """Base models continue a stub; chat models answer. The local default is a base model."""
        if "api" in self.sources:
            return "completion" if self.api == "completions" else "chat"
        return "completion" if self.backend_name == "local" else "chat"

    @property
    def token_budget(self) -> int:
        return token_budget(self.prompt_kind, self.max_tokens)

    @property
    def repairs(self) -> bool:
        return repairs(self.prompt_kind, self.repair)


def token_budget(kind: PromptKind, max_tokens: int | None) -> int:
    """The tokens a completion may take: the setting, else the prompt kind's budget."""
    return TOKEN_BUDGETS[kind] if max_tokens is None else max_tokens


def repairs(kind: PromptKind, repair: bool | None) -> bool:
    """Whether attempts after the first repair: the setting, else the prompt kind's way."""
    return REPAIRS[kind] if repair is None else repair


def _described(item: Any) -> Setting:
    about: Setting = item.metadata["setting"]
    kind = str(item.type)  # annotations are text here
    value_type = {"int": int, "float": float, "bool": bool}.get(kind.removesuffix(" | None"), str)
    return replace(about, name=item.name, default=item.default, type=value_type)


# Every setting by name, in the order of `Settings`.
SETTINGS: Mapping[str, Setting] = {
    item.name: _described(item) for item in fields(Settings) if "setting" in item.metadata
}
# Keys allowed in [tool.marshalike]; no secret: secrets never live in a committed file.
FILE_KEYS = frozenset(name for name, about in SETTINGS.items() if about.in_file)
# Environment variable -> setting.
ENV_KEYS: Mapping[str, str] = {
    env: name for name, about in SETTINGS.items() for env in about.env_names
}
# What the lock records of how a unit's code was chosen.
LOCKED = tuple(name for name, about in SETTINGS.items() if about.locked)
# What a lock from before a setting was recorded reads as: the loop's behaviour then.
OLDER_LOCKS: Mapping[str, Any] = {
    name: about.older_locks
    for name, about in SETTINGS.items()
    if about.older_locks is not _RECORDED_FROM_THE_START
}


def default(name: str) -> Any:
    """The setting's default: the one place it is written."""
    return SETTINGS[name].default


def choices(name: str) -> tuple[str, ...]:
    """The values the setting allows (the registered backends for `backend`)."""
    return SETTINGS[name].allowed
