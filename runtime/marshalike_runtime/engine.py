"""The inference engine: one model, one tokenizer, batched sampling of n candidates.

A request runs one prefill of its prompt (batch 1), copies the prompt's KV cache rows to
the n candidates, then decodes them together, one token per step, asking the model for
logits of the last position only. Candidates that finish (EOS, a stop string, max tokens)
are dropped from the batch, so later steps cost only what is still being sampled.

`stream` and `generate` are not thread-safe: a request owns the model's KV cache from
prefill to its last token. `submit` is: it queues the request on the engine's batch thread
(`batcher.Batcher`), which decodes every submitted request in one batch, each joining and
leaving at a token boundary; the HTTP server and the compiler's local backend submit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from .loops import LoopWatch
from .sampling import candidate_generators, sample

if TYPE_CHECKING:  # the model's module is imported when a model is loaded
    from .model import Transformer

FinishReason = Literal["stop", "length"]
StreamEvent = tuple[int, str]
# The KV cache grows in steps of this many positions, so that requests of similar length
# reuse one allocation instead of reallocating every time.
_CACHE_STEP = 256


class ContextLengthError(ValueError):
    """A prompt leaves no room for a generated token in the model's context."""


@dataclass(frozen=True)
class Generation:
    """One finished candidate. `text` excludes EOS and ends before any stop string."""

    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one request's candidates."""

    n: int = 1
    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # End a candidate once a block of lines has come this many times in a row, as if its
    # tokens ran out (`loops.loop_end`); 0: never.
    loops: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.loops == 1 or self.loops < 0:
            raise ValueError(f"loops must be 0 (never) or at least 2, got {self.loops}")


@dataclass
class _Candidate:
    """The text of one candidate as it grows; decides when it stops and what to stream.

    Text is always decoded from all of the candidate's ids (so multi-token characters come
    out whole); a trailing U+FFFD is held back as a possibly incomplete UTF-8 character,
    and so is any tail that could be the start of a stop string. With `loops`, a
    candidate caught repeating a block of lines ends there (`loops.LoopWatch`).
    """

    decode: Callable[[list[int]], str]
    eos_ids: frozenset[int]
    stop: tuple[str, ...]
    loops: int = 0
    watch: LoopWatch = field(init=False)
    token_ids: list[int] = field(default_factory=list)
    text: str = ""  # the final text once finished
    emitted: int = 0  # characters already streamed
    finish_reason: FinishReason | None = None

    def __post_init__(self) -> None:
        self.watch = LoopWatch(self.loops)

    def add(self, token: int, *, last: bool) -> str:
        """Record ``token``; returns the text that became safe to stream."""
        self.token_ids.append(token)
        if token in self.eos_ids:
            return self._finish(self.decode(self.token_ids[:-1]), "stop")
        full = self.decode(self.token_ids)
        stable = full.rstrip("\ufffd")
        cut = _find_stop(stable, self.stop)
        if cut is not None:
            return self._finish(stable[:cut], "stop")
        looped = self.watch.end(stable)
        if looped is not None:
            return self._finish(stable[:looped], "length")
        if last:
            return self._finish(full, "length")
        return self._emit(stable[: len(stable) - _held_back(stable, self.stop)])

    def _finish(self, text: str, reason: FinishReason) -> str:
        cut = _find_stop(text, self.stop)
        self.text = text if cut is None else text[:cut]
        self.finish_reason = reason if cut is None else "stop"
        return self._emit(self.text)

    def _emit(self, safe: str) -> str:
        delta = safe[self.emitted :]
        self.emitted = max(self.emitted, len(safe))
        return delta


def _stop_strings(stop: str | Sequence[str] | None) -> tuple[str, ...]:
    """One string or several; empty strings would match everywhere, so they are dropped."""
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    return tuple(s for s in stops if s)


