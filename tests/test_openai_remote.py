"""The openai backend against a real HTTP server (tests/fake_openai.py) that streams, stalls,
refuses to stream, rate limits and lists models: answers are assembled from their chunks,
the timeout bounds a silence and not an answer, retries are the backend's own."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fake_openai import Chunks, FakeOpenAI, Reply, refusing_streams

from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.backends.openai_backend import OpenAIBackend, server_model
from marshalike.backends.openai_retry import RetryPolicy
from marshalike.cli.main import cli
from marshalike.errors import BackendError, ConfigError

CHAT = Prompt("chat", messages=(("user", "Write add(a, b)."),))
STUB = Prompt("completion", text="def add(a, b):\n")
CODE = "def add(a, b):\n    return a + b"


def backend(server: FakeOpenAI, **settings: Any) -> OpenAIBackend:
    settings = {"model": "coder-7b", "max_retries": 2, "backoff": 0.001, **settings}
    return OpenAIBackend(base_url=server.base_url, **settings)


@pytest.mark.parametrize("prompt", [CHAT, STUB], ids=["chat", "completions"])
def test_a_streamed_answer_is_assembled_from_its_chunks(prompt: Prompt) -> None:
    with FakeOpenAI(lambda request: CODE, stream=True) as server:
        completions = backend(server).generate(prompt, Sampling(n=2))
    # Words stand in for tokens: the usage chunk's 2 x 7 completion words, split in two.
    prompt_words = len(server.requests[0].prompt_text.split())
    half = prompt_words // 2
    assert completions == [
        Completion(CODE, prompt_words - half, 7, "stop"),
        Completion(CODE, half, 7, "stop"),
    ]
    assert server.requests[0].body["stream"] is True


def test_a_stream_without_usage_counts_its_chunks_as_its_tokens() -> None:
    # As llama-cpp-python's server streams: no usage chunk, whatever the request asks.
    pieces = ["def ", "add(a, ", "b):\n", "    return ", "a + b"]
    with FakeOpenAI(lambda request: Chunks(pieces), usage=False) as server:
        b = backend(server)
        [whole] = b.generate(CHAT, Sampling())
        each = [c for _, c in b.generate_each(CHAT, Sampling())]
    assert whole == Completion(CODE, 0, len(pieces), "stop")
    assert each == [whole]


def test_a_slow_but_steady_stream_outlasts_the_timeout() -> None:
    pieces = [f"x{i} " for i in range(12)]  # 12 x 0.08 s: about 1 s, the timeout 0.4 s
    with FakeOpenAI(lambda request: Chunks(pieces, delay=0.08)) as server:
        started = time.monotonic()
        completions = backend(server, timeout=0.4).generate(CHAT, Sampling())
    assert time.monotonic() - started > 0.4
    assert [c.text for c in completions] == ["".join(pieces)]


def test_a_stalled_stream_fails_with_the_setting_to_change() -> None:
    with FakeOpenAI(lambda request: Chunks(["def ", "add"], delay=0.01, stall=1.0)) as server:
        with pytest.raises(BackendError) as caught:
            backend(server, timeout=0.3).generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"{server.base_url} sent nothing for 0.3 s — is the server overloaded? "
        "if it is only slow, raise --request-timeout"
    )
    assert server.count == 1  # not asked again: it is busy


def test_a_server_that_cannot_stream_is_asked_without_from_then_on() -> None:
    with FakeOpenAI(refusing_streams(CODE)) as server:
        b = backend(server)
        assert [c.text for c in b.generate(CHAT, Sampling())] == [CODE]
        assert [c.text for c in b.generate(CHAT, Sampling())] == [CODE]
    assert [bool(r.body.get("stream")) for r in server.requests] == [True, False, False]


def test_another_bad_request_is_not_mistaken_for_no_streaming() -> None:
    with FakeOpenAI() as server:
        server.push(Reply.error(400, "max_tokens is too large"))
        with pytest.raises(BackendError, match=r"HTTP 400: max_tokens is too large\)$"):
            backend(server).generate(CHAT, Sampling())
    assert server.count == 1


def test_server_failures_are_retried_by_the_backend_not_the_sdk() -> None:
    with FakeOpenAI(lambda request: CODE) as server:
        server.push(Reply.error(500, "boom"), Reply.error(503, "busy"))
        completions = backend(server, max_retries=2).generate(CHAT, Sampling())
        assert [c.text for c in completions] == [CODE]
        assert server.count == 3
        server.push(Reply.error(503, "busy"))
        with pytest.raises(BackendError, match=r"\(HTTP 503: busy\)$"):
            backend(server, max_retries=0).generate(CHAT, Sampling())
    # With the SDK's own retries on, the last request would have been sent three times.
    assert server.count == 4


def test_a_connection_error_is_retried_with_growing_pauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr("marshalike.backends.openai_retry.time.sleep", pauses.append)
    b = OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1", max_retries=3, backoff=0.5)
    with pytest.raises(BackendError) as caught:
        b.generate(CHAT, Sampling())
    assert str(caught.value).startswith("cannot reach http://127.0.0.1:9/v1: ")
    assert str(caught.value).endswith(" after 4 tries — is the server running? pass --base-url")
    assert len(pauses) == 3
    # Each pause is between half and all of 0.5, 1 and 2 s: exponential, with jitter.
    for pause, full in zip(pauses, [0.5, 1.0, 2.0], strict=True):
        assert full / 2 <= pause <= full


def test_retry_after_is_honoured() -> None:
    with FakeOpenAI(lambda request: CODE) as server:
        server.push(Reply(429, {"error": {"message": "slow down"}}, {"retry-after": "1"}))
        started = time.monotonic()
        completions = backend(server).generate(CHAT, Sampling())
        waited = time.monotonic() - started
    assert [c.text for c in completions] == [CODE]
    assert server.count == 2
    assert waited >= 0.95  # the backoff alone would be a millisecond


def test_pauses_without_retry_after_grow_and_are_capped() -> None:
    policy = RetryPolicy(retries=9, backoff=1.0, cap=4.0)
    error = ConnectionRefusedError()  # no Retry-After to honour
    rng = random.Random(0)
    pauses = [policy.pause(retry, error, rng) for retry in range(1, 7)]
    limits = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert all(limit / 2 <= p <= limit for p, limit in zip(pauses, limits, strict=True))


def test_a_lone_model_is_the_default() -> None:
    with FakeOpenAI(models=["only-one"]) as server:
        assert server_model(server.base_url, None, 5) == "only-one"


@pytest.mark.parametrize(
    ("models", "listed"),
    [(["b-model", "a-model"], "lists several: a-model, b-model — pass --model with one of them"),
     ([], "lists none — pass --model")],
)  # fmt: skip
def test_several_or_no_models_need_a_choice(models: list[str], listed: str) -> None:
    with FakeOpenAI(models=models) as server:
        with pytest.raises(ConfigError) as caught:
            server_model(server.base_url, None, 5)
    assert str(caught.value) == (
        f"no model configured for the openai backend, and {server.base_url} {listed}"
    )


SQUARE = "# func square(an integer): its square\n\nMultiply.\n\n* square(2) = 4\n* square(-3) = 9\n"
RIGHT = "```python\ndef square(x):\n    return x * x\n```\n"


def _compile(tmp_path: Path, server: FakeOpenAI) -> Result:
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
            "--candidates", "1", "--attempts", "1", "--out", str(tmp_path / "out")]  # fmt: skip
    return CliRunner().invoke(cli, argv)


def test_compile_without_a_model_uses_the_servers_only_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_MODEL", "MARSHALIKE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no pyproject.toml of the project's own
    with FakeOpenAI(lambda request: RIGHT, models=["served-7b"]) as server:
        result = _compile(tmp_path, server)
    assert result.exit_code == 0, result.output
    assert f"marshalike: using model served-7b, the only one {server.base_url} lists\n" in (
        result.stderr
    )
    assert {r.body["model"] for r in server.requests if r.method == "POST"} == {"served-7b"}


def test_the_server_s_password_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_MODEL", "MARSHALIKE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    with FakeOpenAI(lambda request: RIGHT, models=["served-7b"]) as server:
        secret_url = server.base_url.replace("http://", "http://bob:hunter2@")
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", secret_url,
                "--candidates", "1", "--attempts", "1", "--out", str(tmp_path / "out")]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.stderr + result.output
    assert "http://bob:***@" in result.stderr


def test_compile_without_a_model_against_several_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_MODEL", "MARSHALIKE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI(lambda request: RIGHT, models=["a", "b"]) as server:
        result = _compile(tmp_path, server)
    assert result.exit_code == 2
    assert result.stderr == (
        f"marshalike: error: no model configured for the openai backend, and {server.base_url} "
        "lists several: a, b — pass --model with one of them\n"
    )
    assert server.count == 0
