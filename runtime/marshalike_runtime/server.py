"""`marshalike serve`: an OpenAI-compatible HTTP server around one engine.

Built on the standard library's `ThreadingHTTPServer`: three JSON routes and SSE need no
framework, and the runtime stays free of web dependencies. One handler thread per
connection parses and validates; the engine itself belongs to one `EngineWorker` thread
(see `server_worker`). This module never imports torch: the engine is passed in.

    server = create_server(engine, host="127.0.0.1", port=0)
    print(server.base_url)          # http://127.0.0.1:PORT/v1
    server.serve_forever()          # until server.shutdown() from another thread
    server.close()

Routes: GET /v1/models, GET /v1/models/{id}, POST /v1/completions,
POST /v1/chat/completions. HTTP/1.1 keep-alive; streams use chunked transfer encoding.

A request whose client goes away stops costing the engine: a stream's failed write cancels
its job, and a handler waiting for a job (queued, reading the prompt, or generating a
non-streaming answer) looks at its connection every `CLIENT_POLL_S` and cancels the job
when the client has closed it.

The engine reserves a request's KV cache, n * (prompt + max_tokens) positions, before its
first token: a request above `max_request_tokens` of them (`MAX_REQUEST_TOKENS` unless
`create_server` is given another bound) is refused with a 400 before it reaches the engine.
"""

from __future__ import annotations

import hmac
import json
import queue
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from marshalike_runtime.server_protocol import (
    MAX_REQUEST_TOKENS,
    APIError,
    Endpoint,
    ResponseHeader,
    delta_chunk,
    finish_chunk,
    full_response,
    model_card,
    models_response,
    parse_json,
    parse_request,
    start_chunk,
    usage_chunk,
)
from marshalike_runtime.server_worker import (
    Delta,
    Done,
    EngineLike,
    EngineWorker,
    Event,
    Job,
    Started,
)

MAX_BODY_BYTES = 16 * 1024 * 1024
# how long shutdown waits for a generation in progress before leaving it to die with us
STOP_TIMEOUT_S = 5.0
IDLE_TIMEOUT_S = 300.0
# How often a handler waiting for its job checks that its client is still connected.
CLIENT_POLL_S = 0.25
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

Log = Callable[[str], None]


def create_server(
    engine: EngineLike,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    log: Log | None = None,
    max_request_tokens: int = MAX_REQUEST_TOKENS,
) -> OpenAIServer:
    """Bind (port 0 picks a free port) and start the engine worker; raises OSError if the
    address cannot be bound. ``max_request_tokens``: the most KV-cache positions one
    request may take, n * (prompt + max_tokens); larger ones are refused with a 400."""
    server = OpenAIServer(
        (host, port),
        engine,
        api_key=api_key,
        log=log or _stderr_log,
        max_request_tokens=max_request_tokens,
    )
    server.worker.start()
    return server


