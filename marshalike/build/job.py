"""What a compile needs from the settings (`make_job`): the loop's settings, the backend's
factory and the model id that keys the lock. Public: the CLI's `compile` and `watch` and
the benchmarks build their jobs here."""

from __future__ import annotations

import sys
from dataclasses import fields, replace
from pathlib import Path

from marshalike.backends import BackendOptions, make_backend
from marshalike.backends.base import Backend
from marshalike.backends.local import model_id
from marshalike.build.results import CompileJob
from marshalike.errors import ConfigError
from marshalike.sandbox.isolation import Limits
from marshalike.settings import SETTINGS, Settings
from marshalike.synth.loop_settings import LoopSettings


def make_job(
    settings: Settings, *, quick: bool = False, frozen: bool = False, main: bool = True
) -> CompileJob:
    """The job `settings` describe; `quick` takes one candidate in one attempt, `frozen` fails a
    unit that would need a model call, `main` appends the module's own command line."""
    name = settings.backend_name
    model = _model_id(settings)
    options = backend_options(settings)
    if name == "openai":  # the model the server lists, where none was configured
        options = replace(options, model=model)

    def factory() -> Backend:
        return make_backend(name, options)

    out = Path(settings.out) if settings.out else None
    loop = loop_settings(settings, quick=quick)
    return CompileJob(factory, name, model, loop, out=out, frozen=frozen, main=main)


def loop_settings(settings: Settings, *, quick: bool = False) -> LoopSettings:
    """The loop's settings: each one the schema holds by the same name, then those the loop
    takes resolved (prompt kind, token budget, repair, temperature with --quick, limits)."""
    same = {f.name: getattr(settings, f.name) for f in fields(LoopSettings) if f.name in SETTINGS}
    resolved = {
        "kind": settings.prompt_kind,
        "temperature": _temperature(settings, quick),
        "max_tokens": settings.token_budget,
        "repair": settings.repairs,
        "quick": quick,
        "limits": Limits(timeout_s=settings.timeout),
    }
    return LoopSettings(**{**same, **resolved})


def backend_options(settings: Settings) -> BackendOptions:
    """What a backend's factory is given of the settings."""
    return BackendOptions(
        model=settings.model,
        base_url=settings.base_url,
        api=settings.api,
        api_key=settings.api_key,
        timeout=settings.request_timeout,
        replay_dir=settings.replay_dir,
        quant=settings.quant,
        jobs=settings.jobs,
    )


def _temperature(settings: Settings, quick: bool) -> float:
    """--quick takes one candidate and no loop: the model's best guess (greedy), not a
    sample, unless a temperature was configured explicitly."""
    if quick and "temperature" not in settings.sources:
        return 0.0
    return settings.temperature


def _model_id(settings: Settings) -> str:
    if settings.backend_name == "local":
        return model_id(settings.model, settings.quant)
    if settings.model:
        return settings.model
    if settings.backend_name == "openai":
        return _served_model(settings)
    raise ConfigError(
        f"no model configured for the {settings.backend_name} backend — pass --model, "
        "set OPENAI_MODEL, or add `model = ...` to [tool.marshalike] in pyproject.toml"
    )


def _served_model(settings: Settings) -> str:
    """The model of a server that lists exactly one, said on stderr; else a BackendError."""
    from marshalike.backends.openai_backend import DEFAULT_BASE_URL, server_model
    from marshalike.settings.urls import shown_url

    model = server_model(settings.base_url, settings.api_key, settings.request_timeout)
    server = shown_url(settings.base_url or DEFAULT_BASE_URL)
    print(f"marshalike: using model {model}, the only one {server} lists", file=sys.stderr)
    return model
