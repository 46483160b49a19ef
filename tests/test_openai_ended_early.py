"""A server that ends a stream as streams end (`[DONE]`) before it finished its choice, or
before it began one, rather than failing it: the choice is asked for again without streaming,
and so is every request after. llama-cpp-python's server does both: it ends a stream when
another request arrives (tests/fake_openai.py imitates it with `interrupts`), and starts a
stream to a prompt too long for its context and ends it empty, where a request that does not
stream is refused with a 400 that says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_openai import Chunks, FakeOpenAI, Reply, Request

from marshalike.backends.base import Prompt, Sampling
from marshalike.backends.openai_backend import OpenAIBackend
from marshalike.cli.main import cli
from marshalike.errors import BackendError

STUB = Prompt("completion", text="def add(a, b):\n")
CODE = "    return a + b\n"
TOO_LONG = (
    "This model's maximum context length is 8192 tokens, however you requested 25005 "
    "tokens (25001 in your prompt; 4 for the completion). Please reduce your prompt; or "
    "completion length."
)


def backend(server: FakeOpenAI, **settings: Any) -> OpenAIBackend:
    settings = {"model": "gemma", "max_retries": 2, "backoff": 0.001, **settings}
    return OpenAIBackend(base_url=server.base_url, **settings)


def slowly(text: str) -> list[Chunks]:
    """One choice (the server ignores `n`), a character a chunk, 0.3 s in all."""
    return [Chunks(list(text), delay=0.3 / len(text))]


def test_streams_a_server_ends_for_the_next_request_are_asked_for_whole() -> None:
    with FakeOpenAI(lambda request: slowly(CODE), interrupts=True) as server:
        b = backend(server, parallel=4)
        given = sorted(b.generate_each(STUB, Sampling(n=4, seed=1)), key=lambda pair: pair[0])
    assert server.interrupted >= 1
    assert [(c.text, c.finish_reason) for _, c in given] == [(CODE, "stop")] * 4
    assert b.streaming is False
    assert not server.requests[-1].body.get("stream")  # the last asked whole


def too_long(request: Request) -> Reply:
    if request.body.get("stream"):
        return Reply(200, events=[])  # begun, and ended with no choice
    body = {"error": {"message": TOO_LONG, "type": "invalid_request_error",
                      "code": "context_length_exceeded"}}  # fmt: skip
    return Reply(400, body)


def test_a_stream_ended_before_any_choice_is_asked_for_whole() -> None:
    with FakeOpenAI(too_long) as server:
        with pytest.raises(BackendError) as caught:
            list(backend(server).generate_each(STUB, Sampling(n=4)))
    assert "HTTP 400: This model's maximum context length is 8192 tokens" in str(caught.value)
    assert [bool(r.body.get("stream")) for r in server.requests] == [True, False]


SQUARE = "# func square(an integer): its square\n\nMultiply.\n\n* square(2) = 4\n* square(-3) = 9\n"


def test_a_compile_whose_prompt_the_server_refuses_so_is_a_one_line_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    out = tmp_path / "out"
    with FakeOpenAI(too_long) as server:
        argv = ["compile", str(tmp_path / "square.mrsh"), "--backend", "openai",
                "--base-url", server.base_url, "--model", "gemma", "--api", "completions",
                "--out", str(out)]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "maximum context length is 8192 tokens" in errors[0], errors
    assert "Traceback" not in result.output
    assert not list(out.glob("*.py"))
