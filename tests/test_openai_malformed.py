"""The openai backend against a raw HTTP server that sends what no OpenAI-compatible server
should: a body or stream event that is not JSON, fields of the wrong type, multi-line error
messages, and streams that never end. Each is one line saying what was wrong (never a
traceback), asked once, or a candidate cut where `max_tokens` ends; never a hang."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from marshalike.backends.base import Prompt, Sampling
from marshalike.backends.openai_backend import OpenAIBackend, server_model
from marshalike.backends.openai_stream import CHARS_PER_TOKEN, EXTRA_CHUNKS
from marshalike.cli.main import cli
from marshalike.errors import BackendError, ConfigError

CHAT = Prompt("chat", messages=(("user", "Write add(a, b)."),))
STUB = Prompt("completion", text="def add(a, b):\n")

# What the server sends, piece by piece: bytes, or a pause in seconds.
Pieces = Iterable[bytes | float]


class RawServer:
    """An HTTP server on 127.0.0.1 that answers every request with what `answer` gives,
    as it gives it; `requests` holds each request's JSON body."""

    def __init__(self, answer: Callable[[dict[str, Any]], Pieces]) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection: socket.socket) -> None:
        with connection:
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(body) < length:
                    body += connection.recv(65536)
                request = json.loads(body) if body else {}
                self.requests.append(request)
                for piece in self.answer(request):
                    if isinstance(piece, float):
                        time.sleep(piece)
                    else:
                        connection.sendall(piece)
            except OSError:
                return  # the client left


def whole(body: bytes, status: int = 200) -> Pieces:
    head = (
        f"HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return [head.encode(), body]


STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def events(*datas: str | dict[str, Any]) -> Pieces:
    """A stream of these events' data (a dict as JSON), then [DONE]."""
    lines = [d if isinstance(d, str) else json.dumps(d) for d in datas]
    return [STREAM_HEAD, *(f"data: {line}\n\n".encode() for line in [*lines, "[DONE]"])]


def chunk(*choices: dict[str, Any], usage: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "x", "object": "chat.completion.chunk", "choices": list(choices)}
    if usage is not None:
        body["usage"] = usage
    return body


def delta(content: Any, index: Any = 0, finish: Any = None) -> dict[str, Any]:
    return {"index": index, "delta": {"content": content}, "finish_reason": finish}


def backend(server: RawServer, **settings: Any) -> OpenAIBackend:
    settings = {"model": "coder-7b", "max_retries": 3, "backoff": 0.001, "timeout": 5, **settings}
    return OpenAIBackend(base_url=server.base_url, **settings)


def failure(server: RawServer, prompt: Prompt = CHAT, **settings: Any) -> str:
    with pytest.raises(BackendError) as caught:
        backend(server, **settings).generate(prompt, Sampling(n=1, max_tokens=64))
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    return message


HINT = " — is it an OpenAI-compatible server? check --base-url"
FINISHED = chunk(delta("a", finish="stop"))
INFINITE = '{"choices": [], "usage": {"prompt_tokens": 1e999}}'


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (whole(b"{not json"), 'the body is not JSON: "{not json"'),
        (whole(b"[1, 2]"), "the body is [1, 2], not a JSON object"),
        (whole(b'{"choices": 5}'), "the body has choices 5, not a list"),
        (whole(b'{"id": "x"}'), 'the body has no choices: {"id": "x"}'),
        (events("{garbage"), 'a stream event that is not JSON: "{garbage"'),
        (events("5"), "a stream event is 5, not a JSON object"),
        (events({"choices": 5}), "a stream event has choices 5, not a list"),
        (events(chunk("x")), 'a choice is "x", not a JSON object'),
        (events(chunk(delta(123))), "a choice's delta.content is 123, not a string"),
        (events(chunk({"index": 0, "delta": "x"})), "a choice's delta is \"x\", not a JSON object"),
        (events(chunk(delta("a", index="x"))), 'a choice has index "x", not a whole number'),
        (events(chunk(delta("a", index=-1))), "a choice has index -1, not a whole number"),
        (events(chunk(delta("a", finish=7))), "a choice's finish_reason is 7, not a string"),
        (
            events(FINISHED, chunk(usage={"prompt_tokens": "many"})),
            'its usage has prompt_tokens "many", not a count of tokens',
        ),
        (
            events(FINISHED, INFINITE),
            "its usage has prompt_tokens Infinity, not a count of tokens",
        ),
        (
            events(FINISHED, chunk(usage={"completion_tokens": 2.5})),
            "its usage has completion_tokens 2.5, not a count of tokens",
        ),
        (events(chunk(usage=[1])), "its usage is [1], not a JSON object"),
    ],
)  # fmt: skip
def test_a_malformed_answer_is_one_line_naming_it_and_not_asked_again(
    answer: Pieces, problem: str
) -> None:
    with RawServer(lambda request: answer) as server:
        message = failure(server)
    assert message == f"bad answer from {server.base_url}: {problem}{HINT}"
    assert len(server.requests) == 1


