"""`marshalike serve` and its connections: concurrent clients, a client that leaves in the
middle of a stream, in the middle of a non-streaming answer or while its request waits its
turn, and keep-alive connections at shutdown.

FakeEngine continues a prompt with the prompt reversed ("hello" -> "olleh"), one token per
character, 64 tokens of context; the chat template is `role:content` lines. See
fake_engine.py; the shared server and its fixtures are in conftest.py and serving.py.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fake_engine import FakeEngine
from serving import MODEL, open_client, running

from marshalike_runtime.server import OpenAIServer, create_server


def test_concurrent_clients_get_their_own_answers(
    server: OpenAIServer, fake_engine: FakeEngine
) -> None:
    fake_engine.delay = 0.002
    prompts = [f"client {i} says hi" for i in range(8)]
    answers: dict[str, str] = {}

    def ask(prompt: str, stream: bool) -> None:
        client = open_client(server, "k")
        kwargs: Any = {"model": MODEL, "prompt": prompt, "max_tokens": 40, "temperature": 0}
        if stream:
            chunks = client.completions.create(stream=True, **kwargs)
            answers[prompt] = "".join(c.choices[0].text for c in chunks)
        else:
            answers[prompt] = client.completions.create(**kwargs).choices[0].text

    threads = [
        threading.Thread(target=ask, args=(prompt, i % 2 == 0)) for i, prompt in enumerate(prompts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # FakeEngine raises if two threads use it at once, which would show up as a missing answer
    assert answers == {prompt: prompt[::-1] for prompt in prompts}


def test_client_leaving_mid_stream_does_not_stop_the_server() -> None:
    engine = FakeEngine(delay=0.1)  # 30 characters: a 3 s stream unless it is cut short
    logs: list[str] = []
    server = create_server(engine, port=0, log=logs.append)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        _leave_mid_stream(server, prompt="z" * 30)
        started = time.monotonic()
        result = open_client(server, "k").completions.create(
            model=MODEL, prompt="ok", max_tokens=5, temperature=0
        )
        assert result.choices[0].text == "ko"
        assert time.monotonic() - started < 1.5, "the abandoned stream was not cut short"
        assert "client went away; generation stopped" in logs
    finally:
        server.shutdown()
        server.close()


def test_client_leaving_a_non_streaming_request_stops_its_generation() -> None:
    engine = FakeEngine(delay=0.1)  # 30 characters: 3 s unless it is cut short
    logs: list[str] = []
    server = create_server(engine, port=0, log=logs.append)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        with _sent(server, prompt="z" * 30, stream=False):
            time.sleep(0.4)  # generating now; then the client closes its connection
        started = time.monotonic()
        result = open_client(server, "k").completions.create(
            model=MODEL, prompt="ok", max_tokens=5, temperature=0
        )
        assert result.choices[0].text == "ko"
        assert time.monotonic() - started < 1.5, "the abandoned generation went on"
        assert "client went away; generation stopped" in logs
    finally:
        server.shutdown()
        server.close()


def test_a_request_whose_client_left_while_queued_is_never_started() -> None:
    engine = FakeEngine(delay=0.05)  # the first request: 20 characters, 1 s
    logs: list[str] = []
    server = create_server(engine, port=0, log=logs.append)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        with _sent(server, prompt="a" * 20, stream=False) as first:
            time.sleep(0.2)  # the first is running; the second waits behind it, then leaves
            with _sent(server, prompt="b" * 20, stream=False):
                time.sleep(0.4)
            assert first.recv(4096).startswith(b"HTTP/1.1 200 OK")
        time.sleep(0.3)  # the worker's turn for the second request
        assert [call["prompt"] for call in engine.calls] == ["a" * 20]
        assert "client went away before its turn; request skipped" in logs
    finally:
        server.shutdown()
        server.close()


@contextmanager
def _sent(server: OpenAIServer, prompt: str, stream: bool) -> Iterator[socket.socket]:
    """A connection that has sent a completion request, closed when the block ends."""
    body = json.dumps({"model": MODEL, "prompt": prompt, "max_tokens": 30, "stream": stream})
    request = (
        f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(request.encode())
        yield sock


def _leave_mid_stream(server: OpenAIServer, prompt: str) -> None:
    body = json.dumps({"model": MODEL, "prompt": prompt, "max_tokens": 30, "stream": True})
    request = (
        f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(request.encode())
        received = sock.recv(4096)
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        while b"data: " not in received:
            received += sock.recv(4096)
        # RST rather than FIN, like a killed client: the server's next write fails at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_close_ends_keep_alive_connections_and_their_threads() -> None:
    # A handler thread left in recv() past the server's life once crashed the interpreter
    # at exit (a daemon thread killed during finalisation).
    before = set(threading.enumerate())  # other tests' servers may have threads of their own
    with running(FakeEngine()) as server:
        client = open_client(server, "k")
        client.completions.create(model=server.model_name, prompt="abc", max_tokens=2)
        handlers = [
            t for t in threading.enumerate() if t not in before and "process_request" in t.name
        ]
        assert handlers  # the client keeps its connection, and so a thread, open
    assert not any(t.is_alive() for t in handlers)
    client.close()
