"""An OpenAI-style answer, streamed or whole, read into each choice's text, finish reason
and the request's token usage.

A streamed answer (server-sent events) is assembled from its chunks: each chunk adds to the
text of the choice its `index` names, and the last one carries the usage when the server
honours `stream_options.include_usage`. A server that ignores `stream` and answers with
one JSON body (its Content-Type says so) is read as a whole answer, as is the answer to a
request that did not stream. Where no usage comes back the token counts are unknown and
counted as 0, as for any server that reports none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """Each choice's text and finish reason, by index, and the request's usage."""

    texts: dict[int, list[str]] = field(default_factory=dict)
    finishes: dict[int, str | None] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, index: int, text: str | None, finish: str | None) -> None:
        self.texts.setdefault(index, [])
        if text:
            self.texts[index].append(text)
        if finish:
            self.finishes[index] = finish

    def count(self, usage: Any) -> None:
        if usage is None:
            return
        self.prompt_tokens = int(_get(usage, "prompt_tokens") or 0)
        self.completion_tokens = int(_get(usage, "completion_tokens") or 0)

    @property
    def choices(self) -> list[tuple[str, str | None]]:
        """(text, finish reason) of each choice, in index order."""
        return [("".join(self.texts[i]), self.finishes.get(i)) for i in sorted(self.texts)]


def read_stream(stream: Any, chat: bool) -> Answer:
    """The answer an `openai.Stream` carries, chunk by chunk; the stream is closed after,
    so a server that watches its connections stops generating for an abandoned one."""
    try:
        if _is_whole(stream.response):
            return read_whole(json.loads(stream.response.read()), chat)
        answer = Answer()
        for chunk in stream:
            for choice in _get(chunk, "choices") or ():
                answer.add(_get(choice, "index") or 0, _text(choice, chat), _finish(choice))
            answer.count(_get(chunk, "usage"))
        return answer
    finally:
        stream.close()


def read_whole(body: Any, chat: bool) -> Answer:
    """The answer of one JSON body (a dict, or the SDK's object for it)."""
    answer = Answer()
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
