"""A backend for any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama, LM Studio,
`marshalike serve`), through the `openai` SDK.

The prompt's kind picks the API: chat prompts go to `/chat/completions`, completion prompts
(base models) to `/completions`. `api` records which form the user asked for, so the
compiler can render the matching prompt.

Answers stream (openai_stream.py), so `request_timeout` bounds the server's silence — before
the first token and between tokens — and never the length of a steady answer. A server that
keeps its connection busy without a token (keep-alives, empty chunks) is as silent; one that
ignores `max_tokens` has its answer cut where `max_tokens` tokens would end, finished by
length; so no answer takes longer than a token's timeout for each token it may have. An
answer that is not what an OpenAI-compatible server sends fails on one line that names
what was wrong, and is not asked for again: the server would send another like it. A server
that refuses to stream (an HTTP 400, 422 or 501 that names `stream`), or ends a stream before
its choices finish, is asked again without, and from then on; one that ignores `stream` and
answers in one body is read as it is.
Failed requests are retried by `openai_retry`, never by the SDK.

`generate_each` gives a request's choices as the server finishes them, so the compiler can
verify one while the others decode and, once it has what it needs, close the stream: a
server that watches its connections (vLLM, `marshalike serve`) then stops generating the
rest. A choice given before the stream ends counts its streamed chunks as its completion
tokens (a token a chunk, as those servers stream); the choices given at its end share the
usage the server reports, less what was counted before, so that the sum is the server's
figure whenever the stream is read to its end. To that end the last choice of a full answer
waits for the usage chunk that follows it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any, cast

import openai

from marshalike.backends.base import (
    BackendOptions,
    Completion,
    Prompt,
    Sampling,
    chat_messages,
    share,
)
from marshalike.backends.openai_retry import RetryPolicy, retryable, with_retries
from marshalike.backends.openai_stream import (
    Answer,
    Limits,
    MalformedAnswer,
    NoTokens,
    Unfinished,
    finishing,
    quoted,
    read_stream,
    read_whole,
)
from marshalike.errors import BackendError, ConfigError
from marshalike.settings import choices, default
from marshalike.settings.urls import shown_url

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers ignore the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "no-key"

MAX_STOPS = 4
# The statuses with which a server says it cannot stream.
_NO_STREAM_STATUSES = (400, 422, 501)


def from_options(options: BackendOptions) -> OpenAIBackend:
    """The registered factory of the `openai` backend (pyproject.toml's entry points)."""
    return OpenAIBackend(
        model=options.model,
        base_url=options.base_url,
        api_key=options.api_key,
        api=options.api,
        timeout=options.timeout,
        max_retries=options.max_retries,
        parallel=options.jobs,
    )


class OpenAIBackend:
    """Asks for `n` candidates in one request; tops up with parallel requests when the
    server returns fewer (many servers ignore or cap `n`). However many units ask at once,
    at most `parallel` requests (`--jobs`) are in flight to the server."""

    name = "openai"

    def __init__(
        self,
        *,
        model: str | None,
        base_url: str | None = None,
        api_key: str | None = None,
        api: str = default("api"),
        timeout: float = default("request_timeout"),
        max_retries: int = 3,
        backoff: float = RetryPolicy.backoff,
        parallel: int = 8,
    ) -> None:
        if not model:
            raise BackendError(
                "no model configured — pass --model or set model in [tool.marshalike]"
            )
        if api not in choices("api"):
            passes = " or ".join(f"--api {name}" for name in choices("api"))
            raise BackendError(f"unknown API {api!r} — pass {passes}")
        self.model = model
        self.api = api
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.retry = RetryPolicy(retries=max(0, max_retries), backoff=backoff)
        self.parallel = max(1, parallel)
        self._slots = threading.BoundedSemaphore(self.parallel)
        self.streaming = True  # until the server says it cannot
        self._rng = random.Random()
        self._client = _client(self.base_url, api_key, timeout)

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        completions = self._request(prompt, sampling, sampling.n, sampling.seed)
        missing = sampling.n - len(completions)
        if missing > 0:
            completions += self._top_up(prompt, sampling, missing)
        return completions[: sampling.n]

    def generate_each(self, prompt: Prompt, sampling: Sampling) -> Iterator[tuple[int, Completion]]:
        """Each completion with its place in the request, as the server finishes it (see
        the module's docstring); closing the iterator early closes the stream, and the
        top-up requests of a server that returned fewer than `n` at their next chunk."""
        stop = threading.Event()
        owed = _Owed()
        given = 0
        try:
            if self.streaming:
                for index, completion in self._stream_each(prompt, sampling, owed):
                    given += 1
                    yield index, completion
            if not self.streaming and given == 0:  # it has just said it cannot stream
                yield from enumerate(self.generate(prompt, sampling))
                return
            for offset, completion in self._top_up_each(prompt, sampling, given, stop):
                yield given + offset, owed.settle(completion)
        finally:
            stop.set()

    def _stream_each(
        self, prompt: Prompt, sampling: Sampling, owed: _Owed
    ) -> Iterator[tuple[int, Completion]]:
        """The choices of one streamed request for `n`, each as it finishes, at most `n`;
        the usage no choice given carries is left in `owed`. A retryable failure after the
        stream began ends it, and the choices it did not finish are not given: they are
        topped up; so are those of a stream the server ended unfinished, without streaming
        from then on."""
        options = _options(sampling, sampling.n, sampling.seed)
        answer = Answer(self._limits(options, sampling.loops))
        counted: dict[int, int] = {}  # completion tokens of the choices given early
        held: list[int] = []  # the last of a full answer, which waits for the usage
        broken = False
        with self._slots:
            try:
                stream = with_retries(
                    lambda: self._create(prompt, options, stream=True), self.retry, rng=self._rng
                )
            except openai.APIStatusError as exc:
                if not _cannot_stream(exc):
                    raise self._error(exc) from None
                self.streaming = False
                return
            except openai.OpenAIError as exc:
                raise self._error(exc) from None
            try:
                for index in finishing(stream, prompt.kind == "chat", answer):
                    if len(counted) + len(held) + 1 >= sampling.n:
                        held.append(index)
                        continue
                    counted[index] = answer.pieces(index)
                    text, finish = answer.text(index), _finish(answer, index)
                    yield index, Completion(text, 0, counted[index], finish)
            except Unfinished:  # the rest are asked for without streaming, from then on
                self.streaming = False
                broken = True
            except openai.OpenAIError as exc:
                if not retryable(exc):
                    raise self._error(exc) from None
                broken = True
            finally:
                stream.close()
        # Given at the end: the held one, and unless the stream broke, those it ended without
        # finishing, or all of an answer in one body.
        rest = [] if broken else [i for i in sorted(answer.texts) if i not in counted]
        left = (held + [i for i in rest if i not in held])[: max(0, sampling.n - len(counted))]
        spent = max(0, answer.completion_tokens - sum(counted.values()))
        if not left:
            owed.prompt, owed.completion = answer.prompt_tokens, spent
        prompts, completions = share(answer.prompt_tokens, len(left)), share(spent, len(left))
        for k, index in enumerate(left):
            tokens = completions[k] if answer.reported else answer.pieces(index)
            yield index, Completion(answer.text(index), prompts[k], tokens, _finish(answer, index))

    def _top_up_each(
        self, prompt: Prompt, sampling: Sampling, given: int, stop: threading.Event
    ) -> Iterator[tuple[int, Completion]]:
        """The `n - given` choices still missing, one request each, in parallel, each with
        its place among them as it finishes; setting `stop` ends those still running."""
        missing = sampling.n - given
        if missing <= 0:
            return
        pool = ThreadPoolExecutor(max_workers=min(self.parallel, missing))
        try:
            futures: dict[Future[list[Completion]], int] = {
                pool.submit(self._request, prompt, sampling, 1, seed, stop): k
                for k, seed in enumerate(_top_up_seeds(sampling, missing))
            }
            for future in as_completed(futures):
                for completion in future.result()[:1]:
                    yield futures[future], completion
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def _top_up(self, prompt: Prompt, sampling: Sampling, missing: int) -> list[Completion]:
        """`_top_up_each`'s completions, all of them, in their order."""
        found = self._top_up_each(prompt, sampling, sampling.n - missing, threading.Event())
        return [completion for _, completion in sorted(found, key=lambda pair: pair[0])]

    def _request(
        self,
        prompt: Prompt,
        sampling: Sampling,
        n: int,
        seed: int | None,
        stop: threading.Event | None = None,
    ) -> list[Completion]:
        options = _options(sampling, n, seed)
        limits = self._limits(options, sampling.loops)
        try:
            with self._slots:
                answer = with_retries(
                    lambda: self._ask(prompt, options, limits, stop), self.retry, rng=self._rng
                )
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        return _completions(answer)

    def _error(self, exc: openai.OpenAIError) -> BackendError:
        tries = self.retry.tries if retryable(exc) else 1
        return BackendError(describe_error(exc, self.base_url, self.model, self.timeout, tries))

    def _ask(
        self,
        prompt: Prompt,
        options: dict[str, Any],
        limits: Limits,
        stop: threading.Event | None = None,
    ) -> Answer:
        """One request: streamed unless the server has said it cannot stream."""
        chat = prompt.kind == "chat"
        if self.streaming:
            try:
                stream = self._create(prompt, options, stream=True)
                return read_stream(stream, chat, stop, limits)
            except openai.APIStatusError as exc:
                if not _cannot_stream(exc):
                    raise
                self.streaming = False
            except Unfinished:
                self.streaming = False
        try:
            body = self._create(prompt, options, stream=False)
        except ValueError as exc:  # the SDK reads the body itself, and raises what `json` does
            body = quoted(getattr(exc, "doc", ""))
            raise MalformedAnswer(f"the body is not JSON: {body}") from None
        return read_whole(body, chat, Answer(limits))

    def _limits(self, options: dict[str, Any], loops: int) -> Limits:
        """What a request with `options` allows its answer, its choices ended by the loop
        rule where `loops` asks for it (openai_stream.py)."""
        return Limits(options["n"], options["max_tokens"], self.timeout, loops)

    def _create(self, prompt: Prompt, options: dict[str, Any], *, stream: bool) -> Any:
        if stream:
            options = {**options, "stream": True, "stream_options": {"include_usage": True}}
        if prompt.kind == "chat":
            messages = cast(Any, chat_messages(prompt))
            return self._client.chat.completions.create(
                model=self.model, messages=messages, **options
            )
        return self._client.completions.create(model=self.model, prompt=prompt.text, **options)


def _client(base_url: str, api_key: str | None, timeout: float) -> openai.OpenAI:
    # `timeout` bounds each wait for bytes (connecting, the first token, the gap between
    # two), not the whole answer; the SDK's own retries are off (openai_retry.py).
    return openai.OpenAI(
        base_url=base_url, api_key=api_key or PLACEHOLDER_KEY, timeout=timeout, max_retries=0
    )


def server_model(base_url: str | None, api_key: str | None, timeout: float) -> str:
    """The model a server serves when it lists exactly one (`GET /models`). Several or none
    listed, or no list at all, is a `ConfigError` (exit 2) that says so: the model to use
    is then the user's to name."""
    url = (base_url or DEFAULT_BASE_URL).rstrip("/")
    missing = "no model configured for the openai backend, and"
    try:
        listed = _listed(_client(url, api_key, timeout))
    except openai.OpenAIError as exc:
        problem = describe_error(exc, url, "", timeout).split(" — ")[0]
        message = f"{missing} its models could not be listed ({problem}) — pass --model"
        raise ConfigError(message) from None
    if len(listed) == 1:
        return listed[0]
    if not listed:
        raise ConfigError(f"{missing} {shown_url(url)} lists none — pass --model")
    raise ConfigError(
        f"{missing} {shown_url(url)} lists several: {', '.join(sorted(listed))} — "
        "pass --model with one of them"
    )


def _listed(client: openai.OpenAI) -> list[str]:
    """The ids of the models a server lists; a list that is not one a `MalformedAnswer`."""
    try:
        models = list(client.models.list())
    except ValueError:  # the SDK reads the body itself, and raises what `json` does
        raise MalformedAnswer("its list of models is not JSON") from None
    except (TypeError, AttributeError):  # what the SDK does with JSON that is not a list
        raise MalformedAnswer("its list of models is not a JSON object with a list") from None
    ids = [getattr(model, "id", None) for model in models]
    if not all(isinstance(id_, str) for id_ in ids):
        raise MalformedAnswer("its list of models has an entry without a name")
    return cast(list[str], ids)


def _cannot_stream(exc: openai.APIStatusError) -> bool:
    return exc.status_code in _NO_STREAM_STATUSES and "stream" in _detail(exc).lower()


@dataclass
class _Owed:
    """Tokens a request reported that none of the choices it gave carries, for the next
    choice given to carry."""

    prompt: int = 0
    completion: int = 0

    def settle(self, completion: Completion) -> Completion:
        prompt, spent = self.prompt, self.completion
        self.prompt = self.completion = 0
        return replace(
            completion,
            prompt_tokens=completion.prompt_tokens + prompt,
            completion_tokens=completion.completion_tokens + spent,
        )


def _top_up_seeds(sampling: Sampling, missing: int) -> list[int | None]:
    """Each extra request's own seed: a server that honours seeds would otherwise return
    the same candidate every time."""
    if sampling.seed is None:
        return [None] * missing
    return [sampling.seed + i for i in range(1, 1 + missing)]


def _finish(answer: Answer, index: int) -> str:
    return answer.finishes.get(index) or "unknown"


def _options(sampling: Sampling, n: int, seed: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "n": n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }
    # Left out rather than sent empty: some servers reject `stop: []` or `seed: null`.
    if sampling.stop:
        # OpenAI's API takes at most four stop sequences; callers order them by value.
        options["stop"] = list(sampling.stop[:MAX_STOPS])
    if seed is not None:
        options["seed"] = seed
    return options


def _completions(answer: Answer) -> list[Completion]:
    """The answer's choices, in index order, sharing its usage; where the server reported
    none, each counts its streamed chunks as its completion tokens, as a choice given early
    does (0 in a whole body)."""
    texts = answer.choices
    prompt_shares = share(answer.prompt_tokens, len(texts))
    completion_shares = share(answer.completion_tokens, len(texts))
    if not answer.reported:
        completion_shares = [answer.pieces(index) for index in sorted(answer.texts)]
    return [
        Completion(text, prompt_shares[i], completion_shares[i], finish or "unknown")
        for i, (text, finish) in enumerate(texts)
    ]


def describe_error(
    exc: openai.OpenAIError, base_url: str, model: str, timeout: float, tries: int = 1
) -> str:
    """One line saying what went wrong and what the user can do about it; what the server
    said in it is on one line too, and cut short where it is long."""
    return _one_line(_describe(exc, shown_url(base_url), model, timeout, tries))


def _describe(
    exc: openai.OpenAIError, base_url: str, model: str, timeout: float, tries: int
) -> str:
    after = f" after {tries} tries" if tries > 1 else ""
    if isinstance(exc, NoTokens):
        return (
            f"{base_url} sent no tokens for {timeout:g} s — is the server overloaded? "
            "if it is only slow, raise --request-timeout"
        )
    if isinstance(exc, openai.APITimeoutError):
        return (
            f"{base_url} sent nothing for {timeout:g} s — is the server overloaded? "
            "if it is only slow, raise --request-timeout"
        )
    if isinstance(exc, openai.APIConnectionError):
        return (
            f"cannot reach {base_url}: {_reason(exc)}{after} — is the server running? "
            "pass --base-url"
        )
    if isinstance(exc, MalformedAnswer):
        return (
            f"bad answer from {base_url}: {_said(str(exc))} — is it an OpenAI-compatible "
            "server? check --base-url"
        )
    if not isinstance(exc, openai.APIStatusError):
        return f"bad answer from {base_url}: {_said(str(exc))}"
    status, detail = exc.status_code, _said(_detail(exc))
    if status in (401, 403):
        return f"{base_url} rejected the API key (HTTP {status}: {detail}) — set OPENAI_API_KEY"
    if status == 404:
        return (
            f"{base_url} has no model {model!r} or no such endpoint (HTTP 404: {detail}) — "
            f"check --model and --base-url (it usually ends in /v1)"
        )
    if status == 429:
        return f"{base_url} is rate limiting requests (HTTP 429: {detail}){after} — retry later"
    return f"{base_url} failed the request (HTTP {status}: {detail}){after}"


# The most characters of what a server said (an error's message) that a message quotes.
MAX_SAID = 300


def _said(text: str) -> str:
    """What a server said, on one line and at most `MAX_SAID` characters."""
    text = _one_line(text)
    return text if len(text) <= MAX_SAID else text[:MAX_SAID] + "…"


def _one_line(text: str) -> str:
    """`text` with its runs of white space (line breaks included) one space each, and
    other characters that a terminal would not print (escapes) written as escapes."""
    printable = "".join(
        " " if c.isspace() else c if c.isprintable() else ascii(c)[1:-1] for c in text
    )
    return " ".join(printable.split())


def _reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return str(exc.__cause__ or exc).lower().rstrip(".")


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, dict):
            message = message.get("message")
        if message:
            return str(message)
    return exc.response.reason_phrase or "no details"
