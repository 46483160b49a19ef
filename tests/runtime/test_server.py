"""`marshalike serve` against the real `openai` client, with `FakeEngine` in place of a model.

FakeEngine continues a prompt with the prompt reversed ("hello" -> "olleh"), one token per
character, 64 tokens of context; the chat template is `role:content` lines. See
fake_engine.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
from fake_engine import FakeEngine

from marshalike_runtime.server import OpenAIServer, create_server

MODEL = "fake-char"


@contextmanager
def running(engine: FakeEngine, api_key: str | None = None) -> Iterator[OpenAIServer]:
    server = create_server(engine, port=0, api_key=api_key, log=lambda message: None)
    # a short poll interval keeps shutdown(), and so each test's teardown, quick
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.close()
        thread.join(5)


# One server for the module keeps the suite fast; `engine` resets what a test may change.
@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[FakeEngine, OpenAIServer]]:
    engine = FakeEngine()
    with running(engine) as server:
        yield engine, server


@pytest.fixture
def engine(shared: tuple[FakeEngine, OpenAIServer]) -> FakeEngine:
    engine = shared[0]
    engine.calls.clear()
    engine.delay = 0.0
    return engine


@pytest.fixture
def server(shared: tuple[FakeEngine, OpenAIServer], engine: FakeEngine) -> OpenAIServer:
    return shared[1]


@pytest.fixture(scope="module")
def client(shared: tuple[FakeEngine, OpenAIServer]) -> openai.OpenAI:
    return _client(shared[1], "any-key")


def _client(server: OpenAIServer, key: str, timeout: float = 10) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0, timeout=timeout)


def _raw(
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


def _error(message: str, param: str | None, code: str, kind: str = "invalid_request_error"):
    return {"message": message, "type": kind, "param": param, "code": code}


# --- the happy paths ---------------------------------------------------------------------


def test_models_lists_the_served_model(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [(m.id, m.object, m.owned_by) for m in models.data] == [(MODEL, "model", "marshalike")]
    assert client.models.retrieve(MODEL).id == MODEL


def test_retrieving_another_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4")
    message = "the model 'gpt-4' does not exist; this server serves 'fake-char'"
    assert caught.value.body == _error(message, "model", "model_not_found")


def test_completion(client: openai.OpenAI) -> None:
    result = client.completions.create(model=MODEL, prompt="hello", temperature=0)
    assert result.id.startswith("cmpl-")
    assert (result.object, result.model) == ("text_completion", MODEL)
    assert [(c.index, c.text, c.finish_reason) for c in result.choices] == [(0, "olleh", "stop")]
    usage = result.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (5, 5, 10)


def test_completion_cut_by_max_tokens(client: openai.OpenAI, engine: FakeEngine) -> None:
    result = client.completions.create(model=MODEL, prompt="hello", max_tokens=3, temperature=0)
    assert [(c.text, c.finish_reason) for c in result.choices] == [("oll", "length")]
    assert result.usage is not None and result.usage.completion_tokens == 3


def test_completion_default_max_tokens_is_openais_16(
    client: openai.OpenAI, engine: FakeEngine
) -> None:
    client.completions.create(model=MODEL, prompt="<eos>" * 4, temperature=0)
    assert engine.calls[-1]["max_tokens"] == 16
    # control tokens written in a raw prompt stay plain text
    assert engine.tokenizer.allow_special[-1] is False


def test_chat(client: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "system", "content": "be"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "ab"}, {"type": "text", "text": "c"}],
        },
    ]
    result = client.chat.completions.create(model=MODEL, messages=messages, temperature=0)
    assert result.id.startswith("chatcmpl-")
    assert result.object == "chat.completion"
    choice = result.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "cba:resu\neb:metsys")
    assert choice.finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (18, 18)


def test_chat_defaults_to_what_the_context_has_left(
    client: openai.OpenAI, engine: FakeEngine
) -> None:
    messages: Any = [{"role": "developer", "content": "d"}, {"role": "user", "content": "u"}]
    client.chat.completions.create(model=MODEL, messages=messages)
    assert engine.calls[-1]["prompt"] == "system:d\nuser:u"
    assert engine.tokenizer.allow_special[-1] is True
    assert engine.calls[-1]["max_tokens"] == 64 - 15


def test_chat_adds_the_engines_chat_stops(client: openai.OpenAI, engine: FakeEngine) -> None:
    messages: Any = [{"role": "user", "content": "abc"}]
    client.chat.completions.create(model=MODEL, messages=messages, stop=["q", "\nuser:"])
    assert engine.calls[-1]["stop"] == ("q", "\nuser:")
    client.chat.completions.create(model=MODEL, messages=messages, stop="q")
    assert engine.calls[-1]["stop"] == ("q", "\nuser:")
    client.completions.create(model=MODEL, prompt="abc", stop="q")
    assert engine.calls[-1]["stop"] == ("q",)


def test_chat_the_template_rejects_is_400(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "assistant", "content": "hello"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=messages)
    message = "the conversation must end with a user message"
    assert caught.value.body == _error(message, "messages", "invalid_chat")


def test_empty_prompt_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt="")
    assert caught.value.body == _error("the prompt is empty", "prompt", "invalid_value")


def test_chat_max_completion_tokens(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "abc"}]
    result = client.chat.completions.create(
        model=MODEL, messages=messages, max_completion_tokens=2, temperature=0
    )
    assert [(c.message.content, c.finish_reason) for c in result.choices] == [("cb", "length")]


def test_sampling_parameters_reach_the_engine(client: openai.OpenAI, engine: FakeEngine) -> None:
    client.completions.create(
        model=MODEL,
        prompt="abc",
        n=2,
        max_tokens=5,
        temperature=0.5,
        top_p=0.9,
        stop=["x", "y"],
        seed=11,
        extra_body={"top_k": 40},
    )
    assert engine.calls == [
        {
            "prompt": "abc",
            "stream": False,
            "n": 2,
            "max_tokens": 5,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 40,
            "stop": ("x", "y"),
            "seed": 11,
        }
    ]


def test_n_candidates_with_a_seed_repeat(client: openai.OpenAI) -> None:
    def sample() -> list[str]:
        result = client.completions.create(
            model=MODEL, prompt="abcdefgh", n=4, temperature=1.0, seed=3
        )
        assert [c.index for c in result.choices] == [0, 1, 2, 3]
        assert result.usage is not None and result.usage.completion_tokens == 32
        return [c.text for c in result.choices]

    first = sample()
    assert first == sample()
    rotations = {"hgfedcba"[i:] + "hgfedcba"[:i] for i in range(8)}
    assert set(first) <= rotations


def test_stop_string(client: openai.OpenAI) -> None:
    result = client.completions.create(model=MODEL, prompt="hello world", stop="o", temperature=0)
    assert [(c.text, c.finish_reason) for c in result.choices] == [("dlr", "stop")]
    # the stop string's token was generated, so it counts
    assert result.usage is not None and result.usage.completion_tokens == 4


def test_stop_list_cuts_at_the_earliest(client: openai.OpenAI) -> None:
    result = client.completions.create(
        model=MODEL, prompt="hello world", stop=["l", "r"], temperature=0
    )
    assert [c.text for c in result.choices] == ["d"]


def test_several_prompts_number_their_choices_in_order(client: openai.OpenAI) -> None:
    result = client.completions.create(model=MODEL, prompt=["ab", "xyz"], n=2, temperature=0)
    assert [(c.index, c.text) for c in result.choices] == [
        (0, "ba"),
        (1, "ba"),
        (2, "zyx"),
        (3, "zyx"),
    ]
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (5, 10)


# --- streaming ---------------------------------------------------------------------------


def test_streamed_completion(client: openai.OpenAI, engine: FakeEngine) -> None:
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
    assert engine.calls[-1]["stream"] is True


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
    status, headers, data = _raw(server, "POST", "/v1/completions", body.encode())
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    events = data.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    payloads = [json.loads(event.removeprefix("data: ")) for event in events[:-2]]
    assert [p["choices"][0]["text"] for p in payloads] == ["b", "a", ""]
    assert [p["choices"][0]["finish_reason"] for p in payloads] == [None, None, "stop"]


# --- bad requests --------------------------------------------------------------------------

CONTEXT = "context_length_exceeded"
TYPE = "invalid_type"
VALUE = "invalid_value"

BAD_COMPLETIONS = [
    ({"n": 0}, "'n' must be between 1 and 16, got 0", "n", VALUE),
    ({"n": 17}, "'n' must be between 1 and 16, got 17", "n", VALUE),
    ({"n": "2"}, "'n' must be an integer, not a string", "n", TYPE),
    ({"n": True}, "'n' must be an integer, not a boolean", "n", TYPE),
    ({"max_tokens": 0}, "'max_tokens' must be at least 1, got 0", "max_tokens", VALUE),
    (
        {"max_tokens": 65},
        "'max_tokens' is 65, above this model's context of 64 tokens",
        "max_tokens",
        CONTEXT,
    ),
    (
        {"max_tokens": 60},
        "the prompt (5 tokens) and 'max_tokens' (60) do not fit in this model's context of "
        "64 tokens; lower 'max_tokens' to 59 or less",
        "max_tokens",
        CONTEXT,
    ),
    (
        {"prompt": "x" * 64},
        "the prompt is 64 tokens long; this model's context holds 64 tokens, including at "
        "least one generated token",
        "prompt",
        CONTEXT,
    ),
    ({"temperature": 2.5}, "'temperature' must be between 0 and 2, got 2.5", "temperature", VALUE),
    ({"temperature": "hot"}, "'temperature' must be a number, not a string", "temperature", TYPE),
    ({"top_p": 0}, "'top_p' must be greater than 0 and at most 1, got 0.0", "top_p", VALUE),
    ({"stop": [1]}, "'stop[0]' must be a string, not an integer", "stop", TYPE),
    ({"stop": ""}, "'stop' strings must not be empty", "stop", VALUE),
    ({"seed": 1.5}, "'seed' must be an integer, not a number", "seed", TYPE),
    ({"prompt": 5}, "'prompt' must be a string or an array, not an integer", "prompt", TYPE),
    (
        {"prompt": [[1, 2]]},
        "'prompt[0]' must be a string (token-id prompts are not supported)",
        "prompt",
        TYPE,
    ),
    ({"stream": "yes"}, "'stream' must be a boolean, not a string", "stream", TYPE),
    (
        {"stream_options": {"include_usage": True}},
        "'stream_options' is only allowed when 'stream' is true",
        "stream_options",
        VALUE,
    ),
    (
        {"logprobs": 2},
        "'logprobs' is not supported by this server",
        "logprobs",
        "unsupported_parameter",
    ),
    (
        {"max_tokens": 3, "extra_body": {"max_completion_tokens": 4}},
        "'max_tokens' and 'max_completion_tokens' disagree; send only one",
        "max_tokens",
        VALUE,
    ),
]


@pytest.mark.parametrize(("fields", "message", "param", "code"), BAD_COMPLETIONS)
def test_bad_completion_requests_are_400(
    client: openai.OpenAI, fields: dict[str, Any], message: str, param: str, code: str
) -> None:
    body = {"model": MODEL, "prompt": "hello", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(**body)  # type: ignore[call-overload]
    assert caught.value.status_code == 400
    assert caught.value.body == _error(message, param, code)


BAD_CHATS = [
    ({"messages": []}, "'messages' must contain at least one message", "messages", VALUE),
    ({"messages": "hi"}, "'messages' must be an array, not a string", "messages", TYPE),
    ({"messages": ["hi"]}, "'messages[0]' must be an object, not a string", "messages[0]", None),
    (
        {"messages": [{"role": "robot", "content": "x"}]},
        "'messages[0].role' must be one of system, developer, user, assistant; got \"robot\"",
        "messages[0].role",
        VALUE,
    ),
    (
        {"messages": [{"role": "user", "content": 3}]},
        "'messages[0].content' must be a string or an array of text parts, not an integer",
        "messages[0].content",
        TYPE,
    ),
    (
        {"messages": [{"role": "user", "content": "y" * 60}]},
        "the prompt is 65 tokens long; this model's context holds 64 tokens, including at "
        "least one generated token",
        "messages",
        CONTEXT,
    ),
]


@pytest.mark.parametrize(("fields", "message", "param", "code"), BAD_CHATS)
def test_bad_chat_requests_are_400(
    client: openai.OpenAI, fields: dict[str, Any], message: str, param: str, code: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, **fields)
    assert caught.value.body == _error(message, param, code)  # type: ignore[arg-type]


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")
    message = "the model 'gpt-3.5-turbo-instruct' does not exist; this server serves 'fake-char'"
    assert caught.value.body == _error(message, "model", "model_not_found")


@pytest.mark.parametrize(
    ("body", "message", "param", "code"),
    [
        (
            b'{"model": ',
            "the request body is not valid JSON (Expecting value)",
            None,
            "invalid_json",
        ),
        (
            b'{"model": "\xff"}',
            "the request body is not valid JSON (not UTF-8)",
            None,
            "invalid_json",
        ),
        (b"[1, 2]", "the request body must be a JSON object, not an array", None, None),
        (
            b'{"prompt": "x"}',
            "missing required parameter 'model'",
            "model",
            "missing_required_parameter",
        ),
        (
            b'{"model": "fake-char"}',
            "missing required parameter 'prompt'",
            "prompt",
            "missing_required_parameter",
        ),
    ],
)
def test_malformed_bodies_are_400(
    server: OpenAIServer, body: bytes, message: str, param: str | None, code: str | None
) -> None:
    status, headers, data = _raw(server, "POST", "/v1/completions", body)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(data) == {"error": _error(message, param, code)}  # type: ignore[arg-type]


def test_unknown_route_is_404(server: OpenAIServer) -> None:
    status, _, data = _raw(server, "GET", "/v1/engines")
    assert status == 404
    assert json.loads(data) == {"error": _error("unknown URL GET /v1/engines", None, "unknown_url")}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", "/v1/completions", "POST"), ("DELETE", "/v1/models", "GET")],
)
def test_wrong_method_is_405(server: OpenAIServer, method: str, path: str, allowed: str) -> None:
    status, headers, data = _raw(server, method, path)
    assert status == 405
    assert headers["Allow"] == allowed
    message = f"{path} accepts {allowed}, not {method}"
    assert json.loads(data) == {"error": _error(message, None, "method_not_allowed")}


def test_api_key_is_required_when_set() -> None:
    engine = FakeEngine()
    with running(engine, api_key="s3cret") as server:
        assert _client(server, "s3cret").models.list().data[0].id == MODEL
        with pytest.raises(openai.AuthenticationError) as caught:
            _client(server, "guess").completions.create(model=MODEL, prompt="hi")
        assert caught.value.status_code == 401
        assert caught.value.body == _error("incorrect API key", None, "invalid_api_key")
        status, _, data = _raw(server, "GET", "/v1/models")
        missing = "missing API key: send it as 'Authorization: Bearer KEY'"
        assert (status, json.loads(data)) == (
            401,
            {"error": _error(missing, None, "invalid_api_key")},
        )
    assert engine.calls == []


def test_engine_failure_is_500_and_the_server_carries_on(
    client: openai.OpenAI, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(engine, "generate", broken)
    with pytest.raises(openai.InternalServerError) as caught:
        client.completions.create(model=MODEL, prompt="hi")
    message = "the engine failed: RuntimeError: out of memory"
    assert caught.value.body == _error(message, None, "engine_error", kind="server_error")
    monkeypatch.undo()
    assert (
        client.completions.create(model=MODEL, prompt="hi", temperature=0).choices[0].text == "ih"
    )


def test_engine_failure_mid_stream_is_reported_in_the_stream(
    client: openai.OpenAI, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Iterator[tuple[int, str]]:
        yield 0, "partial"
        raise RuntimeError("device lost")

    monkeypatch.setattr(engine, "stream", failing)
    chunks = client.completions.create(model=MODEL, prompt="hi", stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in chunks:
            pass
    message = "the engine failed: RuntimeError: device lost"
    assert caught.value.body == _error(message, None, "engine_error", kind="server_error")


def test_oversized_body_is_413(server: OpenAIServer) -> None:
    headers = {"Content-Length": str(64 * 1024 * 1024)}
    status, _, data = _raw(server, "POST", "/v1/completions", headers=headers)
    message = "the request body must be at most 16777216 bytes"
    assert (status, json.loads(data)) == (413, {"error": _error(message, None, None)})


def test_chunked_request_body_is_411(server: OpenAIServer) -> None:
    headers = {"Transfer-Encoding": "chunked"}
    status, _, data = _raw(server, "POST", "/v1/completions", body=b"0\r\n\r\n", headers=headers)
    message = "send the body with a Content-Length header"
    assert (status, json.loads(data)) == (411, {"error": _error(message, None, None)})


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


# --- concurrency and disconnects -----------------------------------------------------------


def test_concurrent_clients_get_their_own_answers(server: OpenAIServer, engine: FakeEngine) -> None:
    engine.delay = 0.002
    prompts = [f"client {i} says hi" for i in range(8)]
    answers: dict[str, str] = {}

    def ask(prompt: str, stream: bool) -> None:
        client = _client(server, "k")
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
        result = _client(server, "k").completions.create(
            model=MODEL, prompt="ok", max_tokens=5, temperature=0
        )
        assert result.choices[0].text == "ko"
        assert time.monotonic() - started < 1.5, "the abandoned stream was not cut short"
        assert "client went away; generation stopped" in logs
    finally:
        server.shutdown()
        server.close()


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


# --- the compiler's side ---------------------------------------------------------------------


def test_the_compilers_openai_backend_works_against_the_server(server: OpenAIServer) -> None:
    from marshalike.backends.base import Completion, Prompt, Sampling
    from marshalike.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model=MODEL, base_url=server.base_url, max_retries=0, timeout=10)
    sampling = Sampling(n=2, temperature=0.0, top_p=1.0, max_tokens=20, stop=("\n\n",))
    chat = Prompt("chat", messages=(("system", "s"), ("user", "fn")))
    text = Prompt("completion", text="def f():")
    assert backend.generate(chat, sampling) == [Completion("nf:resu\ns:metsys", 8, 16, "stop")] * 2
    assert backend.generate(text, sampling) == [Completion(":)(f fed", 4, 8, "stop")] * 2


# --- the real engine -----------------------------------------------------------------------


@pytest.mark.slow
def test_the_embedded_model_through_the_server(embedded_gguf: Path) -> None:
    """What the server returns is what the engine generates, token for token."""
    from marshalike_runtime.engine import Engine

    engine = Engine.load(embedded_gguf, progress=False)
    prompt = 'def add(a, b):\n    """Return the sum of a and b."""\n'
    ids = engine.tokenizer.encode(prompt)
    (direct,) = engine.generate(ids, max_tokens=12, temperature=0.0)
    messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    chat_text = engine.render_chat(messages)
    chat_ids = engine.tokenizer.encode(chat_text, add_bos=False, allow_special=True)
    chat_stop = getattr(engine, "chat_stop", ())
    (direct_chat,) = engine.generate(chat_ids, max_tokens=8, temperature=0.0, stop=chat_stop)
    with running(engine) as server:
        client = _client(server, "k", timeout=300)  # 2 shared cores can be slow
        (card,) = client.models.list().data
        options: Any = {"model": card.id, "max_tokens": 12, "temperature": 0}
        result = client.completions.create(prompt=prompt, n=2, **options)
        assert [c.text for c in result.choices] == [direct.text, direct.text]
        assert result.usage is not None
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (len(ids), 24)
        chunks = client.completions.create(prompt=prompt, stream=True, **options)
        assert "".join(chunk.choices[0].text for chunk in chunks) == direct.text
        chat = client.chat.completions.create(
            model=card.id,
            messages=messages,
            max_tokens=8,
            temperature=0,  # type: ignore[arg-type]
        )
        assert chat.choices[0].message.content == direct_chat.text


def test_close_ends_keep_alive_connections_and_their_threads() -> None:
    # A handler thread left in recv() past the server's life once crashed the interpreter
    # at exit (a daemon thread killed during finalisation).
    before = set(threading.enumerate())  # other tests' servers may have threads of their own
    with running(FakeEngine()) as server:
        client = _client(server, "k")
        client.completions.create(model=server.model_name, prompt="abc", max_tokens=2)
        handlers = [
            t for t in threading.enumerate() if t not in before and "process_request" in t.name
        ]
        assert handlers  # the client keeps its connection, and so a thread, open
    assert not any(t.is_alive() for t in handlers)
    client.close()
