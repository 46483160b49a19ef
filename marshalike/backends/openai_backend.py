"""A backend for any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama, LM Studio,
`marshalike serve`), through the `openai` SDK.

The prompt's kind picks the API: chat prompts go to `/chat/completions`, completion prompts
(base models) to `/completions`. `api` records which form the user asked for, so the
compiler can render the matching prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
from marshalike.errors import BackendError
from marshalike.settings import choices, default

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers ignore the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "no-key"

MAX_STOPS = 4


def from_options(options: BackendOptions) -> OpenAIBackend:
    """The registered factory of the `openai` backend (pyproject.toml's entry points)."""
    return OpenAIBackend(
        model=options.model,
        base_url=options.base_url,
        api_key=options.api_key,
        api=options.api,
        timeout=options.timeout,
        max_retries=options.max_retries,
    )


class OpenAIBackend:
    """Asks for `n` candidates in one request; tops up with parallel requests when the
    server returns fewer (many servers ignore or cap `n`)."""

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
        self.max_retries = max_retries
        self.parallel = max(1, parallel)
        # The SDK retries 408/409/429/5xx and connection errors with exponential backoff
        # (and honours Retry-After), so retries are its job, not a second loop here.
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or PLACEHOLDER_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        completions = self._request(prompt, sampling, sampling.n, sampling.seed)
        missing = sampling.n - len(completions)
        if missing > 0:
            completions += self._top_up(prompt, sampling, missing)
        return completions[: sampling.n]

    def _top_up(self, prompt: Prompt, sampling: Sampling, missing: int) -> list[Completion]:
        # Each extra request gets its own seed: a server that honours seeds would otherwise
        # return the same candidate every time.
        seeds = [
            None if sampling.seed is None else sampling.seed + i for i in range(1, 1 + missing)
        ]
        with ThreadPoolExecutor(max_workers=min(self.parallel, missing)) as pool:
            batches = pool.map(lambda seed: self._request(prompt, sampling, 1, seed), seeds)
            return [c for batch in batches for c in batch[:1]]

    def _request(
        self, prompt: Prompt, sampling: Sampling, n: int, seed: int | None
    ) -> list[Completion]:
        options = _options(sampling, n, seed)
        try:
            if prompt.kind == "chat":
                response = self._client.chat.completions.create(
                    model=self.model, messages=cast(Any, chat_messages(prompt)), **options
                )
                texts = [(c.message.content or "", c.finish_reason) for c in response.choices]
            else:
                response = self._client.completions.create(
                    model=self.model, prompt=prompt.text, **options
                )
                texts = [(c.text or "", c.finish_reason) for c in response.choices]
        except openai.OpenAIError as exc:
            raise BackendError(
                describe_error(exc, self.base_url, self.model, self.timeout)
            ) from None
        return _completions(texts, response.usage)


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


def _completions(texts: Sequence[tuple[str, str | None]], usage: Any) -> list[Completion]:
    prompt_total = getattr(usage, "prompt_tokens", None) or 0
    completion_total = getattr(usage, "completion_tokens", None) or 0
    prompt_shares = share(prompt_total, len(texts))
    completion_shares = share(completion_total, len(texts))
    return [
        Completion(text, prompt_shares[i], completion_shares[i], finish or "unknown")
        for i, (text, finish) in enumerate(texts)
    ]


def describe_error(exc: openai.OpenAIError, base_url: str, model: str, timeout: float) -> str:
    """One line saying what went wrong and what the user can do about it."""
    if isinstance(exc, openai.APITimeoutError):
        return f"no answer from {base_url} within {timeout:g} s — is the server overloaded?"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach {base_url}: {_reason(exc)} — is the server running? pass --base-url"
    if not isinstance(exc, openai.APIStatusError):
        return f"bad answer from {base_url}: {exc}"
    status, detail = exc.status_code, _detail(exc)
    if status in (401, 403):
        return f"{base_url} rejected the API key (HTTP {status}: {detail}) — set OPENAI_API_KEY"
    if status == 404:
        return (
            f"{base_url} has no model {model!r} or no such endpoint (HTTP 404: {detail}) — "
            f"check --model and --base-url (it usually ends in /v1)"
        )
    if status == 429:
        return f"{base_url} is rate limiting requests (HTTP 429: {detail}) — retry later"
    return f"{base_url} failed the request (HTTP {status}: {detail})"


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
