"""The worker that hands `marshalike serve`'s requests to the engine.

HTTP handler threads never touch the engine: they submit a `Job` and read its events. An
engine that batches (it has `submit`: `Engine`, whose batch thread decodes every request
in one batch, each joining and leaving at a token boundary) gets every job as it arrives,
each relayed by a thread of its own, so concurrent clients share the decoding batch. An
engine without `submit` runs jobs one at a time in arrival order (a FIFO queue), on the
worker thread, which keeps concurrent clients from corrupting each other.

A job's events, in order: `Started` (the prompt fits), then `Delta`s when streaming, then
`Done`; or an `APIError` instead of all of them when the request cannot be served. A
handler whose client went away calls `Job.cancel()`, streaming or not: the worker skips a
job cancelled while it waited its turn, and closes the engine's stream of a running one at
the next piece of text (every request runs on `engine.stream`, whose deltas only a
streaming request is sent; a batched one also leaves the batch at once), so an abandoned
request stops costing decode steps.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from marshalike_runtime.server_protocol import (
    DEFAULT_CHAT_MAX_TOKENS,
    DEFAULT_COMPLETION_MAX_TOKENS,
    MAX_REQUEST_TOKENS,
    APIError,
    Choice,
    GenerationRequest,
    Usage,
)

# A prompt longer than this many characters is counted in slices of it before it is
# tokenized whole (`_slice_tokens`); each slice's tokens are a few megabytes at most.
SLICE_CHARS = 65536


class Tokenizer(Protocol):
    def encode(
        self, text: str, *, add_bos: bool | None = None, allow_special: bool = False
    ) -> list[int]: ...


class EngineLike(Protocol):
    """What the server needs of `marshalike_runtime.engine.Engine`.

    An engine may also have `chat_stop`, stop strings every chat needs (a base model's
    plain transcript template cannot end a turn by itself); the server adds them to chats.
    """

    model_name: str
    context_length: int
    tokenizer: Tokenizer

    def render_chat(self, messages: list[dict[str, str]]) -> str: ...
    def generate(self, prompt_ids: list[int], **sampling: Any) -> list[Any]: ...
    def stream(self, prompt_ids: list[int], **sampling: Any) -> Iterator[Any]: ...


@dataclass(frozen=True)
class Started:
    prompt_tokens: int


@dataclass(frozen=True)
class Delta:
    index: int
    text: str


@dataclass(frozen=True)
class Done:
    choices: list[Choice]
    usage: Usage


Event = Started | Delta | Done | APIError


@dataclass(eq=False)
class Job:
    request: GenerationRequest
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _on_cancel: list[Callable[[], None]] = field(default_factory=list)

    def cancel(self) -> None:
        self._cancelled.set()
        for hook in list(self._on_cancel):
            hook()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class _Cancelled(Exception):
    """The client of the running job went away."""


class EngineWorker:
    def __init__(
        self,
        engine: EngineLike,
        log: Callable[[str], None],
        max_request_tokens: int = MAX_REQUEST_TOKENS,
    ) -> None:
        """``max_request_tokens``: the most KV-cache positions one request may take, n *
        (prompt + max_tokens); a larger request is refused (400) before it reaches the
        engine, which would reserve them all."""
        if max_request_tokens < 1:
            raise ValueError(f"max_request_tokens must be at least 1, got {max_request_tokens}")
        self.engine = engine
        self.max_request_tokens = max_request_tokens
        self._log = log
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="marshalike-engine", daemon=True)
        self._stopping = threading.Event()
        self._current: Job | None = None
        self._running: set[Job] = set()  # jobs relayed from a batching engine
        submit = getattr(engine, "submit", None)
        self._submit: Callable[..., Any] | None = submit if callable(submit) else None
        self._batching = self._submit is not None

    def start(self) -> None:
        self._thread.start()

    def submit(self, request: GenerationRequest) -> Job:
        job = Job(request)
        if self._stopping.is_set():
            job.events.put(_shutting_down())
        else:
            self._jobs.put(job)
        return job

    def stop(self, timeout: float) -> None:
        """Refuse queued jobs, cancel the running one, and wait up to `timeout` seconds."""
        self._stopping.set()
        self._jobs.put(None)
        for job in [self._current, *list(self._running)]:
            if job is not None:
                job.cancel()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._stopping.is_set():
                job.events.put(_shutting_down())
            elif job.cancelled:
                self._log("client went away before its turn; request skipped")
            elif self._batching:
                self._running.add(job)
                relay = threading.Thread(target=self._relay, args=(job,), daemon=True)
                relay.start()
            else:
                self._current = job
                self._serve(job)
                self._current = None

    def _relay(self, job: Job) -> None:
        try:
            self._serve(job)
        finally:
            self._running.discard(job)

    def _serve(self, job: Job) -> None:
        try:
            prompts = [self._prompt_ids(job.request, text) for text in _texts(self.engine, job)]
            max_tokens = _max_tokens(
                job.request, prompts, self.engine.context_length, self.max_request_tokens
            )
            job.events.put(Started(sum(len(ids) for ids in prompts)))
            results: list[tuple[Choice, int]] = []  # each choice and its completion tokens
            for i, ids in enumerate(prompts):
                results += self._generate(job, ids, max_tokens, offset=i * job.request.sampling.n)
            usage = Usage(sum(len(ids) for ids in prompts), sum(tokens for _, tokens in results))
            job.events.put(Done([choice for choice, _ in results], usage))
        except APIError as err:
            job.events.put(err)
        except _Cancelled:
            self._log("client went away; generation stopped")
        except Exception as exc:  # any engine failure becomes a 500, reported, not fatal
            self._log(f"engine error: {type(exc).__name__}: {exc}")
            message = f"the engine failed: {type(exc).__name__}: {exc}"
            job.events.put(APIError(500, message, kind="server_error", code="engine_error"))

    def _prompt_ids(self, request: GenerationRequest, text: str) -> list[int]:
        chat = request.endpoint == "chat"
        tokenizer, context = self.engine.tokenizer, self.engine.context_length
        if len(text) > SLICE_CHARS and _slice_tokens(tokenizer, text, chat, context) > 2 * context:
            message = (
                f"the prompt ({len(text)} characters) is far longer than this model's context "
                f"of {context} tokens"
            )
            raise _invalid_prompt(request, message, code="context_length_exceeded")
        if chat:
            # A chat template writes control tokens (<start_of_turn> …) as text, the BOS
            # included when the model wants one; only there may they become control tokens.
            ids = tokenizer.encode(text, add_bos=False, allow_special=True)
        else:
            ids = tokenizer.encode(text)
        ids = list(ids)
        if not ids:
            raise _invalid_prompt(request, "the prompt is empty")
        if len(ids) >= context:
            message = (
                f"the prompt is {len(ids)} tokens long; this model's context holds {context} "
                "tokens, including at least one generated token"
            )
            raise _invalid_prompt(request, message, code="context_length_exceeded")
        return ids

    def _generate(
        self, job: Job, ids: list[int], max_tokens: int, offset: int
    ) -> list[tuple[Choice, int]]:
        sampling = job.request.sampling
        kwargs = {
            "n": sampling.n,
            "max_tokens": max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k,
            "stop": self._stops(job.request),
            "seed": sampling.seed,
        }
        generations = self._stream(job, ids, kwargs, offset)
        return [
            (Choice(offset + i, g.text, g.finish_reason), g.completion_tokens)
            for i, g in enumerate(generations)
        ]

    def _stream(self, job: Job, ids: list[int], kwargs: dict[str, Any], offset: int) -> list[Any]:
        """The engine's generations, run as a stream so that a cancel can stop it between
        two pieces of text; only a streaming request is sent the pieces."""
        finals: list[Any] = []
        if self._submit is not None:
            handle = self._submit(ids, **kwargs)
            job._on_cancel.append(handle.cancel)
            if job.cancelled:
                handle.cancel()
            events = handle.stream()
        else:
            events = self.engine.stream(ids, **kwargs)
        try:
            for item in events:
                if job.cancelled:
                    raise _Cancelled
                if _is_delta(item):
                    if job.request.stream:
                        job.events.put(Delta(offset + item[0], item[1]))
                else:
                    finals.extend(item if isinstance(item, list) else [item])
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return finals

    def _stops(self, request: GenerationRequest) -> tuple[str, ...]:
        stops = request.sampling.stop
        if request.endpoint != "chat":
            return stops
        extra = getattr(self.engine, "chat_stop", ())
        return stops + tuple(stop for stop in extra if stop not in stops)


def _slice_tokens(tokenizer: Tokenizer, text: str, chat: bool, context: int) -> int:
    """About how many tokens `text` takes, counted slice by slice, and only until they
    pass twice the context: a prompt far too long is refused after tokenizing about twice
    what the context holds, never the whole of a 16 MB body. Where a slice ends, a token
    cut in two counts as a few (a control token's text as its characters): tens of tokens
    a slice, far inside the margin of one context, so a prompt that fits is never refused."""
    count = 0
    for start in range(0, len(text), SLICE_CHARS):
        piece = text[start : start + SLICE_CHARS]
        count += len(tokenizer.encode(piece, add_bos=False, allow_special=chat))
        if count > 2 * context:
            break
    return count


def _texts(engine: EngineLike, job: Job) -> list[str]:
    request = job.request
    if request.endpoint != "chat":
        return list(request.prompts)
    try:
        return [engine.render_chat(list(request.messages))]
    except ValueError as exc:
        # the template's own objections ("roles must alternate …") or no template at all
        raise _invalid_prompt(request, str(exc), code="invalid_chat") from None


def _invalid_prompt(
    request: GenerationRequest, message: str, *, code: str = "invalid_value"
) -> APIError:
    param = "messages" if request.endpoint == "chat" else "prompt"
    return APIError(400, message, param=param, code=code)


def _max_tokens(
    request: GenerationRequest, prompts: list[list[int]], context: int, limit: int
) -> int:
    """The request's max_tokens, checked against the context and against `limit`, the KV
    positions a request may take (its n candidates of each prompt share the cache, the
    prompts take turns); or the endpoint's default, lowered to fit both."""
    longest = max(len(ids) for ids in prompts)
    room = context - longest
    n = request.sampling.n
    budget = limit // n - longest  # the most tokens each candidate may generate
    wanted = request.sampling.max_tokens
    if wanted is None:
        chat = request.endpoint == "chat"
        default = DEFAULT_CHAT_MAX_TOKENS if chat else DEFAULT_COMPLETION_MAX_TOKENS
        if budget < 1:
            message = (
                f"the prompt ({longest} tokens) and n ({n}) leave no room for a generated "
                f"token within this server's limit of {limit} tokens per request "
                "(n * (prompt + max_tokens)); lower 'n' or shorten the prompt"
            )
            raise APIError(400, message, param="n", code="invalid_value")
        return min(default, room, budget)
    if wanted > context:
        message = f"'max_tokens' is {wanted}, above this model's context of {context} tokens"
        raise APIError(400, message, param="max_tokens", code="context_length_exceeded")
    if wanted > room:
        message = (
            f"the prompt ({context - room} tokens) and 'max_tokens' ({wanted}) do not fit "
            f"in this model's context of {context} tokens; lower 'max_tokens' to {room} or less"
        )
        raise APIError(400, message, param="max_tokens", code="context_length_exceeded")
    if n * (longest + wanted) > limit:
        fix = f"lower 'max_tokens' to {budget} or less, or 'n'" if budget >= 1 else "lower 'n'"
        message = (
            f"n ({n}) * (prompt ({longest} tokens) + 'max_tokens' ({wanted})) is "
            f"{n * (longest + wanted)} tokens, above this server's limit of {limit} tokens "
            f"of KV cache per request; {fix}"
        )
        raise APIError(400, message, param="max_tokens", code="invalid_value")
    return wanted


def _is_delta(item: Any) -> bool:
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], int)
        and isinstance(item[1], str)
    )


def _shutting_down() -> APIError:
    return APIError(503, "the server is shutting down", kind="server_error", code="unavailable")
