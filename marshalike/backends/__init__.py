"""Model backends behind one small interface (`base.Backend`), found by name in the
registry of installed backends (`registry`, the entry points `marshalike.backends`), and
made from settings the caller has already resolved (flags, pyproject, environment)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from marshalike.backends.base import Backend, BackendOptions, Completion, Prompt, Sampling
from marshalike.backends.registry import factory

__all__ = ["Backend", "BackendOptions", "Completion", "Prompt", "Sampling", "make_backend"]


def make_backend(
    name: str,
    options: BackendOptions | None = None,
    *,
    record_dir: str | Path | None = None,
    **values: Any,
) -> Backend:
    """The backend called `name`, given `options` (or `values`, its fields); with
    `record_dir`, every answer is also recorded there."""
    backend = factory(name)(replace(options or BackendOptions(), **values))
    if record_dir is None:
        return backend
    from marshalike.backends.replay import RecordingBackend

    return RecordingBackend(backend, record_dir)
