"""`marshalike lsp` told to shut down and exit while a compile waits on a model server that
does not answer: `shutdown` is answered (the compile's request with RequestCancelled), a
request after it with InvalidRequest, and `exit` ends the process within moments, with
status 0 after `shutdown` and 1 without, never a traceback."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from fake_openai import FakeOpenAI, Request
from lsp_session import settings

SPEC = """\
# func area(width: int, height: int): int

The area of a rectangle.

* area(2, 3) = 6
* area(0, 3) = 0
* area(1, 1) = 1
"""
PROMPT_EXIT_S = 5.0  # the server waits 1 s for a stopped compile; the rest is slack


class RawClient:
    """The server in a subprocess, spoken to message by message; what it sends is read by
    a thread, so a test can wait for one answer with a timeout."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "marshalike", "lsp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdout is not None and self.process.stderr is not None
        self.received: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.errors: list[bytes] = []
        self.answers: dict[Any, dict[str, Any]] = {}
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        self._drainer = threading.Thread(
            target=self._drain, args=(self.process.stderr,), daemon=True
        )
        self._drainer.start()

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def answer(self, ident: int, timeout: float = 20.0) -> dict[str, Any]:
        """The answer to request `ident`, in whatever order the answers came."""
        deadline = time.monotonic() + timeout
        while ident not in self.answers and (left := deadline - time.monotonic()) > 0:
            try:
                message = self.received.get(timeout=left)
            except queue.Empty:
                break
            assert message is not None, "the server ended before answering"
            if "method" not in message:
                self.answers[message.get("id")] = message
        assert ident in self.answers, f"no answer to request {ident} in {timeout} s"
        return self.answers[ident]

    def initialize(self, options: dict[str, Any] | None = None) -> None:
        params = {"processId": None, "capabilities": {}, "initializationOptions": options}
        self.send({"id": 1, "method": "initialize", "params": params})
        self.answer(1)
        self.send({"method": "initialized", "params": {}})

    def stderr(self) -> str:
        """What the server wrote on stderr: all of it, once the process has ended."""
        if self.process.poll() is not None:
            self._drainer.join(10)
        return b"".join(self.errors).decode("utf-8", "replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            length = None
            while (line := stream.readline()).strip():
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line or length is None:
                self.received.put(None)
                return
            self.received.put(json.loads(stream.read(length)))

    def _drain(self, stream: IO[bytes]) -> None:
        self.errors.extend(stream)


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    """A model server that holds every request until the test ends."""
    release = threading.Event()

    def stalled(request: Request) -> str:
        release.wait(120)
        return "```python\ndef area(width, height):\n    return width * height\n```"

    with FakeOpenAI(script=stalled) as server:
        yield server
        release.set()


@pytest.fixture
def client() -> Iterator[RawClient]:
    found = RawClient()
    yield found
    found.close()


def start_compile(client: RawClient, model: FakeOpenAI, folder: Path) -> None:
    """Open a saved spec, ask for its compile, and wait until the model is asked."""
    spec = folder / "area.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    client.initialize({"settings": settings(model), "quick": True})
    item = {"uri": spec.as_uri(), "languageId": "mrsh", "version": 1, "text": SPEC}
    client.send({"method": "textDocument/didOpen", "params": {"textDocument": item}})
    params = {"command": "marshalike.compile", "arguments": [spec.as_uri()]}
    client.send({"id": 2, "method": "workspace/executeCommand", "params": params})
    deadline = time.monotonic() + 60
    while model.count == 0:
        assert time.monotonic() < deadline, "the compile never asked the model"
        time.sleep(0.05)


def exit_status(client: RawClient) -> tuple[int, float]:
    """Send exit; the process's status and how long it took to end."""
    started = time.monotonic()
    client.send({"method": "exit"})
    try:
        status = client.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the server did not end within 60 s of exit")
    return status, time.monotonic() - started


def test_shutdown_during_a_compile_is_answered_and_exit_ends_the_process_at_once(
    client: RawClient, model: FakeOpenAI, tmp_path: Path
) -> None:
    start_compile(client, model, tmp_path)
    client.send({"id": 3, "method": "shutdown"})
    assert client.answer(3) == {"jsonrpc": "2.0", "id": 3, "result": None}
    assert client.answer(2)["error"]["code"] == -32800  # RequestCancelled
    where = {"line": 0, "character": 8}
    document = {"uri": (tmp_path / "area.mrsh").as_uri()}
    params = {"textDocument": document, "position": where}
    client.send({"id": 4, "method": "textDocument/hover", "params": params})
    assert client.answer(4)["error"]["code"] == -32600  # InvalidRequest
    client.send({"id": 5, "method": "shutdown"})
    assert client.answer(5)["error"]["code"] == -32600
    status, took = exit_status(client)
    assert status == 0
    assert took < PROMPT_EXIT_S
    assert "Traceback" not in client.stderr()
    assert not (tmp_path / "area.py").exists()


def test_exit_without_shutdown_ends_at_once_with_status_1(
    client: RawClient, model: FakeOpenAI, tmp_path: Path
) -> None:
    start_compile(client, model, tmp_path)
    status, took = exit_status(client)
    assert status == 1
    assert took < PROMPT_EXIT_S
    assert "Traceback" not in client.stderr()


def test_exit_after_shutdown_with_nothing_running_ends_with_status_0(client: RawClient) -> None:
    client.initialize()
    client.send({"id": 2, "method": "shutdown"})
    assert "error" not in client.answer(2)
    assert exit_status(client)[0] == 0
    assert client.stderr() == ""


def test_exit_alone_ends_with_status_1(client: RawClient) -> None:
    client.initialize()
    assert exit_status(client)[0] == 1


def test_a_cancelled_compile_stops_and_writes_nothing(client: RawClient, tmp_path: Path) -> None:
    """`$/cancelRequest` for a compile answers it with RequestCancelled and stops the
    compile itself: once the model answers, nothing is written; the next compile works."""
    release = threading.Event()

    def held(request: Request) -> str:
        release.wait(120)
        return "```python\ndef area(width, height):\n    return width * height\n```"

    with FakeOpenAI(script=held) as model:
        start_compile(client, model, tmp_path)
        client.send({"method": "$/cancelRequest", "params": {"id": 2}})
        assert client.answer(2)["error"]["code"] == -32800  # RequestCancelled
        release.set()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            assert not (tmp_path / "area.py").exists(), "the cancelled compile wrote its output"
            time.sleep(0.1)
        params = {"command": "marshalike.compile", "arguments": [(tmp_path / "area.mrsh").as_uri()]}
        client.send({"id": 3, "method": "workspace/executeCommand", "params": params})
        assert client.answer(3, timeout=120)["result"]["ok"] is True
    assert (tmp_path / "area.py").exists()
    assert "Traceback" not in client.stderr()
