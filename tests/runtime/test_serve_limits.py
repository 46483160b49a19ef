"""`marshalike serve` against clients that push its limits: many at once, more connections
than it serves, large and malformed bodies, text UTF-8 cannot hold, odd methods and request
lines, and a client that half-closes its connection. Whatever they send, the server answers
each with OpenAI's JSON error (or the answer), and goes on serving.

FakeEngine continues a prompt with the prompt reversed ("hello" -> "olleh"), one token per
character, 64 tokens of context; the chat template is `role:content` lines. See
fake_engine.py; the shared server and its fixtures are in conftest.py and serving.py.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fake_engine import FakeEngine
from serving import MODEL, error_body, open_client, raw_request, running

from marshalike_runtime.server import OpenAIServer, create_server
from marshalike_runtime.server_http import MAX_BODY_BYTES
from marshalike_runtime.server_worker import SLICE_CHARS

VALUE = "invalid_value"


def _exchange(server: OpenAIServer, data: bytes, method: str = "GET") -> http.client.HTTPResponse:
    """Send raw bytes on a new connection and read one response (1xx skipped)."""
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    sock.sendall(data)
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    response.sock = sock  # closed with the response
    return response


def _json_error(response: http.client.HTTPResponse) -> dict[str, Any]:
    assert response.getheader("Content-Type") == "application/json"
    body = json.loads(response.read())
    assert set(body) == {"error"}
    return body["error"]


def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- connections -------------------------------------------------------------------------


def test_clients_arriving_together_all_get_in_while_the_accept_loop_is_busy() -> None:
    """socketserver's listen queue of 5 reset clients that came at once while decoding held
    the GIL: here the server accepts nothing until all 64 have connected."""
    server = create_server(FakeEngine(), port=0, log=lambda message: None)
    clients = []
    try:
        for _ in range(64):
            sock = socket.socket(server.address_family)
            sock.setblocking(False)
            sock.connect_ex(server.server_address[:2])
            clients.append(sock)
        time.sleep(0.5)
        _, writable, _ = select.select([], clients, [], 0)
        connected = [s for s in writable if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)]
        assert len(connected) == 64
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        for sock in clients:
            sock.setblocking(True)
            sock.settimeout(10)
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in clients:
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 200
    finally:
        for sock in clients:
            sock.close()
        server.shutdown()
        server.close()


def test_connections_past_the_limit_are_answered_503_and_the_slot_comes_back() -> None:
    with running(FakeEngine(), max_connections=2) as server:
        held = [_exchange(server, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n") for _ in "ab"]
        assert [response.status for response in held] == [200, 200]
        for response in held:
            response.read()  # the connections stay open, idle
        body = json.dumps({"model": MODEL, "prompt": "hi"}).encode()
        refused = _exchange(
            server,
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%b"
            % (len(body), body),
        )
        assert refused.status == 503
        assert refused.getheader("Retry-After") == "1"
        assert refused.getheader("Connection") == "close"
        message = "the server has too many connections open; try again shortly"
        assert _json_error(refused) == error_body(message, None, "server_busy", "server_error")
        held[0].sock.close()
        answered = open_client(server, "k").completions.create(
            model=MODEL, prompt="hi", max_tokens=4, temperature=0
        )
        assert answered.choices[0].text == "ih"


def test_the_connection_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_connections must be at least 1, got 0"):
        create_server(FakeEngine(), port=0, max_connections=0)


# --- memory ------------------------------------------------------------------------------


def test_large_bodies_past_the_budget_are_answered_503_and_small_ones_go_on() -> None:
    """Bodies over a megabyte share a budget while their requests run; six prompts of 15 MB
    at once once took 5 GB."""
    with running(FakeEngine(), body_bytes_in_flight=MAX_BODY_BYTES) as server:
        slow = socket.create_connection(server.server_address[:2], timeout=10)
        slow.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{"
            % MAX_BODY_BYTES
        )
        _until(lambda: server.bodies.held == MAX_BODY_BYTES)
        big = b'{"model": "fake-char", "prompt": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        status, headers, data = raw_request(server, "POST", "/v1/completions", big)
        assert (status, headers["Retry-After"]) == (503, "1")
        message = "the server is reading other large requests; send this one again shortly"
        assert json.loads(data) == {
            "error": error_body(message, None, "server_busy", "server_error")
        }
        small = open_client(server, "k").completions.create(
            model=MODEL, prompt="hi", max_tokens=4, temperature=0
        )
        assert small.choices[0].text == "ih"
        slow.close()
        _until(lambda: server.bodies.held == 0)
        status, _, data = raw_request(server, "POST", "/v1/completions", big)
        assert status == 400  # served: a prompt far longer than the context
        assert json.loads(data)["error"]["code"] == "context_length_exceeded"


def test_the_body_budget_holds_at_least_one_largest_body() -> None:
    with pytest.raises(ValueError, match="the body budget must be at least 16777216, got 100"):
        create_server(FakeEngine(), port=0, body_bytes_in_flight=100)


@pytest.mark.parametrize("endpoint", ["completion", "chat"])
def test_a_prompt_far_beyond_the_context_is_refused_before_it_is_tokenized_whole(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    """A 15 MB prompt once took 7.7 s and 730 MB of tokens before its 400."""
    engine = FakeEngine()
    encoded: list[int] = []
    encode = engine.tokenizer.encode

    def counting(text: str, **options: Any) -> list[int]:
        encoded.append(len(text))
        return encode(text, **options)

    monkeypatch.setattr(engine.tokenizer, "encode", counting)
    text = "x" * (5 * SLICE_CHARS)
    if endpoint == "chat":
        path, body = "/v1/chat/completions", {"messages": [{"role": "user", "content": text}]}
    else:
        path, body = "/v1/completions", {"prompt": text}
    with running(engine) as server:
        status, _, data = raw_request(
            server, "POST", path, json.dumps({"model": MODEL, **body}).encode()
        )
    length = len(text) + (len("user:") if endpoint == "chat" else 0)
    message = (
        f"the prompt ({length} characters) is far longer than this model's context of 64 tokens"
    )
    param = "messages" if endpoint == "chat" else "prompt"
    assert (status, json.loads(data)) == (
        400,
        {"error": error_body(message, param, "context_length_exceeded")},
    )
    assert encoded == [SLICE_CHARS]  # one slice was enough to tell
    assert engine.calls == []


def test_a_prompt_array_is_bounded(server: OpenAIServer) -> None:
    body = json.dumps({"model": MODEL, "prompt": ["a"] * 65}).encode()
    status, _, data = raw_request(server, "POST", "/v1/completions", body)
    message = "'prompt' takes at most 64 prompts, got 65"
    assert (status, json.loads(data)) == (400, {"error": error_body(message, "prompt", VALUE)})


# --- what a request says -----------------------------------------------------------------

SURROGATE = "\\ud800"  # as JSON spells it


@pytest.mark.parametrize(
    ("path", "fields", "where", "param"),
    [
        ("/v1/completions", f'"prompt": "a{SURROGATE}"', "prompt", "prompt"),
        ("/v1/completions", f'"prompt": ["ok", "{SURROGATE}"]', "prompt[1]", "prompt"),
        ("/v1/completions", f'"prompt": "ok", "stop": "{SURROGATE}"', "stop", "stop"),
        ("/v1/completions", f'"prompt": "ok", "stop": ["x", "{SURROGATE}"]', "stop[1]", "stop"),
        (
            "/v1/chat/completions",
            f'"messages": [{{"role": "user", "content": "{SURROGATE}"}}]',
            "messages[0].content",
            "messages[0].content",
        ),
        (
            "/v1/chat/completions",
            '"messages": [{"role": "user", "content": "ok"}, '
            f'{{"role": "user", "content": [{{"type": "text", "text": "{SURROGATE}"}}]}}]',
            "messages[1].content",
            "messages[1].content",
        ),
    ],
)
def test_text_utf8_cannot_hold_is_400_naming_the_field(
    server: OpenAIServer, fake_engine: FakeEngine, path: str, fields: str, where: str, param: str
) -> None:
    """A lone surrogate once reached the tokenizer: a 500 with its internals, which the
    openai client retries."""
    body = f'{{"model": "{MODEL}", {fields}}}'.encode()
    status, _, data = raw_request(server, "POST", path, body)
    at = 1 if where == "prompt" else 0
    message = (
        f"'{where}' is not valid Unicode text: it holds a lone surrogate (U+D800) at character {at}"
    )
    assert (status, json.loads(data)) == (400, {"error": error_body(message, param, VALUE)})
    assert fake_engine.calls == []


def test_response_format_is_refused_unless_it_asks_for_text(server: OpenAIServer) -> None:
    """JSON mode needs constrained decoding; it was once ignored without a word."""
    asked = {"model": MODEL, "prompt": "hi", "max_tokens": 2}
    for fmt in ({"type": "json_object"}, {"type": "json_schema", "json_schema": {}}):
        body = json.dumps({**asked, "response_format": fmt}).encode()
        status, _, data = raw_request(server, "POST", "/v1/completions", body)
        message = "'response_format' is not supported by this server"
        error = error_body(message, "response_format", "unsupported_parameter")
        assert (status, json.loads(data)) == (400, {"error": error})
    body = json.dumps({**asked, "response_format": {"type": "text"}}).encode()
    assert raw_request(server, "POST", "/v1/completions", body)[0] == 200


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[" * 100_000, "arrays or objects nested too deeply"),
        (
            b'{"model": "fake-char", "n": ' + b"1" * 5000 + b"}",
            "an integer with more than 4300 digits",
        ),
    ],
)
def test_bodies_json_cannot_read_are_400(server: OpenAIServer, body: bytes, detail: str) -> None:
    status, _, data = raw_request(server, "POST", "/v1/completions", body)
    message = f"the request body is not valid JSON ({detail})"
    assert (status, json.loads(data)) == (400, {"error": error_body(message, None, "invalid_json")})


def test_a_role_nested_deep_is_named_by_its_type(server: OpenAIServer) -> None:
    role = "[" * 900 + "]" * 900
    body = f'{{"model": "{MODEL}", "messages": [{{"role": {role}, "content": "x"}}]}}'
    status, _, data = raw_request(server, "POST", "/v1/chat/completions", body.encode())
    message = "'messages[0].role' must be one of system, developer, user, assistant; got an array"
    assert (status, json.loads(data)) == (
        400,
        {"error": error_body(message, "messages[0].role", VALUE)},
    )


# --- HTTP framing --------------------------------------------------------------------------

LENGTH_MESSAGE = "the Content-Length header must be one number of bytes (digits 0-9)"


@pytest.mark.parametrize("lengths", [["²"], ["+2"], ["-1"], ["0x2"], ["2", "3"], ["2, 3"], ["1_0"]])
def test_a_content_length_that_is_not_one_number_is_400(
    server: OpenAIServer, lengths: list[str]
) -> None:
    headers = "".join(f"Content-Length: {value}\r\n" for value in lengths)
    request = f"POST /v1/completions HTTP/1.1\r\nHost: x\r\n{headers}\r\n{{}}".encode()
    response = _exchange(server, request, "POST")
    assert response.status == 400
    assert response.getheader("Connection") == "close"
    assert _json_error(response) == error_body(LENGTH_MESSAGE, None, "invalid_content_length")


def test_a_content_length_of_many_digits_is_413_and_repeated_equal_ones_are_read(
    server: OpenAIServer,
) -> None:
    request = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000
    response = _exchange(server, request + b"\r\n\r\n", "POST")
    assert response.status == 413
    body = json.dumps({"model": MODEL, "prompt": "ab", "temperature": 0}).encode()
    twice = b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body))
    response = _exchange(
        server, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n" + twice + b"\r\n" + body, "POST"
    )
    assert response.status == 200
    assert json.loads(response.read())["choices"][0]["text"] == "ba"


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("OPTIONS", "/v1/models", 405, "GET, HEAD"),
        ("TRACE", "/v1/completions", 405, "POST"),
        ("PUT", "/v1/chat/completions", 405, "POST"),
        ("BREW", "/coffee", 404, None),
    ],
)
def test_any_method_gets_a_json_answer(
    server: OpenAIServer, method: str, path: str, status: int, allow: str | None
) -> None:
    response = _exchange(server, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), method)
    assert response.status == status
    assert response.getheader("Allow") == allow
    error = _json_error(response)
    assert error["code"] == ("unknown_url" if status == 404 else "method_not_allowed")


def test_head_is_get_without_the_body(server: OpenAIServer) -> None:
    response = _exchange(server, b"HEAD /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD")
    assert response.status == 200
    assert int(response.getheader("Content-Length", "0")) > 0
    assert response.read() == b""
    response = _exchange(server, b"HEAD /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD")
    assert (response.status, response.getheader("Allow")) == (405, "POST")
    # the connection carried no body after the headers: a next request reads cleanly
    response.sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    again = http.client.HTTPResponse(response.sock)
    again.begin()
    assert again.status == 200


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GARBAGE", 400),
        (b"GET /v1/models HTTP/1.1 extra", 400),
        (b"GET /v1/models HTTQ/1.1", 400),
        (b"GET /v1/models HTTP/2.0", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1", 414),
    ],
)
def test_malformed_request_lines_get_json_errors(
    server: OpenAIServer, request_line: bytes, status: int
) -> None:
    response = _exchange(server, request_line + b"\r\nHost: x\r\n\r\n")
    assert response.status == status
    error = _json_error(response)
    assert error["code"] == "invalid_http"
    assert error["type"] == ("server_error" if status >= 500 else "invalid_request_error")


def test_headers_too_long_get_a_json_error(server: OpenAIServer) -> None:
    request = b"GET /v1/models HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n"
    response = _exchange(server, request)
    assert response.status == 431
    assert _json_error(response)["code"] == "invalid_http"


# --- a client that half-closes -------------------------------------------------------------


def test_a_client_that_closes_only_its_sending_half_gets_its_answer() -> None:
    """Shutting down the write side after a complete request is legal HTTP; the server once
    took it for a client gone and sent nothing."""
    logs: list[str] = []
    engine = FakeEngine(delay=0.03)  # 30 characters: 0.9 s, several looks at the client
    server = create_server(engine, port=0, log=logs.append)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        asked = {"model": MODEL, "prompt": "z" * 29 + "a", "max_tokens": 30, "temperature": 0}
        body = json.dumps(asked)
        request = (
            f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
        with socket.create_connection(server.server_address[:2], timeout=10) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            response = http.client.HTTPResponse(sock, method="POST")
            response.begin()  # past the interim 100 Continue
            assert response.status == 200
            assert json.loads(response.read())["choices"][0]["text"] == "a" + "z" * 29
        assert "client went away; generation stopped" not in logs
    finally:
        server.shutdown()
        server.close()
