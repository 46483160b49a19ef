"""A `marshalike serve` server in a test, and the ways the tests talk to it.

`running` serves a `FakeEngine` (fake_engine.py) on a free port of 127.0.0.1 for the length
of a `with` block; `open_client` is the real `openai` client pointed at it; `raw_request`
sends what that client would not (malformed bodies, wrong methods); `error_body` is the
`error` object of OpenAI's error responses. The module-scoped server that most server tests
share is in conftest.py (`shared_server`, `fake_engine`, `server`, `client`).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai

from marshalike_runtime.server import OpenAIServer, create_server

MODEL = "fake-char"  # FakeEngine's model name


@contextmanager
def running(engine: Any, api_key: str | None = None, **options: Any) -> Iterator[OpenAIServer]:
    """``options``: more of `create_server`'s settings (``max_request_tokens``)."""
    server = create_server(engine, port=0, api_key=api_key, log=lambda message: None, **options)
    # a short poll interval keeps shutdown(), and so each test's teardown, quick
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.close()
        thread.join(5)


def open_client(server: OpenAIServer, key: str, timeout: float = 10) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0, timeout=timeout)


def raw_request(
    server: OpenAIServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def error_body(
    message: str, param: str | None, code: str | None, kind: str = "invalid_request_error"
) -> dict[str, str | None]:
    return {"message": message, "type": kind, "param": param, "code": code}
