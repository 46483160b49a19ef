"""The names a backend can be chosen by: the entry points of the group `marshalike.backends`,
read from the installed packages' metadata. The `backend` setting takes its choices from
here; `marshalike.backends.registry` loads the factory a name points at."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

GROUP = "marshalike.backends"


@functools.cache
def registered() -> Mapping[str, EntryPoint]:
    """Every installed backend's entry point, read once from the installed packages."""
    return {point.name: point for point in entry_points(group=GROUP)}


def names() -> tuple[str, ...]:
    """The backends that can be chosen, sorted."""
    return tuple(sorted(registered()))
