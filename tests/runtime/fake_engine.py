"""A deterministic stand-in for `marshalike_runtime.engine.Engine`, so the server's tests need
no torch and no model.

The "model" works on characters (one token per character) and continues a prompt with the
prompt reversed, then stops as if it had sampled an end-of-sequence token. At temperature > 0
each candidate rotates that text by an amount drawn from a `random.Random` seeded with the
request's seed, so seeded requests repeat and candidates of one request usually differ.
The chat template is `role:content` lines.

It also polices the server: it raises if two threads ever use it at once, and records every
call so tests can check what reached it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: list[int]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class CharTokenizer:
    # the `allow_special` of every encode call: chat templates need control tokens matched,
    # raw completion prompts must not have them matched
    allow_special: list[bool] = field(default_factory=list)

    def encode(
        self, text: str, *, add_bos: bool | None = None, allow_special: bool = False
    ) -> list[int]:
        # no BOS: this "model" needs none, whatever the caller says
        self.allow_special.append(allow_special)
        return [ord(ch) for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids)


@dataclass
class FakeEngine:
    model_name: str = "fake-char"
    context_length: int = 64
    # like a base model's transcript template, whose turns end only where a stop says so
    chat_stop: tuple[str, ...] = ("\nuser:",)
    # seconds per streamed character, to keep a stream open while a test interferes
    delay: float = 0.0
    tokenizer: CharTokenizer = field(default_factory=CharTokenizer)
    calls: list[dict[str, Any]] = field(default_factory=list)
    _busy: threading.Lock = field(default_factory=threading.Lock)

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        if messages[-1]["role"] == "assistant":
            raise ValueError("the conversation must end with a user message")
        return "\n".join(f"{m['role']}:{m['content']}" for m in messages)

    def generate(self, prompt_ids: Sequence[int], **sampling: Any) -> list[Generation]:
        with self._exclusive():
            return self._generate(prompt_ids, sampling, streamed=False)

    def stream(self, prompt_ids: Sequence[int], **sampling: Any) -> Iterator[Any]:
        with self._exclusive():
            generations = self._generate(prompt_ids, sampling, streamed=True)
            longest = max(len(g.text) for g in generations)
            for step in range(longest):
                for index, generation in enumerate(generations):
                    if step < len(generation.text):
                        time.sleep(self.delay)
                        yield index, generation.text[step]
            yield from generations

    def _exclusive(self) -> _Exclusive:
        return _Exclusive(self._busy)

    def _generate(
        self, prompt_ids: Sequence[int], sampling: dict[str, Any], *, streamed: bool
    ) -> list[Generation]:
        self.calls.append(
            {"prompt": self.tokenizer.decode(prompt_ids), "stream": streamed, **sampling}
        )
        opts = {"n": 1, "max_tokens": 128, "temperature": 0.0, "stop": (), "seed": None}
        opts.update(sampling)
        rng = random.Random(opts["seed"])
        target = self.tokenizer.decode(prompt_ids)[::-1]
        return [self._one(target, len(prompt_ids), rng, opts) for _ in range(opts["n"])]

    def _one(self, target: str, prompt_tokens: int, rng: random.Random, opts: dict) -> Generation:
        if opts["temperature"] > 0 and target:
            shift = rng.randrange(len(target))
            target = target[shift:] + target[:shift]
        text, finish = target[: opts["max_tokens"]], "stop"
        if len(target) > opts["max_tokens"]:
            finish = "length"
        generated = len(text)
        for stop in opts["stop"]:
            at = text.find(stop)
            if at >= 0:
                # the model produced the stop string's tokens, the caller does not see them
                text, finish, generated = text[:at], "stop", at + len(stop)
        return Generation(text, [ord(ch) for ch in text], finish, prompt_tokens, generated)


class _Exclusive:
    """Fails loudly instead of waiting: the server must never share the engine."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("FakeEngine used by two threads at once")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
