"""`marshalike lsp` and a client's stream it cannot frame: a Content-Length that is no
number, or absurdly large, skips that message with a warning on stderr, and the session
goes on with the next message, never ending in an internal error or waiting for bytes
that never come."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from marshalike.lsp import server as lsp_server
from marshalike.lsp.server import MAX_MESSAGE, FramedInput


def message(body: dict, length: str | None = None) -> bytes:
    data = json.dumps({"jsonrpc": "2.0", **body}).encode()
    return b"Content-Length: %s\r\n\r\n" % (length or str(len(data))).encode() + data


@pytest.mark.parametrize("length", ["99999999999999999999", str(MAX_MESSAGE + 1), "abc", "-1"])
def test_a_message_with_a_length_no_one_can_read_is_skipped_and_the_session_goes_on(
    length: str,
) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "marshalike", "lsp"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    initialize = {
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "capabilities": {}},
    }
    stream = (
        message(initialize)
        + message({"method": "initialized", "params": {}}, length=length)
        + message({"id": 2, "method": "shutdown"})
        + message({"method": "exit"})
    )
    try:
        out, err = server.communicate(stream, timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0, err
    answers = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in _messages(out)]
    assert [answer.get("id") for answer in answers if "id" in answer] == [1, 2]
    assert next(a for a in answers if a.get("id") == 2)["result"] is None
    text = err.decode()
    assert "internal error" not in text and "Traceback" not in text
    assert f"marshalike: warning: lsp: skipped a message with Content-Length '{length}'" in text


def _messages(out: bytes) -> list[bytes]:
    return [b"Content-Length" + part for part in out.split(b"Content-Length")[1:]]


def test_headers_are_given_to_pygls_in_the_form_it_reads() -> None:
    warned: list[str] = []
    stream = io.BytesIO(b'garbage}content-length:  12 \r\n\r\n{"a": "b12"}')
    framed = FramedInput(stream, warned.append)
    assert framed.readline() == b"Content-Length: 12\r\n"
    assert framed.readline() == b"\r\n"
    assert framed.read(12) == b'{"a": "b12"}'
    assert framed.readline() == b""
    assert warned == []


def test_a_skipped_message_s_body_is_read_in_pieces_and_a_header_cut_between_them_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lsp_server, "_CHUNK", 32)
    body = b"x" * 100  # no newline: one long line
    for cut in range(0, 40):  # the next header at every offset against the chunks
        stream = io.BytesIO(
            b"Content-Length: 999999999999\r\n\r\n" + body[:cut] + b"Content-Length: 2\r\n\r\n{}"
        )
        warned: list[str] = []
        framed = FramedInput(stream, warned.append)
        lines = [framed.readline()]
        while lines[-1] != b"Content-Length: 2\r\n":
            assert lines[-1] != b"", cut
            lines.append(framed.readline())
        assert framed.readline() == b"\r\n" and framed.read(2) == b"{}"
        assert len(warned) == 1
