"""The HTTP-level limits of `marshalike serve`: what a connection may send and hold.

Plain functions and small classes, no engine and no handler, so each rule can be tested
alone; server.py applies them.

- **Connections**: at most `MAX_CONNECTIONS` are served at once. Past that a connection is
  still read, so that its client is not reset, and answered 503 with `Retry-After`; past
  twice that (a flood) it is closed unread.
- **Bodies**: one body is at most `MAX_BODY_BYTES`, announced by one `Content-Length` of
  ASCII digits (anything else is a 400: a body the server cannot frame would be read as the
  next request). Bodies over `SMALL_BODY_BYTES` share `BODY_BYTES_IN_FLIGHT` bytes across
  the server while their requests run: JSON and the text decoded from it take several times
  a body's bytes, so six 15 MB prompts at once once took 5 GB. A body over the share left
  is read and dropped, and its request answered 503 with `Retry-After`.
- **A client still there**: `connection_state` tells a connection that has data or nothing
  waiting from one that has ended its sending (FIN) and one that failed (a reset). An ended
  one may have closed only its sending half, still waiting for its answer; the handler
  tells the two apart (server.py).
"""

from __future__ import annotations

import select
import socket
import threading
from email.message import Message
from io import BufferedIOBase
from typing import Literal

from marshalike_runtime.server_protocol import APIError

MAX_BODY_BYTES = 16 * 1024 * 1024
# Bodies up to this size are not counted: a request of a few thousand tokens of prompt is
# tens of kilobytes, and a slow client must not hold up the bodies of the others.
SMALL_BODY_BYTES = 1024 * 1024
BODY_BYTES_IN_FLIGHT = 4 * MAX_BODY_BYTES
# Connections served at once: each holds a thread, idle keep-alive connections included.
MAX_CONNECTIONS = 512
# The listen queue: connections the kernel completes while the accept loop is busy (the
# decoding thread holds the GIL). socketserver's default of 5 reset clients arriving together.
LISTEN_BACKLOG = max(socket.SOMAXCONN, 1024)
# What a client refused for load is told to wait before it tries again, in seconds.
RETRY_AFTER_S = 1
# Bytes read at a time from a body that is dropped.
_DRAIN_CHUNK = 64 * 1024


class HTTPError(APIError):
    """An `APIError` whose reply carries headers of its own (`Allow`, `Retry-After`)."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str],
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(status, message, kind=kind, code=code)
        self.headers = headers


def busy(message: str) -> HTTPError:
    """A 503 for a request refused for load, which the client may send again."""
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    return HTTPError(503, message, headers, kind="server_error", code="server_busy")


def content_length(headers: Message) -> int | None:
    """The body's length in bytes, from its `Content-Length` headers; None when there is
    none. A length that is not one number of ASCII digits is a 400 (`"²".isdigit()` is
    true, `int` reads "+2" and " 2"), and one over `MAX_BODY_BYTES` is a 413."""
    values = headers.get_all("Content-Length")
    if values is None:
        return None
    # Repeated, or a list ("5, 5"): accepted when every value is the same (RFC 9112, 6.3).
    given = {part.strip() for value in values for part in str(value).split(",")}
    value = given.pop() if len(given) == 1 else ""
    if not (value.isascii() and value.isdigit()):
        message = "the Content-Length header must be one number of bytes (digits 0-9)"
        raise APIError(400, message, code="invalid_content_length")
    # Compared as digits first: int() refuses numbers of more than 4300 digits.
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:
        raise APIError(413, f"the request body must be at most {MAX_BODY_BYTES} bytes")
    return int(digits)


def drain(reader: BufferedIOBase, length: int) -> None:
    """Read and drop `length` bytes of a body, a chunk at a time, so that the reply to its
    request reaches a client still sending it (closing a socket with bytes unread resets
    the connection, and the client may lose the reply)."""
    while length > 0:
        chunk = reader.read(min(length, _DRAIN_CHUNK))
        if not chunk:
            return
        length -= len(chunk)


class BodyBudget:
    """The bytes of large bodies the server holds at once (`BODY_BYTES_IN_FLIGHT`)."""

    def __init__(self, limit: int) -> None:
        if limit < MAX_BODY_BYTES:
            raise ValueError(f"the body budget must be at least {MAX_BODY_BYTES}, got {limit}")
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> int:
        """Take `size` bytes; what was taken (0 for a small body, which is not counted),
        to be given back with `give`. Raises a 503 when the budget has no room for it."""
        if size <= SMALL_BODY_BYTES:
            return 0
        with self._lock:
            if self.held + size > self.limit:
                raise busy(
                    "the server is reading other large requests; send this one again shortly"
                )
            self.held += size
        return size

    def give(self, size: int) -> None:
        with self._lock:
            self.held -= size


ConnectionState = Literal["open", "ended", "failed"]
_HANG_UP = sum(getattr(select, name, 0) for name in ("POLLHUP", "POLLERR", "POLLNVAL"))


def connection_state(connection: socket.socket) -> ConnectionState:
    """How the connection stands: "open" (nothing to read, or bytes waiting: a next
    request, left unread), "ended" (the client has sent FIN, having closed the connection
    or only its sending half) or "failed" (reset, or closed)."""
    if hung_up(connection, 0):
        return "failed"
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        if not readable:
            return "open"
        return "ended" if connection.recv(1, socket.MSG_PEEK) == b"" else "open"
    except (OSError, ValueError):  # reset, or already closed
        return "failed"


def hung_up(connection: socket.socket, wait: float) -> bool:
    """Whether the connection is reset or closed both ways, waiting up to `wait` seconds
    for it. A reset after FIN still reads as the end of the data, not as an error (Linux),
    so only poll's POLLHUP and POLLERR tell it; where there is no poll, False."""
    if not hasattr(select, "poll"):
        return False
    try:
        poller = select.poll()
        poller.register(connection, 0)  # no events asked for: hang-ups and errors only
        return any(flags & _HANG_UP for _, flags in poller.poll(int(wait * 1000)))
    except (OSError, ValueError):
        return True