def _find_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index of the earliest stop string in ``text``, or None."""
    hits = [i for s in stops if (i := text.find(s)) >= 0]
    return min(hits) if hits else None


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of ``text`` that a stop string starts with."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU; fp32 on a CPU, where it is the reference and bf16 decode is no faster."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def configure_cpu_threads() -> int:
    """The threads torch and our kernels use: `MARSHALIKE_THREADS` when set, else
    `cpu_threads` of the cores this process may use and how busy the machine is."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = max(1, min(torch.get_num_threads(), allowed or torch.get_num_threads()))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    threads = cpu_threads(cores, load, os.environ.get("MARSHALIKE_THREADS"))
    torch.set_num_threads(threads)
    return threads


def cpu_threads(cores: int, load: float, setting: str | None = None) -> int:
    """All physical cores (torch's default counts physical cores; the affinity mask may
    allow fewer), less the cores other work keeps busy (the load average, rounded down).

    Every parallel region of a step ends when its slowest thread does: a thread whose core
    another process takes holds the step up for a time slice. On a 2-core machine with a
    compile running beside it, two threads decoded 48 tokens in 6.5 s (median, 13 runs)
    where one thread took 1.2 s. ``setting`` (a positive number) overrides the estimate."""
    if setting is not None and setting.strip().isdigit() and int(setting) > 0:
        return int(setting)
    return max(1, min(cores, cores - int(load)))


def resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    """A torch dtype from None (the device's default), a dtype, or a name like "bf16"."""
    if dtype is None:
        return default_dtype(device)
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {
        "fp32": torch.float32,
        "float32": torch.float32,
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
    }
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {sorted(names)}")
    return names[dtype]