def test_a_malformed_answer_to_each_is_one_line_too() -> None:
    """`generate_each`, as a compile asks, reads the stream its own way."""
    with RawServer(lambda request: events(chunk(delta(["x"])))) as server:
        with pytest.raises(BackendError) as caught:
            list(backend(server).generate_each(CHAT, Sampling(n=2)))
    problem = 'a choice\'s delta.content is ["x"], not a string'
    assert str(caught.value) == f"bad answer from {server.base_url}: {problem}{HINT}"
    assert len(server.requests) == 1


def test_a_completion_whose_text_is_not_a_string() -> None:
    body = {"choices": [{"index": 0, "text": {"code": 1}, "finish_reason": "stop"}]}
    with RawServer(lambda request: events(body)) as server:
        message = failure(server, STUB)
    problem = 'a choice\'s text is {"code": 1}, not a string'
    assert message == f"bad answer from {server.base_url}: {problem}{HINT}"


def test_a_body_that_is_not_json_to_a_request_that_did_not_stream() -> None:
    with RawServer(lambda request: whole(b"<html>oops</html>")) as server:
        b = backend(server)
        b.streaming = False  # as once the server has said it cannot
        with pytest.raises(BackendError) as caught:
            b.generate(CHAT, Sampling())
    problem = 'the body is not JSON: "<html>oops</html>"'
    assert str(caught.value) == f"bad answer from {server.base_url}: {problem}{HINT}"


def test_a_well_formed_answer_is_still_read() -> None:
    """What the checks must let through: integral float counts, null fields, no index."""
    answer = events(
        chunk({"delta": {"role": "assistant"}, "finish_reason": None}),
        chunk(delta("def add"), delta(None, index=1)),
        chunk(delta("(a, b): ...", finish="stop"), {"index": 1, "delta": None}),
        chunk(delta(None, index=1, finish="length")),
        chunk(usage={"prompt_tokens": 10.0, "completion_tokens": 6, "total_tokens": None}),
    )
    with RawServer(lambda request: answer) as server:
        completions = backend(server).generate(CHAT, Sampling(n=2))
    texts = [(c.text, c.finish_reason, c.prompt_tokens, c.completion_tokens) for c in completions]
    assert texts == [("def add(a, b): ...", "stop", 5, 3), ("", "length", 5, 3)]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            whole(b'{"error": {"message": "bad\\nthing\\r\\n\\there \\u001b[31m"}}', status=400),
            "failed the request (HTTP 400: bad thing here \\x1b[31m)",
        ),
        (
            events('{"error": {"message": "line one\\nline two"}}'),
            "bad answer from {url}: line one line two",
        ),
    ],
    ids=["status", "stream"],
)
def test_what_a_server_says_is_quoted_on_one_line(answer: Pieces, said: str) -> None:
    with RawServer(lambda request: answer) as server:
        message = failure(server)
    assert said.format(url=server.base_url) in message


def test_a_long_error_message_is_cut_short() -> None:
    body = json.dumps({"error": {"message": "x" * 5000}}).encode()
    with RawServer(lambda request: whole(body, status=400)) as server:
        message = failure(server)
    assert len(message) < 400
    assert message.endswith("x…)")


def endless(piece: bytes, every: float = 0.005) -> Callable[[dict[str, Any]], Pieces]:
    """A server that streams `piece` every `every` seconds, for ever."""

    def answer(request: dict[str, Any]) -> Iterator[bytes | float]:
        yield STREAM_HEAD
        while True:
            yield every
            yield piece

    return answer


def event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


@pytest.mark.timeout(60)
def test_a_stream_that_never_ends_is_cut_where_max_tokens_ends() -> None:
    """A token a chunk, twice over and some: the answer is cut, finished by length."""
    with RawServer(endless(event(chunk(delta("x "))))) as server:
        started = time.monotonic()
        completions = backend(server).generate(CHAT, Sampling(n=1, max_tokens=16))
    assert time.monotonic() - started < 20
    assert [c.finish_reason for c in completions] == ["length"]
    assert completions[0].text == "x " * (2 * 16 + EXTRA_CHUNKS)


