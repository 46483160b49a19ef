"""The model boundary: what the compiler sends a backend and what comes back.

Every backend (openai, local, replay) takes one `Prompt` and one `Sampling` and returns
`Sampling.n` completions. Nothing here knows about specs or the compiler.

Token accounting: a request's prompt is processed once however many candidates it yields
(one prefill, one billed prompt), so its prompt tokens are split across the completions it
returned (see `share`); summing `prompt_tokens` over all completions gives the prompt tokens
actually spent. `completion_tokens` is each completion's own count when the backend knows
it, otherwise the request's total split the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from marshalike.settings import TOKEN_BUDGETS, TOP_P, PromptKind, default


@dataclass(frozen=True)
class Prompt:
    """A chat conversation (`messages` of (role, content)) or a raw text to continue."""

    kind: PromptKind
    messages: tuple[tuple[str, str], ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Sampling:
    n: int = 1
    temperature: float = default("temperature")
    top_p: float = TOP_P
    max_tokens: int = TOKEN_BUDGETS["chat"]
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # End a completion once a block of its lines has come this many times in a row (0:
    # never): the local engine does (`marshalike_runtime.loops`); a server is not told.
    loops: int = 0


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class BackendOptions:
    """What a backend's factory is given (backends/registry.py): the settings a backend may
    read, already resolved; each backend reads those it needs."""

    model: str | None = None
    base_url: str | None = None
    api: str = default("api")
    api_key: str | None = field(default=None, repr=False)
    timeout: float = default("request_timeout")  # seconds per request
    # Retries after a failed first try (openai_retry.py): four tries, about 3.5 s of pauses
    # in all, ride out a server that restarts or is briefly overloaded; more would only
    # delay the message about one that is down.
    max_retries: int = 3
    replay_dir: str | Path | None = None
    quant: str = default("quant")  # the local backend's weight format
    jobs: int = default("jobs")  # a remote backend's requests in flight at once, at most


class Backend(Protocol):
    name: str  # "openai" | "local" | "replay" | ...
    model: str  # model id, part of the lock's cache key (never a URL or key)

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]: ...


def each_completion(
    backend: Backend, prompt: Prompt, sampling: Sampling
) -> Iterable[tuple[int, Completion]]:
    """The completions of one request with their places in it, each as it finishes where
    the backend can give them so (a `generate_each` method, whose iterator stops the
    decoding of the rest when closed early); else the list `generate` returns, all at
    once, in order."""
    each = getattr(backend, "generate_each", None)
    if callable(each):
        found: Iterable[tuple[int, Completion]] = each(prompt, sampling)
        return found
    return list(enumerate(backend.generate(prompt, sampling)))


def share(total: int, parts: int) -> list[int]:
    """Split `total` into `parts` integers that differ by at most one and sum to `total`.

    The first parts take the remainder, so a request's tokens are never lost or invented.
    """
    if parts <= 0:
        return []
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """The prompt's messages in the shape OpenAI-style APIs and chat templates use."""
    return [{"role": role, "content": content} for role, content in prompt.messages]
