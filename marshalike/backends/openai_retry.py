"""When the openai backend asks a server again, and how long it waits first.

The openai SDK's own retries are off (`max_retries=0`): they were invisible, and each one
a server that does not notice a client leaving would compute in full. Instead a request is
tried again only where trying again can help — the server could not be reached or dropped
the connection, it is rate limiting (429), or it failed (5xx) — after an exponential
backoff with jitter, or exactly as long as the server asks (`Retry-After`, or OpenAI's
`retry-after-ms`). A timeout is never retried: a server that stayed silent that long is
busy, and asking again only adds to its queue. Nor is a malformed answer
(`openai_stream.MalformedAnswer`): a server that sends one would send another.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

import openai

T = TypeVar("T")

# A server that asks for a longer pause than this is waited on for this long, no more.
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` after the first try; the n-th retry waits about `backoff * 2**(n-1)`
    seconds (between half and all of it, drawn at random, so that parallel requests do not
    return together), at most `cap`."""

    retries: int = 3
    backoff: float = 0.5
    cap: float = 8.0

    @property
    def tries(self) -> int:
        return self.retries + 1

    def pause(self, retry: int, exc: BaseException, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1-based) after `exc`."""
        asked = retry_after(exc)
        if asked is not None:
            return min(asked, MAX_RETRY_AFTER_S)
        full = min(self.cap, self.backoff * 2 ** (retry - 1))
        return rng.uniform(full / 2, full)


def retryable(exc: BaseException) -> bool:
    """Whether asking again can help: no connection, rate limiting or a server failure."""
    if isinstance(exc, openai.APITimeoutError):
        return False
    if isinstance(exc, openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def retry_after(exc: BaseException) -> float | None:
    """The pause the server asked for, in seconds: `retry-after-ms`, or `Retry-After` as
    seconds or an HTTP date; None when it asked for none."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        if (millis := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(millis) / 1000)
        if (value := headers.get("retry-after")) is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None  # a header we cannot read is as good as none


def with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """`call()`, tried again under `policy` while it fails in a retryable way; the last
    failure is raised as it was."""
    rng = rng or random.Random()
    wait = sleep or time.sleep
    for retry in range(1, policy.tries):
        try:
            return call()
        except openai.OpenAIError as exc:
            if not retryable(exc):
                raise
            wait(policy.pause(retry, exc, rng))
    return call()
