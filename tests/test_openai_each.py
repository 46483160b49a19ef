"""The openai backend gives a request's choices as the server finishes them (`generate_each`),
so the loop can judge one while the rest decode and stop the rest once it has enough: the
stream is closed, and the server (tests/fake_openai.py) sees its client leave. Token counts
add up to the server's usage whenever the stream is read to its end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fake_openai import Chunks, FakeOpenAI, Request, refusing_streams

from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.backends.openai_backend import OpenAIBackend
from marshalike.cli.main import cli

CHAT = Prompt("chat", messages=(("user", "Write add(a, b)."),))
CODE = "def add(a, b):\n return a + b"
WORDS = 7  # the fake server streams a word a chunk, and counts words as tokens


def backend(server: FakeOpenAI, **settings: Any) -> OpenAIBackend:
    settings = {"model": "coder-7b", "max_retries": 2, "backoff": 0.001, **settings}
    return OpenAIBackend(base_url=server.base_url, **settings)


def words(text: str, delay: float = 0.0) -> Chunks:
    pieces = [word + " " for word in text.split(" ")]
    pieces[-1] = pieces[-1][:-1]
    return Chunks(pieces, delay=delay)


def wait_for(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_each_choice_is_given_as_it_finishes_and_closing_cuts_the_stream() -> None:
    # The second choice takes 40 pieces: the stream is cut long before it ends.
    slow = Chunks([f"x{i} " for i in range(40)], delay=0.05)
    with FakeOpenAI(lambda request: [words(CODE), slow]) as server:
        each = backend(server).generate_each(CHAT, Sampling(n=2))
        index, first = next(each)
        each.close()  # type: ignore[attr-defined]
        assert wait_for(lambda: server.cut == 1), "the server never saw its client leave"
    assert (index, first) == (0, Completion(CODE, 0, WORDS, "stop"))
    assert server.count == 1  # nothing topped up after the close


def test_a_stream_read_to_its_end_counts_the_servers_usage() -> None:
    texts = [CODE, "def add(a, b): return b + a", "return a + b"]
    with FakeOpenAI(lambda request: [words(t) for t in texts]) as server:
        given = list(backend(server).generate_each(CHAT, Sampling(n=3)))
    prompt_words = len(server.requests[0].prompt_text.split())
    assert [i for i, _ in given] == [0, 1, 2]
    assert [c.text for _, c in given] == texts
    # Given early: no prompt tokens, their chunks as tokens; the last carries the rest.
    assert [c.prompt_tokens for _, c in given] == [0, 0, prompt_words]
    assert sum(c.completion_tokens for _, c in given) == sum(len(t.split()) for t in texts)
    assert given[0][1].completion_tokens == len(texts[0].split(" "))


def test_a_server_that_caps_n_is_topped_up_and_its_usage_carried_on() -> None:
    with FakeOpenAI(lambda request: CODE, stream=True, ignore_n=True) as server:
        given = list(backend(server).generate_each(CHAT, Sampling(n=3, seed=7)))
    assert sorted(i for i, _ in given) == [0, 1, 2]
    assert all(c.text == CODE for _, c in given)
    prompt_words = len(server.requests[0].prompt_text.split())
    assert sum(c.prompt_tokens for _, c in given) == 3 * prompt_words  # three requests
    assert sum(c.completion_tokens for _, c in given) == 3 * len(CODE.split())
    assert sorted(r.body.get("seed") for r in server.requests) == [7, 8, 9]


def test_closing_stops_the_top_ups_still_running() -> None:
    def script(request: Request) -> Chunks | list[Chunks]:
        if request.body.get("seed") == 9:  # a top-up slow enough to be running at the close
            return Chunks([f"y{i} " for i in range(40)], delay=0.05)
        return [words(CODE)]  # n ignored: one choice

    with FakeOpenAI(script) as server:
        each = backend(server, parallel=4).generate_each(CHAT, Sampling(n=3, seed=7))
        assert [next(each)[1].text for _ in range(2)] == [CODE, CODE]
        assert wait_for(lambda: server.count == 3)  # the slow top-up is streaming now
        each.close()  # type: ignore[attr-defined]
        assert wait_for(lambda: server.cut == 1), "the top-up went on after the close"


def test_a_dropped_stream_gives_what_finished_and_tops_up_the_rest() -> None:
    broken = Chunks(["def ", "sub"], drop=True)  # the server dies mid-choice
    with FakeOpenAI() as server:
        server.push([words(CODE), broken], CODE)
        given = list(backend(server).generate_each(CHAT, Sampling(n=2)))
    assert [(i, c.text) for i, c in given] == [(0, CODE), (1, CODE)]
    assert [r.body["n"] for r in server.requests] == [2, 1]


def test_an_answer_in_one_body_gives_every_choice_as_generate_does() -> None:
    with FakeOpenAI(lambda request: CODE) as server:  # ignores `stream`: one JSON body
        b = backend(server)
        given = list(b.generate_each(CHAT, Sampling(n=3)))
        whole = b.generate(CHAT, Sampling(n=3))
    assert [c for _, c in given] == whole
    assert [i for i, _ in given] == [0, 1, 2]
    assert server.count == 2


def test_a_server_that_cannot_stream_gives_all_at_once() -> None:
    with FakeOpenAI(refusing_streams(CODE)) as server:
        b = backend(server)
        given = list(b.generate_each(CHAT, Sampling(n=2)))
        again = list(b.generate_each(CHAT, Sampling(n=2)))
    assert [c.text for _, c in given] == [c.text for _, c in again] == [CODE, CODE]
    assert [bool(r.body.get("stream")) for r in server.requests] == [True, False, False]


LOOP_HEAD = "def add(a, b):\n"
TODO = "    # TODO: fix this\n"


def looping(copies: int, delay: float = 0.0) -> Chunks:
    """A choice that writes the same line `copies` times, a line a chunk."""
    return Chunks([LOOP_HEAD, *[TODO] * copies], delay=delay)


def test_a_choice_caught_in_a_loop_is_cut_there_and_the_stream_closed() -> None:
    # The looping choice comes last and would stream for 3 s more: once it has written
    # its line three times every choice has ended, and the client leaves.
    with FakeOpenAI(lambda request: [words(CODE), looping(60, delay=0.05)]) as server:
        given = dict(backend(server).generate_each(CHAT, Sampling(n=2, loops=3)))
        assert wait_for(lambda: server.cut == 1), "the stream was read to its end"
    assert given[0] == Completion(CODE, 0, WORDS, "stop")
    assert given[1].text == LOOP_HEAD + TODO * 3
    assert given[1].finish_reason == "length"
    assert given[1].completion_tokens == 4  # the chunks streamed until the cut
    assert server.count == 1  # a cut choice is not topped up


def test_a_looping_choice_written_on_does_not_end_the_others_early() -> None:
    # Streamed one after the other: the first loops at once, and its server writes 150
    # more chunks (past the few a finished choice may still have) before the second.
    with FakeOpenAI(lambda request: [looping(150), words(CODE)]) as server:
        given = dict(backend(server).generate_each(CHAT, Sampling(n=2, loops=3)))
    assert given[0].text == LOOP_HEAD + TODO * 3
    assert given[1] == Completion(CODE, 0, WORDS, "stop")
    assert server.count == 1  # the second was not cut and topped up


def test_the_loop_rule_holds_for_a_whole_body_and_only_when_asked() -> None:
    text = LOOP_HEAD + TODO * 5 + "    return a + b\n"
    with FakeOpenAI(lambda request: [text]) as server:  # one JSON body
        b = backend(server)
        [cut] = b.generate(CHAT, Sampling(n=1, loops=3))
        [kept] = b.generate(CHAT, Sampling(n=1))
        [twice] = b.generate(CHAT, Sampling(n=1, loops=2))
    assert (cut.text, cut.finish_reason) == (LOOP_HEAD + TODO * 3, "length")
    assert (kept.text, kept.finish_reason) == (text, "stop")
    assert twice.text == LOOP_HEAD + TODO * 2


SQUARE = "# func square(an integer): its square\n\nMultiply.\n\n* square(2) = 4\n* square(-3) = 9\n"
RIGHT = "```python\ndef square(x):\n    return x * x\n```\n"


def test_a_compile_closes_the_stream_once_a_candidate_settles_the_attempt(tmp_path: Path) -> None:
    slow = Chunks([f"x{i} " for i in range(40)], delay=0.05)  # 2 s a choice, unless cut
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    argv = ["compile", str(tmp_path), "--backend", "openai", "--model", "coder-7b",
            "--rank", "first", "--questions", "0", "--candidates", "4", "--attempts", "1",
            "--out", str(tmp_path / "out")]  # fmt: skip
    with FakeOpenAI(lambda request: [Chunks([RIGHT]), slow, slow, slow]) as server:
        result = CliRunner().invoke(cli, [*argv, "--base-url", server.base_url])
        assert result.exit_code == 0, result.output
        assert wait_for(lambda: server.cut == 1), "the candidates not needed were decoded"
    assert server.count == 1
    assert "return x * x" in (tmp_path / "out" / "square.py").read_text(encoding="utf-8")