def _stderr_log(message: str) -> None:
    print(f"marshalike serve: {message}", file=sys.stderr, flush=True)


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        engine: EngineLike,
        *,
        api_key: str | None,
        log: Log,
        max_request_tokens: int = MAX_REQUEST_TOKENS,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        # Before binding: a bad limit must not leave a socket open.
        self.worker = EngineWorker(engine, log, max_request_tokens)
        super().__init__(address, _Handler)
        self.model_name = engine.model_name
        self.api_key = api_key
        self.log = log
        self.created = int(time.time())
        # Open connections and their handler threads, so close() can end both: a keep-alive
        # client would otherwise hold a thread in recv() past the server's life.
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._connections_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections[threading.current_thread()] = request
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(threading.current_thread(), None)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        name = str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/v1"

    def close(self) -> None:
        """Stop the worker, end open connections and release the socket (after
        `shutdown()` if it was serving)."""
        self.worker.stop(STOP_TIMEOUT_S)
        self.server_close()
        with self._connections_lock:
            open_now = list(self._connections.items())
        for _, connection in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        for thread, _ in open_now:
            thread.join(STOP_TIMEOUT_S)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback; a dropped connection is routine for a server.
        exc = sys.exc_info()[1]
        if not isinstance(exc, _CLIENT_GONE):
            self.log(f"error serving {client_address[0]}: {type(exc).__name__}: {exc}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Socket reads and writes only: a client that sends nothing (or reads nothing) for this
    # long loses its thread. Waiting for the engine is not bounded by it.
    timeout = IDLE_TIMEOUT_S
    server: OpenAIServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log(f"{self.address_string()} {format % args}")

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True
        super().send_response(code, message)

    def _dispatch(self) -> None:
        self._responded = False
        try:
            raw = self._read_body()
            self._check_key()
            self._route(raw)
        except APIError as err:
            self._send_json(err.status, err.body(), _allow_header(err))
        except _CLIENT_GONE:
            self.close_connection = True
        except Exception as exc:  # a bug of ours: say so, in one line, and keep serving
            self.server.log(f"internal error: {type(exc).__name__}: {exc}")
            self.close_connection = True
            if not self._responded:
                message = f"internal server error: {type(exc).__name__}"
                self._send_json(500, APIError(500, message, kind="server_error").body())

    def _read_body(self) -> bytes:
        # Read it whatever the route, so an error reply leaves the connection reusable.
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise APIError(411, "send the body with a Content-Length header")
            return b""
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise APIError(413, f"the request body must be at most {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length))

    def _check_key(self) -> None:
        key = self.server.api_key
        if key is None:
            return
        given = self.headers.get("Authorization", "")
        if not given.startswith("Bearer "):
            message = "missing API key: send it as 'Authorization: Bearer KEY'"
            raise APIError(401, message, code="invalid_api_key")
        if not hmac.compare_digest(given[len("Bearer ") :].encode(), key.encode()):
            raise APIError(401, "incorrect API key", code="invalid_api_key")

    def _route(self, raw: bytes) -> None:
        path = unquote(self.path.split("?", 1)[0]).rstrip("/")
        if path.startswith("/v1/models/"):
            self._expect("GET", path)
            self._model(path.removeprefix("/v1/models/"))
        elif path == "/v1/models":
            self._expect("GET", path)
            self._send_json(200, models_response(self.server.model_name, self.server.created))
        elif path in ("/v1/completions", "/v1/chat/completions"):
            self._expect("POST", path)
            self._generate(raw, "chat" if "chat" in path else "completion")
        else:
            message = f"unknown URL {self.command} {path}"
            raise APIError(404, message, code="unknown_url")

    def _expect(self, method: str, path: str) -> None:
        if self.command != method:
            message = f"{path} accepts {method}, not {self.command}"
            raise _MethodNotAllowed(message, method)

    def _model(self, model: str) -> None:
        _check_model(model, self.server.model_name)
        self._send_json(200, model_card(model, self.server.created))

    def _generate(self, raw: bytes, endpoint: Endpoint) -> None:
        request = parse_request(parse_json(raw), endpoint)
        _check_model(request.model, self.server.model_name)
        job = self.server.worker.submit(request)
        first = self._wait(job)
        if first is None:
            return
        if isinstance(first, APIError):
            raise first
        assert isinstance(first, Started), first
        head = ResponseHeader.new(endpoint, self.server.model_name)
        if request.stream:
            _Stream(self, job, head).run()
            return
        done = self._wait(job)
        if done is None:
            return
        if isinstance(done, APIError):
            raise done
        assert isinstance(done, Done), done
        self._send_json(200, full_response(head, done.choices, done.usage))

    def _wait(self, job: Job) -> Event | None:
        """The job's next event; None, the job cancelled, once the client has gone."""
        while True:
            try:
                return job.events.get(timeout=CLIENT_POLL_S)
            except queue.Empty:
                if _client_gone(self.connection):
                    job.cancel()
                    self.close_connection = True
                    return None

    def _send_json(self, status: int, body: dict[str, Any], headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _MethodNotAllowed(APIError):
    def __init__(self, message: str, allowed: str) -> None:
        super().__init__(405, message, code="method_not_allowed")
        self.allowed = allowed


def _allow_header(err: APIError) -> dict[str, str]:
    return {"Allow": err.allowed} if isinstance(err, _MethodNotAllowed) else {}


def _client_gone(connection: socket.socket) -> bool:
    """Whether the client closed its end: the socket reads as ended, or as reset. Bytes
    waiting to be read (a next request) mean it is still there; they stay unread."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):  # reset, or already closed
        return True


def _check_model(model: str, served: str) -> None:
    if model != served:
        message = f"the model '{model}' does not exist; this server serves '{served}'"
        raise APIError(404, message, param="model", code="model_not_found")


class _Stream:
    """Server-sent events for one job: `data: {chunk}` per event, then `data: [DONE]`."""

    def __init__(self, handler: _Handler, job: Job, head: ResponseHeader) -> None:
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
        except _CLIENT_GONE:
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
