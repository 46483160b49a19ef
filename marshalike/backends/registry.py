"""The backends by name: the entry points of the group `marshalike.backends`. Each names a
factory that takes `BackendOptions` and returns a `Backend`; marshalike's own (local,
openai, replay) are registered in its pyproject.toml as any other package registers one:

    [project.entry-points."marshalike.backends"]
    mine = "my_package.backend:from_options"

A factory's module is imported only when its backend is chosen (the openai SDK is slow to
import, the runtime slower)."""

from __future__ import annotations

from collections.abc import Callable

from marshalike.backends.base import Backend, BackendOptions
from marshalike.errors import BackendError
from marshalike.settings.backends import names, registered

Factory = Callable[[BackendOptions], Backend]


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
