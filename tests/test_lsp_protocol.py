"""The language server's answers to messages its protocol library cannot read."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys

import pytest

from marshalike.lsp.server import make_server
from marshalike.lsp.stdio import next_body


def test_a_request_with_params_out_of_the_protocols_types_is_answered_with_an_error() -> None:
    """A hover at line -1: pygls refuses to read it, and would leave it unanswered (the
    editor waiting forever); the server answers it with InvalidParams and goes on."""
    server = subprocess.Popen(
        [sys.executable, "-m", "marshalike", "lsp"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert server.stdin is not None and server.stdout is not None

    def send(message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]

    def answer(ident: int) -> dict:
        while True:
            length = 0
            while (line := server.stdout.readline().strip()) != b"":  # type: ignore[union-attr]
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            found = json.loads(server.stdout.read(length))  # type: ignore[union-attr]
            if found.get("id") == ident:
                return found

    try:
        send({"id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}})
        answer(1)
        send({"method": "initialized", "params": {}})
        document = {"uri": "file:///x.mrsh"}
        where = {"line": -1, "character": -5}
        params = {"textDocument": document, "position": where}
        send({"id": 2, "method": "textDocument/hover", "params": params})
        assert answer(2)["error"]["code"] == -32602
        send({"id": 3, "method": "shutdown"})
        assert "error" not in answer(3)
    finally:
        server.kill()
        server.wait()


def _message(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_messages_that_are_no_json_rpc_are_answered_and_the_session_goes_on() -> None:
    """Over stdio: a body that is not JSON, not UTF-8, empty, or a request without
    `"jsonrpc"`; each is answered (ParseError or InvalidRequest, the id null where it
    cannot be read), with no traceback, and the requests after them are answered."""
    initialize = {
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "capabilities": {}},
    }
    stream = b"".join(
        [
            _message(json.dumps({"jsonrpc": "2.0", **initialize}).encode()),
            _message(b"{not json"),
            _message(b'{"jsonrpc": "2.0", "id": 7, "method": "x", "params": "\xff"}'),
            _message(b""),
            _message(b'{"id": 8, "method": "shutdown"}'),
            _message(b'{"jsonrpc": "2.0", "id": 9, "method": "shutdown"}'),
            _message(b'{"jsonrpc": "2.0", "method": "exit"}'),
        ]
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "marshalike", "lsp"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = server.communicate(stream, timeout=60)
    finally:
        server.kill()
    answers = [
        json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in out.split(b"Content-Length")[1:]
    ]
    errors = [(a["id"], a["error"]["code"]) for a in answers if "error" in a]
    assert errors == [(None, -32700), (None, -32700), (None, -32700), (8, -32600)]
    assert all("data" not in a["error"] for a in answers if "error" in a)
    assert next(a for a in answers if a.get("id") == 9)["result"] is None
    assert server.returncode == 0
    assert "Traceback" not in err.decode()


class Wire:
    """The server in this process, its messages collected as a client reads them."""

    def __init__(self) -> None:
        self.server = make_server()
        self.sent: list[dict] = []
        self.server.wire.set_writer(self, include_headers=False)

    def write(self, data: bytes) -> None:
        self.sent.append(json.loads(data))

    def close(self) -> None:
        pass

    def send(self, message: dict | bytes) -> list[dict]:
        """Hand the server one message; what it sent as it handled it."""
        before = len(self.sent)
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.server.wire.receive(body)
        return self.sent[before:]

    def request(self, ident: int, method: str, params: object = None) -> dict:
        (answer,) = [
            m
            for m in self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
            if m.get("id") == ident
        ]
        return answer

    def initialize(self) -> None:
        assert "result" in self.request(1, "initialize", {"processId": None, "capabilities": {}})


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.mark.parametrize(
    ("body", "ident", "code"),
    [
        (b"[1, 2]", None, -32600),
        (b"5", None, -32600),
        (b'{"jsonrpc": "2.0", "id": true, "method": "shutdown"}', None, -32600),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "shutdown"}', None, -32600),
        (b'{"jsonrpc": "1.0", "id": 3, "method": "shutdown"}', 3, -32600),
        (b'{"jsonrpc": "2.0", "id": 3, "method": 4}', 3, -32600),
        (b"[" * 100_000 + b"]" * 100_000, None, -32700),
    ],
)
def test_a_message_that_is_no_request_is_answered_as_json_rpc_says(
    body: bytes, ident: int | None, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    (answer,) = Wire().send(body)
    assert answer["id"] == ident and answer["error"]["code"] == code
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.asyncio
async def test_a_request_before_initialize_is_refused_and_a_notification_dropped(
    wire: Wire,
) -> None:
    document = {"uri": "file:///x.mrsh"}
    hover = {"textDocument": document, "position": {"line": 0, "character": 0}}
    assert wire.request(2, "textDocument/hover", hover)["error"]["code"] == -32002
    item = {**document, "languageId": "mrsh", "version": 1, "text": "x"}
    assert wire.send(_notification("textDocument/didOpen", {"textDocument": item})) == []


@pytest.mark.asyncio
async def test_a_notification_whose_params_do_not_fit_is_dropped_with_one_line(
    wire: Wire, capsys: pytest.CaptureFixture[str]
) -> None:
    wire.initialize()
    where = {"line": -1, "character": 0}
    change = {"range": {"start": where, "end": where}, "text": "x"}
    params = {"textDocument": {"uri": "file:///x.mrsh", "version": 2}, "contentChanges": [change]}
    assert wire.send(_notification("textDocument/didChange", params)) == []
    err = capsys.readouterr().err
    assert "ignored a textDocument/didChange notification whose params" in err
    assert "Traceback" not in err


@pytest.mark.asyncio
async def test_a_change_of_a_document_that_is_not_open_is_dropped(
    wire: Wire, capsys: pytest.CaptureFixture[str]
) -> None:
    wire.initialize()
    change = {"text": "# func f(x: int): int\n"}
    params = {"textDocument": {"uri": "file:///x.mrsh", "version": 2}, "contentChanges": [change]}
    assert wire.send(_notification("textDocument/didChange", params)) == []  # no "Error in server"
    assert "ignored a change of file:///x.mrsh, which is not open" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_command_arguments_out_of_range_are_invalid_params(wire: Wire) -> None:
    wire.initialize()
    cases = [
        ("marshalike.compileFunction", ["file:///e.mrsh", -4]),
        ("marshalike.compile", "file:///e.mrsh"),
        ("marshalike.compile", {"uri": "file:///e.mrsh"}),
    ]
    for ident, (command, arguments) in enumerate(cases, 2):
        params = {"command": command, "arguments": arguments}
        wire.send(
            {"jsonrpc": "2.0", "id": ident, "method": "workspace/executeCommand", "params": params}
        )
        await asyncio.sleep(0.05)
        (answer,) = [m for m in wire.sent if m.get("id") == ident]
        assert answer["error"]["code"] == -32602, (command, arguments, answer)


@pytest.mark.asyncio
async def test_requests_after_shutdown_are_invalid_requests(wire: Wire) -> None:
    wire.initialize()
    assert wire.request(2, "shutdown") == {"jsonrpc": "2.0", "id": 2, "result": None}
    assert wire.server.wire.is_shut_down
    for ident, method in enumerate(["textDocument/documentSymbol", "shutdown", "made/up"], 3):
        params = {"textDocument": {"uri": "file:///x.mrsh"}}
        assert wire.request(ident, method, params)["error"]["code"] == -32600
    wire.send(_notification("exit"))
    assert wire.server.wire.exit_status == 0


@pytest.mark.asyncio
async def test_an_internal_error_is_answered_without_a_traceback(wire: Wire) -> None:
    def broken(ls: object, params: object) -> None:
        raise RuntimeError("a bug")

    wire.server.feature("marshalike/broken")(broken)
    wire.initialize()
    answer = wire.request(2, "marshalike/broken")
    assert answer["error"] == {"code": -32603, "message": "RuntimeError: a bug"}


def test_a_body_is_read_whole_or_not_at_all() -> None:
    assert next_body(io.BytesIO(b"Content-Length: 0\r\n\r\n")) == b""
    assert next_body(io.BytesIO(b"Content-Length: 5\r\n\r\n{}")) is None
    assert next_body(io.BytesIO(b"\r\nX: y\r\nContent-Length: 2\r\n\r\n{}")) == b"{}"


def _notification(method: str, params: object = None) -> dict:
    return {"jsonrpc": "2.0", "method": method, "params": params}
