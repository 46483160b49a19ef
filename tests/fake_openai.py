"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted answers, for tests.

    with FakeOpenAI(script=lambda request: "def f(x):\n    return x\n") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k")

The script sees the whole `Request` (path, JSON body, headers) and answers with
- a `str`: the text of every choice (one choice when `ignore_n`, else `n` of them);
- a `list[str]`: exactly these choices, whatever `n` says;
- a `Reply`: a raw status, JSON body and headers (errors: `Reply.error(503)`).
Answers queued with `push` are used first, in order; with neither a queue nor a script the
server answers 500 so a test that ran out of answers fails loudly. Every request is kept
in `requests`, so tests assert what the client sent and how often.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: JSON
    headers: dict[str, str]

    @property
    def prompt_text(self) -> str:
        """Everything the model would read: the chat messages joined, or the raw prompt."""
        if "messages" in self.body:
            return "\n".join(str(m.get("content", "")) for m in self.body["messages"])
        return str(self.body.get("prompt", ""))


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: JSON = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def error(status: int, message: str = "scripted failure", retry_after_ms: int = 1) -> Reply:
        # A short Retry-After keeps the client's backoff (and so the tests) fast.
        body = {"error": {"message": message, "type": "server_error", "code": status}}
        return Reply(status, body, {"retry-after-ms": str(retry_after_ms)})


Answer = str | list[str] | Reply
Script = Callable[[Request], Answer]


class FakeOpenAI:
    def __init__(
        self,
        script: Script | None = None,
        *,
        model: str = "fake-model",
        ignore_n: bool = False,
        usage: bool = True,
    ) -> None:
        self.script = script
        self.model = model
        self.ignore_n = ignore_n
        self.usage = usage
        self.requests: list[Request] = []
        self._queue: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def count(self) -> int:
        """How many model calls (completion requests) the server answered."""
        return sum(1 for r in self.requests if r.path.endswith("completions"))

    def push(self, *answers: Answer) -> None:
        with self._lock:
            self._queue.extend(answers)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.end_connections()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._queue.popleft() if self._queue else None
        if request.method == "GET" and request.path == "/v1/models":
            return Reply(200, {"object": "list", "data": [_model_entry(self.model)]})
        if request.path not in ("/v1/chat/completions", "/v1/completions"):
            return Reply.error(404, f"no route {request.method} {request.path}")
        answer = queued if queued is not None else self._scripted(request)
        if isinstance(answer, Reply):
            return answer
        texts = answer if isinstance(answer, list) else self._repeat(answer, request)
        return Reply(200, self._body(request, texts))

    def _scripted(self, request: Request) -> Answer:
        if self.script is None:
            return Reply.error(500, "fake server: no scripted answer left")
        return self.script(request)

    def _repeat(self, text: str, request: Request) -> list[str]:
        n = 1 if self.ignore_n else int(request.body.get("n") or 1)
        return [text] * n

    def _body(self, request: Request, texts: list[str]) -> JSON:
        chat = request.path.endswith("chat/completions")
        choices = [_choice(i, text, chat) for i, text in enumerate(texts)]
        body: JSON = {
            "id": f"fake-{len(self.requests)}",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": request.body.get("model", self.model),
            "choices": choices,
        }
        if self.usage:
            # Words stand in for tokens: deterministic and easy to assert.
            completion = sum(len(t.split()) for t in texts)
            body["usage"] = {
                "prompt_tokens": len(request.prompt_text.split()),
                "completion_tokens": completion,
                "total_tokens": len(request.prompt_text.split()) + completion,
            }
        return body


class _Server(ThreadingHTTPServer):
    """Ends its open (keep-alive) connections on stop, so no handler thread outlives it."""

    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[threading.current_thread()] = request
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def end_connections(self) -> None:
        with self._open_lock:
            still_open = list(self._open.items())
        for _, connection in still_open:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client closed it first
        for thread, _ in still_open:
            thread.join(5)


def _choice(index: int, text: str, chat: bool) -> JSON:
    if chat:
        message = {"role": "assistant", "content": text}
        return {"index": index, "message": message, "finish_reason": "stop"}
    return {"index": index, "text": text, "finish_reason": "stop", "logprobs": None}


def _model_entry(model: str) -> JSON:
    return {"id": model, "object": "model", "created": 0, "owned_by": "fake"}


def _handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve({})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = {"_unparsed": raw.decode("utf-8", "replace")}
            self._serve(body)

        def _serve(self, body: JSON) -> None:
            path = self.path.split("?", 1)[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.answer(Request(self.command, path, body, headers))
            data = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                # The client hung up first, as timeout tests make it do; nobody is listening.
                return

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest output is for failures, not access logs."""

    return Handler
