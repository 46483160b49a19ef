"""Cancelling a compile that is already running, e.g. when watch mode sees a newer edit of
the spec or is told to stop.

A `Cancel` is a request, not an interruption: the compiler looks at it between units and
the loop between attempts, and a cancelled compile raises `Cancelled` before it writes
anything. A model call or a test run already started is left to finish, so no thread is
ever killed half-way through writing a file.
"""

from __future__ import annotations

import threading

from marshalike.errors import MarshalikeError


class Cancelled(MarshalikeError):
    """A compile stopped because it was cancelled; it wrote nothing."""

    def __init__(self) -> None:
        super().__init__("the compile was cancelled")


class Cancel:
    """Set once, from any thread; `linked` events (a session's stop event) also count."""

    def __init__(self, *linked: threading.Event) -> None:
        self._own = threading.Event()
        self._events = (self._own, *linked)

    def set(self) -> None:
        self._own.set()

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


def raise_if_cancelled(cancel: Cancel | None) -> None:
    """Raise `Cancelled` if `cancel` is set; a compile without a token runs to the end."""
    if cancel is not None and cancel.is_set():
        raise Cancelled
