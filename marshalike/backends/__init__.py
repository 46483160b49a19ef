"""Model backends behind one small interface (`base.Backend`), and the factory that picks
one from settings the caller has already resolved (flags, pyproject, environment)."""

from __future__ import annotations

from pathlib import Path

from marshalike.backends.base import Backend, Completion, Prompt, Sampling
from marshalike.errors import BackendError
from marshalike.settings import default

__all__ = ["Backend", "Completion", "Prompt", "Sampling", "BACKENDS", "make_backend"]

BACKENDS = ("local", "openai", "replay")


def make_backend(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api: str = default("api"),
    api_key: str | None = None,
    timeout: float = default("request_timeout"),
    max_retries: int = 3,
    replay_dir: str | Path | None = None,
    record_dir: str | Path | None = None,
    quant: str = default("quant"),
) -> Backend:
    """The backend called `name`; with `record_dir`, every answer is also recorded there.
    `quant` is the local backend's weight format."""
    backend = _make(name, model, base_url, api, api_key, timeout, max_retries, replay_dir, quant)
    if record_dir is None:
        return backend
    from marshalike.backends.replay import RecordingBackend

    return RecordingBackend(backend, record_dir)


def _make(
    name: str,
    model: str | None,
    base_url: str | None,
    api: str,
    api_key: str | None,
    timeout: float,
    max_retries: int,
    replay_dir: str | Path | None,
    quant: str,
) -> Backend:
    # Imported only when chosen: the openai SDK is slow to import, the runtime slower.
    if name == "openai":
        from marshalike.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            model=model,
            base_url=base_url,
            api_key=api_key,
            api=api,
            timeout=timeout,
            max_retries=max_retries,
        )
    if name == "local":
        from marshalike.backends.local import LocalBackend

        return LocalBackend(model, quant=quant)
    if name == "replay":
        from marshalike.backends.replay import ReplayBackend

        if replay_dir is None:
            raise BackendError("the replay backend needs recordings — pass --replay-dir DIR")
        return ReplayBackend(replay_dir, model=model, api=api)
    raise BackendError(f"unknown backend {name!r} — choose one of {', '.join(BACKENDS)}")
