"""The server's loop over stdin and stdout, and the end of its process.

Each message's body is read in a worker thread and handed to the protocol
(`SpecProtocol.receive`) on the event loop, one at a time; the loop ends at `exit` or at the
end of the input. Compiles run in daemon threads of their own and may be waiting on a model
server (and its retries) for minutes: told to stop, each is given `GRACE_S` to finish (a
compile writing its outputs, up to `WRITE_S`, so they are never left half-written), and
then the process ends without them (`os._exit`), so an editor that closes is never kept
waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import BinaryIO, Protocol

from pygls.io_ import StdoutWriter

from marshalike.lsp.protocol import SpecProtocol, warn

GRACE_S = 1.0
WRITE_S = 10.0
_LENGTH = re.compile(rb"Content-Length: (\d+)\r\n")
# The module that writes a spec's outputs; `_acquire` waits for another compile's lock.
_WRITES = os.path.join("marshalike", "build", "output.py")
_WAITING = frozenset({"_acquire"})


class Reader(Protocol):
    def readline(self) -> bytes: ...

    def read(self, size: int, /) -> bytes: ...


def next_body(reader: Reader) -> bytes | None:
    """The next message's body, or None at the end of the input. Headers other than
    Content-Length are passed over; a blank line before any Content-Length too."""
    length: int | None = None
    while True:
        line = reader.readline()
        if not line:
            return None
        found = _LENGTH.fullmatch(line)
        if found is not None and length is None:
            length = int(found[1])
        elif not line.strip() and length is not None:
            body = reader.read(length) if length else b""
            return body if len(body) == length else None


def run(protocol: SpecProtocol, reader: Reader, writer: BinaryIO) -> int:
    """Serve the client until `exit` or the end of its input; the status to end with:
    `exit`'s, else 0."""
    protocol.set_writer(StdoutWriter(writer))
    try:
        asyncio.run(_loop(protocol, reader))
    except BrokenPipeError:
        warn("the client closed the server's output; ending")
    return protocol.exit_status or 0


async def _loop(protocol: SpecProtocol, reader: Reader) -> None:
    loop = asyncio.get_running_loop()
    try:
        while protocol.exit_status is None:
            body = await loop.run_in_executor(None, next_body, reader)
            if body is None:
                return
            protocol.receive(body)
    finally:
        # The session is over: what the requests still in flight would send as they are
        # cancelled (their answers, a compile's last progress) goes nowhere.
        protocol.set_writer(_Closed())


class _Closed:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def end(compiles: Iterable[threading.Thread], status: int) -> None:
    """End the process with `status` once the compiles (already told to stop) are done,
    or without those still running after `GRACE_S`."""
    started = time.monotonic()
    left = [thread for thread in compiles if thread.is_alive()]
    while left:
        waited = time.monotonic() - started
        if waited > WRITE_S or (waited > GRACE_S and not any(map(_writing, left))):
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os._exit(status)
        left[0].join(0.05)
        left = [thread for thread in left if thread.is_alive()]
    if status:
        sys.exit(status)


def _writing(thread: threading.Thread) -> bool:
    """Whether `thread` is writing a spec's outputs (waiting for its lock is no write)."""
    frame: FrameType | None = sys._current_frames().get(thread.ident or -1)
    writes = []
    while frame is not None:
        if frame.f_code.co_filename.endswith(_WRITES):
            writes.append(frame.f_code.co_name)
        frame = frame.f_back
    return bool(writes) and not _WAITING.intersection(writes)
