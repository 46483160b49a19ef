"""`marshalike serve` refusing requests: OpenAI's error bodies for bad parameters, unknown
models and routes, malformed or oversized bodies, a wrong API key, and a failing engine.

FakeEngine continues a prompt with the prompt reversed ("hello" -> "olleh"), one token per
character, 64 tokens of context; the chat template is `role:content` lines. See
fake_engine.py; the shared server and its fixtures are in conftest.py and serving.py.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from fake_engine import FakeEngine
from serving import MODEL, error_body, open_client, raw_request, running

from marshalike_runtime.server import OpenAIServer, create_server


def test_retrieving_another_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4")
    message = "the model 'gpt-4' does not exist; this server serves 'fake-char'"
    assert caught.value.body == error_body(message, "model", "model_not_found")


def test_chat_the_template_rejects_is_400(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "assistant", "content": "hello"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=messages)
    message = "the conversation must end with a user message"
    assert caught.value.body == error_body(message, "messages", "invalid_chat")


def test_empty_prompt_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt="")
    assert caught.value.body == error_body("the prompt is empty", "prompt", "invalid_value")


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
    # a seed past 64 bits once failed the batch: every request decoded beside it
    (
        {"seed": 2**64},
        "'seed' must be between -9223372036854775808 and 18446744073709551615, "
        "got 18446744073709551616",
        "seed",
        VALUE,
    ),
    (
        {"seed": -(2**63) - 1},
        "'seed' must be between -9223372036854775808 and 18446744073709551615, "
        "got -9223372036854775809",
        "seed",
        VALUE,
    ),
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
    assert caught.value.body == error_body(message, param, code)


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
    assert caught.value.body == error_body(message, param, code)


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")
    message = "the model 'gpt-3.5-turbo-instruct' does not exist; this server serves 'fake-char'"
    assert caught.value.body == error_body(message, "model", "model_not_found")


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
    status, headers, data = raw_request(server, "POST", "/v1/completions", body)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(data) == {"error": error_body(message, param, code)}


def test_unknown_route_is_404(server: OpenAIServer) -> None:
    status, _, data = raw_request(server, "GET", "/v1/engines")
    assert status == 404
    assert json.loads(data) == {
        "error": error_body("unknown URL GET /v1/engines", None, "unknown_url")
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", "/v1/completions", "POST"), ("DELETE", "/v1/models", "GET")],
)
def test_wrong_method_is_405(server: OpenAIServer, method: str, path: str, allowed: str) -> None:
    status, headers, data = raw_request(server, method, path)
    assert status == 405
    assert headers["Allow"] == ("GET, HEAD" if allowed == "GET" else allowed)
    message = f"{path} accepts {allowed}, not {method}"
    assert json.loads(data) == {"error": error_body(message, None, "method_not_allowed")}


def test_api_key_is_required_when_set() -> None:
    engine = FakeEngine()
    with running(engine, api_key="s3cret") as server:
        assert open_client(server, "s3cret").models.list().data[0].id == MODEL
        with pytest.raises(openai.AuthenticationError) as caught:
            open_client(server, "guess").completions.create(model=MODEL, prompt="hi")
        assert caught.value.status_code == 401
        assert caught.value.body == error_body("incorrect API key", None, "invalid_api_key")
        status, _, data = raw_request(server, "GET", "/v1/models")
        missing = "missing API key: send it as 'Authorization: Bearer KEY'"
        assert (status, json.loads(data)) == (
            401,
            {"error": error_body(missing, None, "invalid_api_key")},
        )
    assert engine.calls == []


def test_engine_failure_is_500_and_the_server_carries_on(
    client: openai.OpenAI, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(fake_engine, "stream", broken)
    with pytest.raises(openai.InternalServerError) as caught:
        client.completions.create(model=MODEL, prompt="hi")
    message = "the engine failed: RuntimeError: out of memory"
    assert caught.value.body == error_body(message, None, "engine_error", kind="server_error")
    monkeypatch.undo()
    assert (
        client.completions.create(model=MODEL, prompt="hi", temperature=0).choices[0].text == "ih"
    )


def test_a_request_larger_than_the_kv_limit_is_400_before_it_reaches_the_engine() -> None:
    """n * (prompt + max_tokens) positions are reserved up front: above the server's
    `max_request_tokens` a request is refused, not left to reserve them."""
    engine = FakeEngine()
    with running(engine, max_request_tokens=100) as server:
        client = open_client(server, "key")
        with pytest.raises(openai.BadRequestError) as caught:
            client.completions.create(model=MODEL, prompt="hello", n=4, max_tokens=30)
        message = (
            "n (4) * (prompt (5 tokens) + 'max_tokens' (30)) is 140 tokens, above this "
            "server's limit of 100 tokens of KV cache per request; lower 'max_tokens' to 20 "
            "or less, or 'n'"
        )
        assert caught.value.body == error_body(message, "max_tokens", VALUE)
        with pytest.raises(openai.BadRequestError) as caught:
            client.completions.create(model=MODEL, prompt="x" * 10, n=16, max_tokens=1)
        message = (
            "n (16) * (prompt (10 tokens) + 'max_tokens' (1)) is 176 tokens, above this "
            "server's limit of 100 tokens of KV cache per request; lower 'n'"
        )
        assert caught.value.body == error_body(message, "max_tokens", VALUE)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "x" * 5}], n=16
            )
        message = (
            "the prompt (10 tokens) and n (16) leave no room for a generated token within this "
            "server's limit of 100 tokens per request (n * (prompt + max_tokens)); lower 'n' "
            "or shorten the prompt"
        )
        assert caught.value.body == error_body(message, "n", VALUE)
        assert engine.calls == []
        # at the limit it is served; without max_tokens the default is lowered to fit
        done = client.completions.create(
            model=MODEL, prompt="hello", n=4, max_tokens=20, temperature=0
        )
        assert [choice.text for choice in done.choices] == ["olleh"] * 4
        chat = [{"role": "user", "content": "hi"}]
        client.chat.completions.create(model=MODEL, messages=chat, n=4)  # type: ignore[arg-type]
        assert engine.calls[-1]["max_tokens"] == 100 // 4 - len("user:hi")


def test_the_kv_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_request_tokens must be at least 1, got 0"):
        create_server(FakeEngine(), port=0, max_request_tokens=0)


def test_oversized_body_is_413(server: OpenAIServer) -> None:
    headers = {"Content-Length": str(64 * 1024 * 1024)}
    status, _, data = raw_request(server, "POST", "/v1/completions", headers=headers)
    message = "the request body must be at most 16777216 bytes"
    assert (status, json.loads(data)) == (413, {"error": error_body(message, None, None)})


def test_chunked_request_body_is_411(server: OpenAIServer) -> None:
    headers = {"Transfer-Encoding": "chunked"}
    status, _, data = raw_request(
        server, "POST", "/v1/completions", body=b"0\r\n\r\n", headers=headers
    )
    message = "send the body with a Content-Length header"
    assert (status, json.loads(data)) == (411, {"error": error_body(message, None, None)})
