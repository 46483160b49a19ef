"""An OpenAI-style answer, streamed or whole, read into each choice's text, finish reason
and the request's token usage.

A streamed answer (server-sent events) is assembled from its chunks: each chunk adds to the
text of the choice its `index` names, and the last one carries the usage when the server
honours `stream_options.include_usage`. `finishing` gives each choice's index as its
finish reason arrives, so a caller can use one choice while the others are still coming.
A server that ignores `stream` and answers with one JSON body (its Content-Type says so) is
read as a whole answer, as is the answer to a request that did not stream. Where no usage
comes back the prompt tokens are unknown and counted as 0, and so are the completion tokens
of a whole answer; a streamed choice's are its chunks that carried text (`pieces`).

An answer is bounded by the request (`Limits`), so that no server can keep a compile
waiting forever: a choice longer than `max_tokens` tokens can be is cut there and finished
by length, and so is every choice of a stream that sends more chunks than its tokens can
fill; a server that sends no token for the request timeout — silent, or busy with
keep-alives, empty chunks or bytes that never make an event — fails with `NoTokens`, and
one that sends far more bytes than its tokens can fill fails with `MalformedAnswer`. An
answer that is not what an OpenAI-compatible server sends (not JSON, a field of the wrong
type) is a `MalformedAnswer` whose message names what was wrong.

A request that asks for it (`Limits.loops`, from `Sampling.loops`) has the runtime's loop
rule (`marshalike_runtime.loops`) applied here, since no OpenAI-style server takes it: a
choice caught writing the same block of lines again and again is cut where the loop ends,
finished by length, as the local engine ends it. Once every choice has ended, one of them
that way, the stream is not read on: the server would go on writing the looping choice to
its `max_tokens`, and its usage comes only after that.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from threading import Event
from typing import Any

import openai

from marshalike_runtime.loops import LoopWatch

# The longest token of the tokenizers in use is a run of spaces or punctuation of at most
# about 128 bytes (GPT-4o's, Llama 3's and Qwen's BPE vocabularies; SentencePiece ones are
# shorter), and a character is at least a byte: a choice of `max_tokens` tokens holds at
# most this many characters a token, twice over. Only a server that ignores `max_tokens`
# comes near it.
CHARS_PER_TOKEN = 256
# A server streams a chunk a token, or fewer (vLLM, llama.cpp, Ollama, `marshalike serve`);
# besides, a choice has a chunk for its role, one for its finish reason and, for a server
# that streams bytes, a few empty ones where a character's bytes straddle tokens, and the
# stream a usage chunk. Twice a chunk a token and this many more is far beyond any of them.
EXTRA_CHUNKS = 64
# What one chunk may carry besides its text: the id, model, fingerprint, role, logprobs
# left out and the like take a few hundred bytes; and its text, escaped as JSON, at most
# 12 bytes a character (a `\ud83d\ude00` pair).
CHUNK_BYTES = 4096
TEXT_BYTES_PER_CHAR = 12


class MalformedAnswer(openai.OpenAIError):
    """An answer that is not what an OpenAI-compatible server sends; its message says what
    was wrong, fit to follow "bad answer from <server>: "."""


class Unfinished(MalformedAnswer):
    """A stream that ended as streams end (`[DONE]`, or its body's end) before it finished
    every choice it began, or before it began one: what a server sends that ends a stream
    early rather than fail it. llama-cpp-python's server ends a stream so when another
    request arrives (unless started with `--interrupt_requests False`), and starts one to a
    prompt too long for its context and ends it empty; the request is asked again without
    streaming (openai_backend.py)."""


class NoTokens(openai.APITimeoutError):
    """A server that sent no token for the request timeout while sending something else
    (keep-alives, empty chunks, bytes that never make an event)."""


@dataclass(frozen=True)
class Limits:
    """What the request allows: `n` choices of at most `max_tokens` tokens each, and at
    most `timeout` seconds spent waiting on the server between two tokens (before the
    first included) — the request timeout, in the meaning it has for a silent server."""

    n: int = 1
    max_tokens: int | None = None  # None: unbounded, as a request without max_tokens is
    timeout: float = math.inf
    loops: int = 0  # a choice ends once a block of lines has come this often (0: never)

    @property
    def chars(self) -> float:
        """The most characters of one choice."""
        if self.max_tokens is None:
            return math.inf
        return CHARS_PER_TOKEN * max(1, self.max_tokens)

    @property
    def chunks_each(self) -> float:
        """The most chunks that name one choice before it finishes."""
        if self.max_tokens is None:
            return math.inf
        return 2 * max(1, self.max_tokens) + EXTRA_CHUNKS

    @property
    def chunks(self) -> float:
        """The most chunks of one stream."""
        return max(1, self.n) * self.chunks_each + EXTRA_CHUNKS

    @property
    def late(self) -> float:
        """The most chunks that name only choices that have finished (a server sends a
        few: a last finish reason, its timings); past them a server that ignores
        `max_tokens` streams a choice on after it was cut."""
        if self.max_tokens is None:
            return math.inf
        return max(1, self.n) + EXTRA_CHUNKS

    @property
    def size(self) -> float:
        """The most bytes of one answer, streamed or whole."""
        return self.chunks * CHUNK_BYTES + max(1, self.n) * self.chars * TEXT_BYTES_PER_CHAR


@dataclass
class Answer:
    """Each choice's text and finish reason, by index, and the request's usage."""

    limits: Limits = field(default_factory=Limits)
    texts: dict[int, list[str]] = field(default_factory=dict)
    finishes: dict[int, str | None] = field(default_factory=dict)
    chunks: dict[int, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = False  # whether the server reported usage
    sizes: dict[int, int] = field(default_factory=dict)  # characters of each choice
    cut: set[int] = field(default_factory=set)  # choices cut at the limits, finished by length
    looped: set[int] = field(default_factory=set)  # those of them cut for looping
    watches: dict[int, LoopWatch] = field(default_factory=dict)  # each choice's loop check

    def add(self, index: int, text: str | None, finish: str | None) -> None:
        self.texts.setdefault(index, [])
        if index in self.cut:
            return  # what a server sends past the limits is not read
        if text:
            room = self.limits.chars - self.sizes.get(index, 0)
            if len(text) > room:
                self.texts[index].append(text[: int(room)])
                self.end(index)
                return
            self.texts[index].append(text)
            self.sizes[index] = self.sizes.get(index, 0) + len(text)
            if "\n" in text and self._loops(index):
                return
        if finish:
            self.finishes[index] = finish

    def _loops(self, index: int) -> bool:
        """Whether choice `index`, its last line just written, is caught in a loop (see
        the module's docstring); if so it is cut where the loop ends, finished by length."""
        if self.limits.loops < 2:
            return False
        text = self.text(index)
        end = self.watches.setdefault(index, LoopWatch(self.limits.loops)).end(text)
        if end is None:
            return False
        self.texts[index] = [text[:end]]
        self.sizes[index] = end
        self.looped.add(index)
        self.end(index)
        return True

    def end(self, index: int) -> None:
        """Cut choice `index` where it is, finished by length unless it has finished."""
        self.cut.add(index)
        self.finishes.setdefault(index, "length")

    def over(self, index: int) -> bool:
        """Whether the server has nothing more to send for choice `index`: it finished
        it, or should have (cut at the limits, but not for looping)."""
        return index in self.finishes and index not in self.looped

    def text(self, index: int) -> str:
        return "".join(self.texts.get(index, ()))

    def pieces(self, index: int) -> int:
        """How many streamed chunks carried text of choice `index`: its tokens, for a
        server that streams a token a chunk (vLLM, `marshalike serve`); 0 in a whole body."""
        return self.chunks.get(index, 0)

    def count(self, usage: Any) -> None:
        if usage is None:
            return
        usage = _object(usage, "its usage")
        self.reported = True
        self.prompt_tokens = _tokens(_get(usage, "prompt_tokens"), "prompt_tokens")
        self.completion_tokens = _tokens(_get(usage, "completion_tokens"), "completion_tokens")

    @property
    def choices(self) -> list[tuple[str, str | None]]:
        """(text, finish reason) of each choice, in index order."""
        return [(self.text(i), self.finishes.get(i)) for i in sorted(self.texts)]


def read_stream(
    stream: Any, chat: bool, stop: Event | None = None, limits: Limits | None = None
) -> Answer:
    """The answer an `openai.Stream` carries, chunk by chunk (unfinished if `stop` is set
    before its end); the stream is closed after, so a server that watches its connections
    stops generating for an abandoned one."""
    answer = Answer(limits or Limits())
    try:
        for _ in finishing(stream, chat, answer, stop):
            pass
        return answer
    finally:
        stream.close()


def finishing(stream: Any, chat: bool, answer: Answer, stop: Event | None = None) -> Iterator[int]:
    """Reads `stream` into `answer`, giving each choice's index once, as its finish reason
    arrives, until the stream ends or `stop` is set. The choices of an answer in one JSON
    body are not given: `answer` holds them once this ends. A stream that ends before it
    finished every choice it began, or began none, raises `Unfinished` once read. A stream
    that runs past `answer.limits` ends there, its unfinished choices cut and given. The
    caller closes the stream."""
    watch = _Watch(answer.limits, stream.response.request)
    if _is_whole(stream.response):
        raw = b"".join(watch.read(_transported(stream.response)))
        read_whole(_json(raw, "the body"), chat, answer)
        return
    # The SDK's stream reads its bytes through `response.iter_bytes` once it is iterated:
    # read through `watch`, which sees every byte, keep-alives and unfinished events too.
    response = stream.response
    unwatched = response.iter_bytes
    response.iter_bytes = lambda *args, **kwargs: watch.read(unwatched(*args, **kwargs))
    limits = answer.limits
    events = late = 0  # the stream's events, and those that name only finished choices
    seen: dict[int, int] = {}  # the events that name each choice before it finishes
    for chunk in _chunks(stream):
        if stop is not None and stop.is_set():
            return
        events += 1
        chunk = _object(chunk, "a stream event")
        named = _choices(chunk, "a stream event")
        # A choice cut for looping is still being written by the server: not late.
        if named and all(answer.over(_index(choice, 0)) for choice in named):
            late += 1
        if events > limits.chunks or late > limits.late:
            yield from _end(answer)
            return
        for choice in named:
            index = _index(choice, 0)
            text = _text(choice, chat)
            finish = _finish(choice)
            finished = index in answer.finishes
            if not finished:  # a token, if only one that is not text (reasoning, a role)
                watch.heard()
                seen[index] = seen.get(index, 0) + 1
                if seen[index] > limits.chunks_each:
                    answer.end(index)
            if text and index not in answer.cut:
                answer.chunks[index] = answer.chunks.get(index, 0) + 1
            answer.add(index, text, finish)
            if not finished and index in answer.finishes:
                yield index
        usage = _get(chunk, "usage")
        if usage is not None:
            watch.heard()
            answer.count(usage)
        if answer.looped and len(answer.finishes) >= limits.n:
            return  # all have ended, and the server still writes a looping one
    unfinished = [index for index in sorted(answer.texts) if index not in answer.finishes]
    if unfinished or not answer.texts:
        began = f"choice {unfinished[0]}" if unfinished else "any choice"
        raise Unfinished(f"a stream that ended before it finished {began}")


def _end(answer: Answer) -> Iterator[int]:
    """Ends a stream that ran past its limits: its unfinished choices are cut, and given."""
    if not answer.texts:
        limits = answer.limits
        raise MalformedAnswer(
            f"more than {limits.chunks:g} stream events without a choice, more than "
            f"{limits.n} choices of {limits.max_tokens} tokens take"
        )
    for index in sorted(answer.texts):
        if index not in answer.finishes:
            answer.end(index)
            yield index


def read_whole(body: Any, chat: bool, answer: Answer | None = None) -> Answer:
    """The answer of one JSON body (a dict, or the SDK's object for it), into `answer`
    where given."""
    answer = answer if answer is not None else Answer()
    body = _object(body, "the body")
    if _get(body, "choices") is None:
        raise MalformedAnswer(f"the body has no choices: {quoted(body)}")
    for position, choice in enumerate(_choices(body, "the body")):
        index = _index(choice, position)
        if chat:
            message = _get(choice, "message")
            message = None if message is None else _object(message, "a choice's message")
            text = _string(_get(message, "content"), "a choice's message.content")
        else:
            text = _string(_get(choice, "text"), "a choice's text")
        answer.add(index, text or "", _finish(choice))
    answer.count(_get(body, "usage"))
    return answer


class _Watch:
    """Bounds what a server sends: at most `limits.bytes` bytes, and at most
    `limits.timeout` seconds spent waiting for its bytes between two `heard`s (tokens).
    Only the waiting counts: while the caller works on a choice given early the server
    is not waited on."""

    def __init__(self, limits: Limits, request: Any) -> None:
        self.limits = limits
        self.request = request
        self.waited = 0.0
        self.received = 0

    def heard(self) -> None:
        self.waited = 0.0

    def read(self, source: Iterator[bytes]) -> Iterator[bytes]:
        while True:
            began = time.monotonic()
            try:
                piece = next(source)
            except StopIteration:
                return
            self.waited += time.monotonic() - began
            self.received += len(piece)
            if self.received > self.limits.size:
                raise MalformedAnswer(
                    f"more than {_megabytes(self.limits.size)} of answer, more than "
                    f"{self.limits.n} choices of {self.limits.max_tokens} tokens can fill"
                )
            if self.waited > self.limits.timeout:
                raise NoTokens(request=self.request)
            yield piece


def _transported(response: Any) -> Iterator[bytes]:
    """The bytes of a body the SDK does not read itself, its transport's failures the
    SDK's errors, as they are in what it reads (the transport is httpx, or its successor
    httpx2, by SDK version: told by the names of their errors' public classes)."""
    try:
        yield from response.iter_bytes()
    except openai.OpenAIError:
        raise
    except Exception as exc:
        kinds = {kind.__name__ for kind in type(exc).__mro__}
        if "TimeoutException" in kinds:
            raise openai.APITimeoutError(request=response.request) from exc
        if "RequestError" in kinds:
            raise openai.APIConnectionError(request=response.request) from exc
        raise


def _chunks(stream: Any) -> Iterator[Any]:
    """The stream's chunks, a chunk that is not JSON a `MalformedAnswer`."""
    iterator = iter(stream)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise MalformedAnswer("a stream that is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise MalformedAnswer(f"a stream event that is not JSON: {quoted(exc.doc)}") from None
        yield chunk


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise MalformedAnswer(f"{what} is not UTF-8 text") from None
    except ValueError:
        text = raw.decode("utf-8", "replace")
        raise MalformedAnswer(f"{what} is not JSON: {quoted(text)}") from None


def _is_whole(response: Any) -> bool:
    kind = str(response.headers.get("content-type", ""))
    return kind.split(";")[0].strip().lower() == "application/json"


def _choices(container: Any, what: str) -> list[Any]:
    choices = _get(container, "choices")
    if choices is None:
        return []
    if not isinstance(choices, list):
        raise MalformedAnswer(f"{what} has choices {quoted(choices)}, not a list")
    return [_object(choice, "a choice") for choice in choices]


def _index(choice: Any, default: int) -> int:
    index = _get(choice, "index")
    if index is None:
        return default
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise MalformedAnswer(f"a choice has index {quoted(index)}, not a whole number")
    return index


def _text(choice: Any, chat: bool) -> str | None:
    if chat:
        delta = _get(choice, "delta")
        delta = None if delta is None else _object(delta, "a choice's delta")
        return _string(_get(delta, "content"), "a choice's delta.content")
    return _string(_get(choice, "text"), "a choice's text")


def _finish(choice: Any) -> str | None:
    finish = _string(_get(choice, "finish_reason"), "a choice's finish_reason")
    return finish or None


def _string(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise MalformedAnswer(f"{what} is {quoted(value)}, not a string")


def _tokens(value: Any, name: str) -> int:
    """A token count of the usage; none is 0."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and value >= 0:
        return int(value)
    raise MalformedAnswer(f"its usage has {name} {quoted(value)}, not a count of tokens")


def _object(item: Any, what: str) -> Any:
    """`item`, a JSON object (a dict, or the SDK's object for it)."""
    if isinstance(item, dict | openai.BaseModel):
        return item
    raise MalformedAnswer(f"{what} is {quoted(item)}, not a JSON object")


def _get(item: Any, name: str) -> Any:
    """A field of a JSON object, given as a dict or as the SDK's object for it."""
    if item is None:
        return None
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


def quoted(value: Any, most: int = 40) -> str:
    """`value` as JSON text on one line, at most `most` characters of it."""
    if isinstance(value, openai.BaseModel):
        value = value.model_dump(mode="json", exclude_unset=True, warnings=False)
    try:
        text = json.dumps(value)  # ASCII, control characters and newlines escaped
    except (TypeError, ValueError):
        text = ascii(value)
    return text if len(text) <= most else text[:most] + "…"


def _megabytes(size: float) -> str:
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"
