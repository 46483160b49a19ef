"""The backends by name: the entry points of the group `marshalike.backends`. Each names a
factory that takes `BackendOptions` and returns a `Backend`; marshalike's own (local,
openai, replay) are registered in its pyproject.toml as any other package registers one:

    [project.entry-points."marshalike.backends"]
    mine = "my_package.backend:from_options"

A factory's module is imported only when its backend is chosen (the openai SDK is slow to
import, the runtime slower)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points

from marshalike.backends.base import Backend, BackendOptions
from marshalike.errors import BackendError

GROUP = "marshalike.backends"
Factory = Callable[[BackendOptions], Backend]


@functools.cache
def registered() -> Mapping[str, EntryPoint]:
    """Every installed backend's entry point, read once from the installed packages."""
    return {point.name: point for point in entry_points(group=GROUP)}


def names() -> tuple[str, ...]:
    """The backends that can be chosen, sorted."""
    return tuple(sorted(registered()))


def factory(name: str) -> Factory:
    if not registered():
        raise BackendError(
            f"no backends are registered, so none called {name!r} — reinstall marshalike "
            "(pip install -e .) so that its entry points exist"
        )
    point = registered().get(name)
    if point is None:
        raise BackendError(f"unknown backend {name!r} — choose one of {', '.join(names())}")
    try:
        made: Factory = point.load()
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"the {name} backend cannot be loaded ({point.value}): {exc}") from None
    return made
