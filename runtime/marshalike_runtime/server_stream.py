"""Server-sent events for `marshalike serve`: one job's events as OpenAI's stream chunks."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from marshalike_runtime.server_protocol import (
    APIError,
    ResponseHeader,
    delta_chunk,
    finish_chunk,
    start_chunk,
    usage_chunk,
)
from marshalike_runtime.server_worker import Delta, Done, Job

# What a write to a client that has gone away raises.
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class EventStream:
    """Server-sent events for one job: `data: {chunk}` per event, then `data: [DONE]`."""

    def __init__(self, handler: BaseHTTPRequestHandler, job: Job, head: ResponseHeader) -> None:
        self.handler = handler
        self.job = job
        self.head = head
        self.opened: set[int] = set()
        # HTTP/1.0 has no chunked encoding: the end of the stream is the end of the connection
        self.chunked = handler.request_version != "HTTP/1.0"

    def run(self) -> None:
        self._start()
        try:
            self._relay()
        except CLIENT_GONE:
            self.job.cancel()
            self.handler.close_connection = True

    def _start(self) -> None:
        handler = self.handler
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        if self.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.close_connection = True
        handler.end_headers()

    def _relay(self) -> None:
        while True:
            event = self.job.events.get()
            if isinstance(event, Delta):
                self._open(event.index)
                self._send(delta_chunk(self.head, event.index, event.text))
            elif isinstance(event, Done):
                self._finish(event)
                return
            else:
                # an engine failure after the 200 went out: report it in the stream
                assert isinstance(event, APIError), event
                self._send(event.body())
                self._close()
                return

    def _open(self, index: int) -> None:
        if index not in self.opened:
            self.opened.add(index)
            chunk = start_chunk(self.head, index)
            if chunk is not None:
                self._send(chunk)

    def _finish(self, done: Done) -> None:
        for choice in done.choices:
            self._open(choice.index)
            self._send(finish_chunk(self.head, choice.index, choice.finish_reason))
        if self.job.request.include_usage:
            self._send(usage_chunk(self.head, done.usage))
        self._close()

    def _send(self, chunk: dict[str, Any]) -> None:
        self._write(f"data: {json.dumps(chunk)}\n\n".encode())

    def _close(self) -> None:
        self._write(b"data: [DONE]\n\n")
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")

    def _write(self, data: bytes) -> None:
        if self.chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self.handler.wfile.write(data)
