"""An OpenAI-style answer, streamed or whole, read into each choice's text, finish reason
and the request's token usage.

A streamed answer (server-sent events) is assembled from its chunks: each chunk adds to the
text of the choice its `index` names, and the last one carries the usage when the server
honours `stream_options.include_usage`. `finishing` gives each choice's index as its
finish reason arrives, so a caller can use one choice while the others are still coming.
A server that ignores `stream` and answers with one JSON body (its Content-Type says so) is
read as a whole answer, as is the answer to a request that did not stream. Where no usage
comes back the token counts are unknown and counted as 0, as for any server that reports
none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from threading import Event
from typing import Any


@dataclass
class Answer:
    """Each choice's text and finish reason, by index, and the request's usage."""

    texts: dict[int, list[str]] = field(default_factory=dict)
    finishes: dict[int, str | None] = field(default_factory=dict)
    chunks: dict[int, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = False  # whether the server reported usage

    def add(self, index: int, text: str | None, finish: str | None) -> None:
        self.texts.setdefault(index, [])
        if text:
            self.texts[index].append(text)
        if finish:
            self.finishes[index] = finish

    def text(self, index: int) -> str:
        return "".join(self.texts.get(index, ()))

    def pieces(self, index: int) -> int:
        """How many streamed chunks carried text of choice `index`: its tokens, for a
        server that streams a token a chunk (vLLM, `marshalike serve`); 0 in a whole body."""
        return self.chunks.get(index, 0)

    def count(self, usage: Any) -> None:
        if usage is None:
            return
        self.reported = True
        self.prompt_tokens = int(_get(usage, "prompt_tokens") or 0)
        self.completion_tokens = int(_get(usage, "completion_tokens") or 0)

    @property
    def choices(self) -> list[tuple[str, str | None]]:
        """(text, finish reason) of each choice, in index order."""
        return [(self.text(i), self.finishes.get(i)) for i in sorted(self.texts)]


def read_stream(stream: Any, chat: bool, stop: Event | None = None) -> Answer:
    """The answer an `openai.Stream` carries, chunk by chunk (unfinished if `stop` is set
    before its end); the stream is closed after, so a server that watches its connections
    stops generating for an abandoned one."""
    answer = Answer()
    try:
        for _ in finishing(stream, chat, answer, stop):
            pass
        return answer
    finally:
        stream.close()


def finishing(stream: Any, chat: bool, answer: Answer, stop: Event | None = None) -> Iterator[int]:
    """Reads `stream` into `answer`, giving each choice's index once, as its finish reason
    arrives, until the stream ends or `stop` is set. Choices the stream ends without
    finishing, and those of an answer in one JSON body, are not given: `answer` holds them
    once this ends. The caller closes the stream."""
    if _is_whole(stream.response):
        read_whole(json.loads(stream.response.read()), chat, answer)
        return
    for chunk in stream:
        if stop is not None and stop.is_set():
            return
        for choice in _get(chunk, "choices") or ():
            index = _get(choice, "index") or 0
            text = _text(choice, chat)
            if text:
                answer.chunks[index] = answer.chunks.get(index, 0) + 1
            finished = index in answer.finishes
            answer.add(index, text, _finish(choice))
            if not finished and index in answer.finishes:
                yield index
        answer.count(_get(chunk, "usage"))


def read_whole(body: Any, chat: bool, answer: Answer | None = None) -> Answer:
    """The answer of one JSON body (a dict, or the SDK's object for it), into `answer`
    where given."""
    answer = answer if answer is not None else Answer()
    for position, choice in enumerate(_get(body, "choices") or ()):
        index = _get(choice, "index")
        text = _get(_get(choice, "message"), "content") if chat else _get(choice, "text")
        answer.add(position if index is None else index, text or "", _finish(choice))
    answer.count(_get(body, "usage"))
    return answer


def _is_whole(response: Any) -> bool:
    kind = str(response.headers.get("content-type", ""))
    return kind.split(";")[0].strip().lower() == "application/json"


def _text(choice: Any, chat: bool) -> str | None:
    if chat:
        return _get(_get(choice, "delta"), "content")
    return _get(choice, "text")


def _finish(choice: Any) -> str | None:
    finish = _get(choice, "finish_reason")
    return str(finish) if finish else None


def _get(item: Any, name: str) -> Any:
    """A field of a JSON object, given as a dict or as the SDK's object for it."""
    if item is None:
        return None
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)
