"""The language server's answers to messages its protocol library cannot read."""

from __future__ import annotations

import json
import subprocess
import sys


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
