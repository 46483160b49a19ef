"""The model `compile` would use, for what a decompile run asks of one: descriptions
(`describe`) and the compiles of a round trip (`roundtrip`).

Its settings are `compile`'s (the flags given, pyproject.toml, the environment), resolved
and made into a job on first need, so a run that asks no model never resolves them; the
backend is started once and shared, so a local model loads once however many functions ask
it. A job that cannot be made raises each time it is asked for (`ConfigError`,
`BackendError`): the caller decides whether that ends the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshalike.build.compiler import SharedBackend
from marshalike.build.job import make_job
from marshalike.build.results import CompileJob
from marshalike.settings import Settings, resolve


class RunModel:
    """The model of one run, given the settings' flags."""

    def __init__(self, flags: Mapping[str, Any]) -> None:
        self._flags = dict(flags)
        self._settings: Settings | None = None
        self._shared: SharedBackend | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = resolve(self._flags)
        return self._settings

    def job(self) -> CompileJob:
        return self.shared().job

    def shared(self) -> SharedBackend:
        """The backend, created at its first model call, and the job it was made from."""
        if self._shared is None:
            self._shared = SharedBackend(make_job(self.settings()))
        return self._shared
