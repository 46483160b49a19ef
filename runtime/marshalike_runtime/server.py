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
when the client has closed it. A client that has closed only its sending half (legal HTTP)
reads the same as a closed one, until it is written to: an HTTP/1.1 client is then sent an
interim "100 Continue", which every client must read past (RFC 9110, 15.2), and a closed
one answers it with a reset; an HTTP/1.0 client may not be sent one, and counts as gone.

Limits on connections, on the bodies held at once, and on request framing (one
`Content-Length` of digits) are in server_http.py. Whatever a client sends, the answer is
OpenAI's JSON error, the standard library's own refusals (a malformed request line, headers
too long) included.

The engine reserves a request's KV cache, n * (prompt + max_tokens) positions, before its
first token: a request above `max_request_tokens` of them (`MAX_REQUEST_TOKENS` unless
`create_server` is given another bound) is refused with a 400 before it reaches the engine.
"""

from __future__ import annotations

import hmac
import json
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from marshalike_runtime.server_http import (
    BODY_BYTES_IN_FLIGHT,
    LISTEN_BACKLOG,
    MAX_CONNECTIONS,
    BodyBudget,
    HTTPError,
    busy,
    connection_state,
    content_length,
    drain,
    hung_up,
)
from marshalike_runtime.server_protocol import (
    MAX_REQUEST_TOKENS,
    APIError,
    Endpoint,
    ResponseHeader,
    full_response,
    model_card,
    models_response,
    parse_json,
    parse_request,
)
from marshalike_runtime.server_stream import CLIENT_GONE, EventStream
from marshalike_runtime.server_worker import (
    Done,
    EngineLike,
    EngineWorker,
    Event,
    Job,
    Started,
)

# how long shutdown waits for a generation in progress before leaving it to die with us
STOP_TIMEOUT_S = 5.0
IDLE_TIMEOUT_S = 300.0
# The same for a connection past the server's limit, which is only answered 503.
TURNED_AWAY_TIMEOUT_S = 10.0
# How often a handler waiting for its job checks that its client is still connected.
CLIENT_POLL_S = 0.25
# How long a client sent "100 Continue" to test that it is there has to reset the connection.
PROBE_WAIT_S = 0.1

Log = Callable[[str], None]


def create_server(
    engine: EngineLike,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    log: Log | None = None,
    max_request_tokens: int = MAX_REQUEST_TOKENS,
    max_connections: int = MAX_CONNECTIONS,
    body_bytes_in_flight: int = BODY_BYTES_IN_FLIGHT,
) -> OpenAIServer:
    """Bind (port 0 picks a free port) and start the engine worker; raises OSError if the
    address cannot be bound. ``max_request_tokens``: the most KV-cache positions one
    request may take, n * (prompt + max_tokens); larger ones are refused with a 400.
    ``max_connections`` and ``body_bytes_in_flight``: see server_http.py."""
    server = OpenAIServer(
        (host, port),
        engine,
        api_key=api_key,
        log=log or _stderr_log,
        max_request_tokens=max_request_tokens,
        max_connections=max_connections,
        body_bytes_in_flight=body_bytes_in_flight,
    )
    server.worker.start()
    return server


def _stderr_log(message: str) -> None:
    print(f"marshalike serve: {message}", file=sys.stderr, flush=True)


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        engine: EngineLike,
        *,
        api_key: str | None,
        log: Log,
        max_request_tokens: int = MAX_REQUEST_TOKENS,
        max_connections: int = MAX_CONNECTIONS,
        body_bytes_in_flight: int = BODY_BYTES_IN_FLIGHT,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        # Before binding: a bad limit must not leave a socket open.
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self.bodies = BodyBudget(body_bytes_in_flight)
        self.worker = EngineWorker(engine, log, max_request_tokens)
        self.max_connections = max_connections
        super().__init__(address, _Handler)
        self.model_name = engine.model_name
        self.api_key = api_key
        self.log = log
        self.created = int(time.time())
        # Open connections and their handler threads, so close() can end both: a keep-alive
        # client would otherwise hold a thread in recv() past the server's life.
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._connections_lock = threading.Lock()
        # Connections accepted and not yet ended, and those of them past `max_connections`,
        # which are answered 503.
        self._accepted = 0
        self._turned_away: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Counts the connection, on the thread that accepts them, before its own thread
        starts: past `max_connections` its requests are refused with a 503 (read first, so
        that the client sees the answer rather than a reset), past twice that it is closed
        at once, so that a flood of connections cannot take a thread each."""
        with self._connections_lock:
            if self._accepted >= 2 * self.max_connections:
                self.shutdown_request(request)
                return
            self._accepted += 1
            if self._accepted > self.max_connections:
                self._turned_away.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread: the connection is not counted any more
            self._release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections[threading.current_thread()] = request
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(threading.current_thread(), None)
            self._release(request)

    def _release(self, request: socket.socket) -> None:
        with self._connections_lock:
            self._accepted -= 1
            self._turned_away.discard(request)

    def turned_away(self, request: socket.socket) -> bool:
        """Whether the connection came past `max_connections`."""
        with self._connections_lock:
            return request in self._turned_away

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
        if not isinstance(exc, CLIENT_GONE):
            self.log(f"error serving {client_address[0]}: {type(exc).__name__}: {exc}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Socket reads and writes only: a client that sends nothing (or reads nothing) for this
    # long loses its thread. Waiting for the engine is not bounded by it.
    timeout = IDLE_TIMEOUT_S
    server: OpenAIServer

    def setup(self) -> None:
        super().setup()
        if self.server.turned_away(self.request):
            # it is only told to come back: it need not be waited for long
            self.connection.settimeout(TURNED_AWAY_TIMEOUT_S)

    # Every method goes to `_dispatch`, which answers 405 (with Allow) where the path is
    # known; the standard library answers a method without a do_ handler in `send_error`.
    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log(f"{self.address_string()} {format % args}")

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True
        super().send_response(code, message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line, headers too long
        or too many, HTTP/2) as OpenAI's JSON errors rather than its HTML page."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            self._dispatch()  # a method with no do_ handler: 405 or 404, as for any other
            return
        self.close_connection = True
        if not self.request_version.startswith("HTTP/1."):
            # the request line was unreadable: answer as HTTP/1.0 does, status line and all
            self.request_version = "HTTP/1.0"
        text = message or HTTPStatus(code).phrase
        kind = "server_error" if code >= 500 else "invalid_request_error"
        self._send_json(code, APIError(code, text, kind=kind, code="invalid_http").body())

    def _dispatch(self) -> None:
        self._responded = False
        self._probed = False
        held = 0
        try:
            raw, held = self._read_body()
            if self.server.turned_away(self.request):
                self.close_connection = True
                raise busy("the server has too many connections open; try again shortly")
            self._check_key()
            self._route(raw)
        except APIError as err:
            headers = err.headers if isinstance(err, HTTPError) else {}
            self._send_json(err.status, err.body(), headers)
        except CLIENT_GONE:
            self.close_connection = True
        except Exception as exc:  # a bug of ours: say so, in one line, and keep serving
            self.server.log(f"internal error: {type(exc).__name__}: {exc}")
            self.close_connection = True
            if not self._responded:
                message = f"internal server error: {type(exc).__name__}"
                self._send_json(500, APIError(500, message, kind="server_error").body())
        finally:
            self.server.bodies.give(held)

    def _read_body(self) -> tuple[bytes, int]:
        """The body, read whatever the route so that an error reply leaves the connection
        reusable, and the bytes of the body budget it holds, to give back."""
        try:
            if self.headers.get("Transfer-Encoding") is not None:
                # Chunked bodies are not read, and a body that cannot be framed cannot be
                # skipped: the connection ends with the reply.
                raise APIError(411, "send the body with a Content-Length header")
            length = content_length(self.headers)
        except APIError:
            self.close_connection = True
            raise
        if not length:
            return b"", 0
        if self.server.turned_away(self.request):
            drain(self.rfile, length)
            return b"", 0
        try:
            held = self.server.bodies.take(length)
        except APIError:
            drain(self.rfile, length)
            raise
        try:
            return self.rfile.read(length), held
        except BaseException:
            self.server.bodies.give(held)
            raise

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
        # HEAD is GET without the body (`_send_json`)
        if self.command != method and not (self.command, method) == ("HEAD", "GET"):
            allowed = "GET, HEAD" if method == "GET" else method
            message = f"{path} accepts {method}, not {self.command}"
            raise HTTPError(405, message, {"Allow": allowed}, code="method_not_allowed")

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
            EventStream(self, job, head).run()
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
                if self._client_gone():
                    job.cancel()
                    self.close_connection = True
                    return None

    def _client_gone(self) -> bool:
        """Whether the client has gone away (see the module doc): reset, or ended and, on
        HTTP/1.1, reset in answer to a "100 Continue". Bytes waiting to be read (a next
        request) mean it is still there; they stay unread."""
        state = connection_state(self.connection)
        if state != "ended":
            return state == "failed"
        if self.request_version != "HTTP/1.1":
            return True
        if self._probed:
            return hung_up(self.connection, 0)
        self._probed = True
        self.close_connection = True  # it sends no further request
        try:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        except OSError:
            return True
        return hung_up(self.connection, PROBE_WAIT_S)

    def _send_json(self, status: int, body: dict[str, Any], headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _check_model(model: str, served: str) -> None:
    if model != served:
        message = f"the model '{model}' does not exist; this server serves '{served}'"
        raise APIError(404, message, param="model", code="model_not_found")