@pytest.mark.timeout(60)
def test_a_stream_that_never_ends_is_cut_for_each_too() -> None:
    with RawServer(endless(event(chunk(delta("x "))))) as server:
        started = time.monotonic()
        found = list(backend(server).generate_each(CHAT, Sampling(n=1, max_tokens=16)))
    assert time.monotonic() - started < 20
    assert [(k, c.finish_reason) for k, c in found] == [(0, "length")]


def test_a_choice_longer_than_max_tokens_can_be_is_cut() -> None:
    huge = "y" * (CHARS_PER_TOKEN * 4 + 100)
    answer = events(chunk(delta(huge)), chunk(delta("z", finish="stop")))
    with RawServer(lambda request: answer) as server:
        completions = backend(server).generate(CHAT, Sampling(n=1, max_tokens=4))
    assert [(c.text, c.finish_reason) for c in completions] == [(huge[: 4 * 256], "length")]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "piece",
    [b": keep-alive\n\n", event(chunk()), b"x"],
    ids=["comments", "empty-chunks", "an-endless-line"],
)
def test_a_server_busy_without_a_token_times_out(piece: bytes) -> None:
    with RawServer(endless(piece)) as server:
        started = time.monotonic()
        message = failure(server, timeout=0.5)
    assert time.monotonic() - started < 10
    assert message == (
        f"{server.base_url} sent no tokens for 0.5 s — is the server overloaded? "
        "if it is only slow, raise --request-timeout"
    )
    assert len(server.requests) == 1  # as for any timeout: not asked again


@pytest.mark.timeout(60)
def test_a_whole_body_that_trickles_times_out() -> None:
    def answer(request: dict[str, Any]) -> Iterator[bytes | float]:
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        while True:
            yield 0.005
            yield b" "

    with RawServer(answer) as server:
        message = failure(server, timeout=0.5)
    assert message.startswith(f"{server.base_url} sent no tokens for 0.5 s")


def test_time_spent_on_a_choice_given_early_is_not_the_servers() -> None:
    """The caller works on the first choice for longer than the timeout; the server,
    which sent the rest meanwhile, did not keep it waiting."""
    answer = events(
        chunk(delta("a", finish="stop")),
        chunk(delta("b", index=1, finish="stop")),
        chunk(delta("c", index=2, finish="stop")),
    )
    with RawServer(lambda request: answer) as server:
        found = []
        for k, completion in backend(server, timeout=0.3).generate_each(CHAT, Sampling(n=3)):
            found.append((k, completion.text))
            time.sleep(0.4)
    assert found == [(0, "a"), (1, "b"), (2, "c")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "its list of models is not JSON"),
        (b'{"data": 5}', "its list of models is not a JSON object with a list"),
        (b'{"data": [{"id": 3}]}', "its list of models has an entry without a name"),
    ],
)
def test_a_malformed_list_of_models_is_a_setting_to_give(body: bytes, problem: str) -> None:
    with RawServer(lambda request: whole(body)) as server:
        with pytest.raises(ConfigError) as caught:
            server_model(server.base_url, None, 5)
    assert str(caught.value) == (
        "no model configured for the openai backend, and its models could not be listed "
        f"(bad answer from {server.base_url}: {problem}) — pass --model"
    )


SQUARE = "# func square(an integer): its square\n\nMultiply.\n\n* square(2) = 4\n* square(-3) = 9\n"


def compile_against(tmp_path: Path, server: RawServer, *more: str) -> Any:
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
            "--model", "coder-7b", "--candidates", "1", "--attempts", "1",
            "--out", str(tmp_path / "out"), *more]  # fmt: skip
    return CliRunner().invoke(cli, argv)


@pytest.mark.parametrize(
    "answer",
    [whole(b"{not json"), events("{garbage"), events(chunk(delta(123)))],
    ids=["body", "event", "content"],
)
def test_compile_against_a_malformed_server_is_a_one_line_error(
    tmp_path: Path, answer: Pieces
) -> None:
    with RawServer(lambda request: answer) as server:
        result = compile_against(tmp_path, server)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("marshalike: error: bad answer from ")]
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.timeout(120)
def test_compile_against_a_stream_that_never_ends_ends(tmp_path: Path) -> None:
    with RawServer(endless(event(chunk(delta("x "))), every=0.001)) as server:
        started = time.monotonic()
        result = compile_against(tmp_path, server, "--request-timeout", "5")
    assert time.monotonic() - started < 90
    assert result.exit_code not in (0, 70), result.output
    assert "internal error" not in result.stderr
