"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted answers, for tests.

    with FakeOpenAI(script=lambda request: "def f(x):\n    return x\n") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k")

The script sees the whole `Request` (path, JSON body, headers) and answers with
- a `str`: the text of every choice (one choice when `ignore_n`, else `n` of them);
- a `list[str]`: exactly these choices, whatever `n` says;
- a `Reply`: a raw status, JSON body and headers (errors: `Reply.error(503)`);
- a `Chunks`: one choice's text in pieces, streamed `delay` seconds apart (then, with
  `stall`, that long a silence before the end) to a request that asks to stream; a
  `list[Chunks]`: these choices, streamed one after the other.
A request with `"stream": true` is answered with one JSON body, as by a server that ignores
`stream`, unless the server was made with `stream=True`: then every answer streams
(server-sent events, a str in one piece per word, `chunk_delay` seconds apart), ending with
a usage chunk when the request asks for one (`stream_options.include_usage`).
`models` is what `GET /v1/models` lists (by default `model` alone). With `interrupts` the
server imitates one that answers one completion request at a time and ends a stream early,
with `[DONE]` after its next chunk and no finish reason, when another request is waiting (as
llama-cpp-python's server does by default); `interrupted` counts the streams it ended so.
Answers queued with `push` are used first, in order; with neither a queue nor a script the
server answers 500 so a test that ran out of answers fails loudly. Every request is kept
in `requests`, so tests assert what the client sent and how often; `cut` counts the streams
a client left before their end, and a `Reply` with `drop` ends its stream with the
connection, mid-body, as a server that dies does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    # A stream instead of `body`: each chunk after its pause, then `stall`, then [DONE].
    events: list[tuple[float, JSON]] | None = None
    stall: float = 0.0
    drop: bool = False  # the connection ends after the events, the body unfinished

    @staticmethod
    def error(status: int, message: str = "scripted failure", retry_after_ms: int = 1) -> Reply:
        # A short Retry-After keeps the client's backoff (and so the tests) fast.
        body = {"error": {"message": message, "type": "server_error", "code": status}}
        return Reply(status, body, {"retry-after-ms": str(retry_after_ms)})


@dataclass(frozen=True)
class Chunks:
    """One choice's text, streamed in these pieces."""

    pieces: list[str]
    delay: float = 0.0  # before each piece, the first included
    stall: float = 0.0  # silence after the last piece, before the stream ends
    drop: bool = False  # the connection ends after the pieces, the choice unfinished

    @property
    def text(self) -> str:
        return "".join(self.pieces)


Answer = str | list[str] | list[Chunks] | Reply | Chunks
Script = Callable[[Request], Answer]


def refusing_streams(answer: Answer) -> Script:
    """A script for a server that cannot stream: HTTP 400 to a request that asks to, else
    `answer`."""

    def script(request: Request) -> Answer:
        if request.body.get("stream"):
            return Reply.error(400, "'stream' is not supported")
        return answer

    return script


class FakeOpenAI:
    def __init__(
        self,
        script: Script | None = None,
        *,
        model: str = "fake-model",
        ignore_n: bool = False,
        usage: bool = True,
        stream: bool = False,
        chunk_delay: float = 0.0,
        models: list[str] | None = None,
        interrupts: bool = False,
    ) -> None:
        self.script = script
        self.model = model
        self.ignore_n = ignore_n
        self.usage = usage
        self.stream = stream
        self.chunk_delay = chunk_delay
        self.models = [model] if models is None else models
        self.interrupts = interrupts
        self.requests: list[Request] = []
        self.cut = 0
        self.interrupted = 0
        self.waiting = 0  # completion requests waiting for their turn (`interrupts`)
        self._turn = threading.Lock()
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

    @contextmanager
    def turn(self, path: str) -> Iterator[None]:
        """With `interrupts`, a completion request's turn: one at a time."""
        if not (self.interrupts and path.endswith("completions")):
            yield
            return
        with self._lock:
            self.waiting += 1
        with self._turn:
            with self._lock:
                self.waiting -= 1
            yield

    def interrupting(self) -> bool:
        """Whether a stream ends now, another request waiting (`interrupts`)."""
        with self._lock:
            if self.interrupts and self.waiting:
                self.interrupted += 1
                return True
            return False

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._queue.popleft() if self._queue else None
        if request.method == "GET" and request.path == "/v1/models":
            return Reply(200, {"object": "list", "data": [_model_entry(m) for m in self.models]})
        if request.path not in ("/v1/chat/completions", "/v1/completions"):
            return Reply.error(404, f"no route {request.method} {request.path}")
        answer = queued if queued is not None else self._scripted(request)
        if isinstance(answer, Reply):
            return answer
        streams = bool(request.body.get("stream"))
        if isinstance(answer, Chunks):
            answer = [answer]
        if isinstance(answer, list) and all(isinstance(a, Chunks) for a in answer):
            choices = [a for a in answer if isinstance(a, Chunks)]
            if streams:
                return self._streamed(request, choices)
            answer = [a.text for a in choices]
        texts = (
            [str(a) for a in answer] if isinstance(answer, list) else self._repeat(answer, request)
        )
        if self.stream and streams:
            pieces = [Chunks(_words(text), self.chunk_delay) for text in texts]
            return self._streamed(request, pieces)
        return Reply(200, self._body(request, texts))

    def _streamed(self, request: Request, choices: list[Chunks]) -> Reply:
        chat = request.path.endswith("chat/completions")
        kind = "chat.completion.chunk" if chat else "text_completion"
        head = {"id": "fake-stream", "object": kind, "created": 0, "model": self.model}
        events: list[tuple[float, JSON]] = []
        for index, chunks in enumerate(choices):
            for piece in chunks.pieces:
                choice = _delta(index, piece, None, chat)
                events.append((chunks.delay, {**head, "choices": [choice]}))
            if chunks.drop:
                return Reply(200, events=events, drop=True)
            events.append((0.0, {**head, "choices": [_delta(index, "", "stop", chat)]}))
        wants_usage = (request.body.get("stream_options") or {}).get("include_usage")
        if self.usage and wants_usage:
            usage = self._usage(request, [chunks.text for chunks in choices])
            events.append((0.0, {**head, "choices": [], "usage": usage}))
        stall = max((chunks.stall for chunks in choices), default=0.0)
        return Reply(200, events=events, stall=stall)

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
            body["usage"] = self._usage(request, texts)
        return body

    def _usage(self, request: Request, texts: list[str]) -> JSON:
        # Words stand in for tokens: deterministic and easy to assert.
        completion = sum(len(t.split()) for t in texts)
        prompt = len(request.prompt_text.split())
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


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


def _delta(index: int, text: str, finish: str | None, chat: bool) -> JSON:
    if chat:
        delta = {"content": text} if text else {}
        return {"index": index, "delta": delta, "finish_reason": finish}
    return {"index": index, "text": text, "finish_reason": finish, "logprobs": None}


def _words(text: str) -> list[str]:
    """`text` in pieces of one word and the space after it, which join back to it."""
    pieces = [word + " " for word in text.split(" ")]
    pieces[-1] = pieces[-1][:-1]
    return [piece for piece in pieces if piece]


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
            with server.turn(path):
                reply = server.answer(Request(self.command, path, body, headers))
                if reply.events is not None:
                    self._stream(reply)
                    return
                self._whole(reply)

        def _whole(self, reply: Reply) -> None:
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

        def _stream(self, reply: Reply) -> None:
            # HTTP/1.0: the stream ends where the connection does.
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                if reply.drop:  # a length the body never reaches
                    self.send_header("Content-Length", str(1 << 20))
                self.end_headers()
                for pause, chunk in reply.events or ():
                    time.sleep(pause)
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    if server.interrupting():
                        break
                else:
                    time.sleep(reply.stall)
                if reply.drop:
                    return
                self.wfile.write(b"data: [DONE]\n\n")
            except (BrokenPipeError, ConnectionResetError):
                with server._lock:
                    server.cut += 1  # the client gave up waiting, or left

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest output is for failures, not access logs."""

    return Handler
