"""`marshalike serve` streams: server-sent events through the `openai` client and raw, over
HTTP/1.1 and 1.0, and an engine failure in the middle of one.

FakeEngine continues a prompt with the prompt reversed ("hello" -> "olleh"), one token per
character, 64 tokens of context; the chat template is `role:content` lines. See
fake_engine.py; the shared server and its fixtures are in conftest.py and serving.py.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fake_engine import FakeEngine
from serving import MODEL, error_body, raw_request

from marshalike_runtime.server import OpenAIServer


def test_streamed_completion(client: openai.OpenAI, fake_engine: FakeEngine) -> None:
    chunks = list(
        client.completions.create(model=MODEL, prompt="abc", n=2, temperature=0, stream=True)
    )
    assert len({chunk.id for chunk in chunks}) == 1
    texts = ["", ""]
    finish: dict[int, str | None] = {}
    for chunk in chunks:
        (choice,) = chunk.choices
        texts[choice.index] += choice.text
        if choice.finish_reason:
            finish[choice.index] = choice.finish_reason
    assert texts == ["cba", "cba"]
    assert finish == {0: "stop", 1: "stop"}
    assert fake_engine.calls[-1]["stream"] is True


def test_streamed_chat_announces_the_role_then_streams_content(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=4,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    first, *middle, finish, usage = chunks
    assert (first.choices[0].delta.role, first.choices[0].delta.content) == ("assistant", "")
    assert "".join(c.choices[0].delta.content or "" for c in middle) == "ih:r"
    assert finish.choices[0].finish_reason == "length"
    assert usage.choices == []
    assert usage.usage is not None
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens) == (7, 4)


def test_stream_is_server_sent_events_ending_in_done(server: OpenAIServer) -> None:
    body = json.dumps({"model": MODEL, "prompt": "ab", "stream": True, "temperature": 0})
    status, headers, data = raw_request(server, "POST", "/v1/completions", body.encode())
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    events = data.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    payloads = [json.loads(event.removeprefix("data: ")) for event in events[:-2]]
    assert [p["choices"][0]["text"] for p in payloads] == ["b", "a", ""]
    assert [p["choices"][0]["finish_reason"] for p in payloads] == [None, None, "stop"]


def test_http_1_0_streams_end_with_the_connection(server: OpenAIServer) -> None:
    body = json.dumps({"model": MODEL, "prompt": "ab", "stream": True, "temperature": 0})
    request = (
        f"POST /v1/completions HTTP/1.0\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    head, _, events = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Transfer-Encoding" not in head
    assert events.startswith(b"data: {") and events.endswith(b"\n\ndata: [DONE]\n\n")


def test_engine_failure_mid_stream_is_reported_in_the_stream(
    client: openai.OpenAI, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Iterator[tuple[int, str]]:
        yield 0, "partial"
        raise RuntimeError("device lost")

    monkeypatch.setattr(fake_engine, "stream", failing)
    chunks = client.completions.create(model=MODEL, prompt="hi", stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in chunks:
            pass
    message = "the engine failed: RuntimeError: device lost"
    assert caught.value.body == error_body(message, None, "engine_error", kind="server_error")