class Engine:
    """Generates text from token ids with one loaded model. Not thread-safe (see module doc)."""

    def __init__(
        self,
        model: Transformer,
        tokenizer: Any,
        *,
        model_name: str,
        context_length: int | None = None,
        chat: Any = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.context_length = context_length or model.args.max_seq_len
        self.eos_ids = frozenset(getattr(tokenizer, "eos_ids", ())) | frozenset(model.args.eos_ids)
        self._chat = chat
        reference = next(p for p in model.parameters() if p.is_floating_point())
        self.device, self.dtype = reference.device, reference.dtype
        self._cache_batch, self._cache_len = 0, 0
        self._batcher: Any = None
        self._batcher_lock = threading.Lock()
        # Held by whoever uses the model's KV cache: a solo `stream` for its whole run,
        # the batch thread while it has requests (a cancelled one may still be stepping).
        self.model_lock = threading.Lock()
        # How many cores other work of this process keeps busy now (a compiler's sandboxed
        # runs), asked before each batch step on a CPU (`Batcher._step_threads`); None:
        # nothing else runs here.
        self.busy_cores: Callable[[], int] | None = None

    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        quant: str | None = None,
        progress: bool = True,
    ) -> Engine:
        """Load a GGUF file or safetensors folder; None means the embedded default model."""
        from .checkpoint import load_checkpoint
        from .quant import check_supported
        from .quant_load import load_quantized

        dev = torch.device(device) if device is not None else default_device()
        if quant is not None:
            # Before the model file is touched (the embedded one may need assembling), and
            # before the dtype check, which would hide the real reason on a GPU.
            check_supported(quant, dev)
        if dev.type == "cpu":
            configure_cpu_threads()
        path = _model_path(model, progress)
        if quant is None:
            net, metadata = load_checkpoint(
                path, dtype=resolve_dtype(dtype, dev), device=dev, progress=progress
            )
        else:
            if resolve_dtype(dtype, dev) != torch.float32:
                raise ValueError(f"quantization mode {quant!r} keeps activations in float32")
            net, metadata = load_quantized(path, quant, device=dev, progress=progress)
        return cls.from_checkpoint(net, path, metadata)

    @classmethod
    def from_checkpoint(
        cls, model: Transformer, path: str | Path, metadata: Mapping[str, Any]
    ) -> Engine:
        """An engine around a model already loaded from ``path`` (which holds its tokenizer)."""
        path = Path(path)
        tokenizer, chat = _tokenizer_and_chat(path, metadata)
        name = path.stem if path.is_file() else path.name
        return cls(
            model, tokenizer, model_name=name, context_length=model.args.max_seq_len, chat=chat
        )

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt for a chat: the checkpoint's template, or chat.py's plain one for base
        models. It spells control tokens as text: encode it with `encode_chat`."""
        return self._chat_template().render(messages)

    def encode_chat(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The token ids of `render_chat`'s prompt, control tokens as themselves."""
        return self._chat_template().encode(messages)

    @property
    def chat_stop(self) -> tuple[str, ...]:
        """Stop strings a chat needs: a base model's plain transcript has no end-of-turn."""
        return tuple(getattr(self._chat_template(), "stop", ()))

    def _chat_template(self) -> Any:
        if self._chat is None:
            raise ValueError(f"model {self.model_name} has no chat template")
        return self._chat

    def generate(self, prompt_ids: Sequence[int], **sampling: Any) -> list[Generation]:
        """Sample candidates for ``prompt_ids``; keyword arguments are `SamplingParams`."""
        return [
            item for item in self.stream(prompt_ids, **sampling) if isinstance(item, Generation)
        ]

    def stream(
        self, prompt_ids: Sequence[int], **sampling: Any
    ) -> Iterator[StreamEvent | Generation]:
        """Yield ``(candidate index, text delta)`` as text becomes final, then each
        candidate's `Generation`, in index order. Deltas of a candidate concatenate to its
        final text."""
        return self._run(*self._checked(prompt_ids, sampling))

    def submit(self, prompt_ids: Sequence[int], **sampling: Any) -> Any:
        """Queue a request on the batch thread; a `batcher.BatchRequest`, whose `stream()`
        yields what `stream` yields and `result()` what `generate` returns. Thread-safe."""
        from .batcher import Batcher, BatchRequest

        request = BatchRequest(*self._checked(prompt_ids, sampling))
        with self._batcher_lock:
            if self._batcher is None:
                self._batcher = Batcher(self)
        return self._batcher.submit(request)

    def cache_taken(self, batch: int, length: int) -> None:
        """The batch thread set up the model's KV cache at this size."""
        self._cache_batch, self._cache_len = batch, length

    def _checked(
        self, prompt_ids: Sequence[int], sampling: Mapping[str, Any]
    ) -> tuple[list[int], SamplingParams, int]:
        """The prompt, its sampling settings and the most tokens it may generate."""
        params = SamplingParams(**{**sampling, "stop": _stop_strings(sampling.get("stop"))})
        prompt = [int(t) for t in prompt_ids]
        room = self.context_length - len(prompt)
        if not prompt:
            raise ValueError("the prompt is empty: give at least one token")
        if room < 1:
            raise ContextLengthError(
                f"the prompt has {len(prompt)} tokens but the context of {self.model_name} "
                f"holds {self.context_length}, including at least one generated token"
            )
        return prompt, params, min(params.max_tokens, room)

    def _run(
        self, prompt: list[int], p: SamplingParams, max_new: int
    ) -> Iterator[StreamEvent | Generation]:
        with self.model_lock:
            yield from self._run_alone(prompt, p, max_new)

    def _run_alone(
        self, prompt: list[int], p: SamplingParams, max_new: int
    ) -> Iterator[StreamEvent | Generation]:
        generators = candidate_generators(p.seed, p.n, self.device)
        candidates = [
            _Candidate(self.tokenizer.decode, self.eos_ids, p.stop, p.loops) for _ in range(p.n)
        ]
        self._ensure_caches(p.n, len(prompt) + max_new)
        logits = self._prefill(prompt, p.n).expand(p.n, -1)  # [n, V]
        active = list(range(p.n))  # the candidate decoded in each batch row
        for step in range(max_new):
            tokens = sample(
                logits,
                temperature=p.temperature,
                top_p=p.top_p,
                top_k=p.top_k,
                generator=[generators[i] for i in active],
            )  # [len(active)]
            keep: list[int] = []
            for row, token in enumerate(tokens.tolist()):
                candidate = candidates[active[row]]
                if delta := candidate.add(token, last=step == max_new - 1):
                    yield active[row], delta
                if candidate.finish_reason is None:
                    keep.append(row)
            if not keep:
                break
            if len(keep) < len(active):
                self._compact(keep, len(prompt) + step)
                active, tokens = [active[r] for r in keep], tokens[keep]
            logits = self._decode(tokens, len(prompt) + step)
        for c in candidates:
            n_out = len(c.token_ids)
            yield Generation(c.text, c.token_ids, c.finish_reason or "length", len(prompt), n_out)

    @torch.inference_mode()
    def _prefill(self, prompt: list[int], n: int) -> torch.Tensor:
        """Run the prompt once and copy its KV rows to all n candidates; logits ``[1, V]``."""
        tokens = torch.tensor([prompt], device=self.device)  # [1, S]
        positions = torch.arange(len(prompt), device=self.device)
        logits = self.model(tokens, positions, last_only=True)[:, -1]
        for cache in self.model.caches():
            for buf in (cache.k_cache, cache.v_cache):
                buf[1:n, :, : len(prompt)] = buf[0:1, :, : len(prompt)]
        return logits

    @torch.inference_mode()
    def _decode(self, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """One step for every row still sampled: ``tokens [B]`` at ``pos`` -> logits ``[B, V]``."""
        positions = torch.tensor([pos], device=self.device)
        return self.model(tokens.view(-1, 1), positions, last_only=True)[:, -1]

    @torch.inference_mode()
    def _compact(self, keep: list[int], filled: int) -> None:
        """Move the KV rows of the candidates still sampled to the front of the cache."""
        rows = torch.tensor(keep, device=self.device)
        for cache in self.model.caches():
            for buf in (cache.k_cache, cache.v_cache):
                buf[: len(keep), :, :filled] = buf[rows, :, :filled]

    def _ensure_caches(self, batch: int, length: int) -> None:
        """Reuse the KV cache when it fits and is not far too big; else allocate anew.

        Lengths are rounded up so that similar requests share one allocation; a cache over
        four times what a request needs is released (a long 8-way request can take GBs).
        Allocated outside inference mode, so the model stays usable without the engine.
        """
        rounded = min(-(-length // _CACHE_STEP) * _CACHE_STEP, self.context_length)
        have = self._cache_batch * self._cache_len
        fits = batch <= self._cache_batch and length <= self._cache_len
        if fits and have <= 4 * batch * rounded:
            return
        self._cache_batch, self._cache_len = batch, rounded
        self.model.setup_caches(batch, rounded)


def _model_path(model: str | Path | None, progress: bool) -> Path:
    if model is None:
        from .embedded import default_model_path

        return Path(default_model_path(progress=progress))
    path = Path(model).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file or folder")
    return path


def _tokenizer_and_chat(path: Path, metadata: Mapping[str, Any]) -> tuple[Any, Any]:
    """The checkpoint's own tokenizer, and a function rendering chats with its template."""
    from . import tokenizer_cache
    from .chat import ChatTemplate
    from .tokenizer import Tokenizer

    if path.is_dir():
        tokenizer = Tokenizer.from_tokenizer_json(path / "tokenizer.json")
    else:
        tokenizer = tokenizer_cache.cached(path, lambda: Tokenizer.from_gguf_metadata(metadata))
    return tokenizer, _EngineChat(ChatTemplate.for_tokenizer(tokenizer))


class _EngineChat:
    """A chat template plus the stop strings its format needs."""

    def __init__(self, template: Any) -> None:
        from .chat import PLAIN_STOP

        self.render, self.encode = template.render, template.encode
        self.stop = PLAIN_STOP if template.is_plain else ()
