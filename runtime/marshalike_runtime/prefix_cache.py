"""Keys and values of prompts already prefilled, kept for the prompts that start the same way.

An entry is one whole prompt: the keys and values of its positions ``[0, L)`` in every
layer, copied out of the batch's KV pool (whose rows move as sequences leave), and the
logits of its next token. A new prompt reuses the longest prefix it shares with any entry:
a position's keys and values depend only on the tokens up to it, so the shared positions
are copied into the prompt's row and only the rest is run through the model. The entries
are bounded in bytes and the least recently used goes first (see `batcher.py`).

The rest is at least `MIN_SUFFIX` positions, so that every position is computed as a
prefill of the whole prompt computes it: a quantized model multiplies up to `KERNEL_ROWS`
rows in its fp32 C kernels and more rows in torch's products, in bf16 where the CPU has
them, and a one-token run would give logits that differ from the whole prompt's by bf16's
precision (enough to change a seeded sample). For the same reason only prompts longer than
`KERNEL_ROWS` are stored: their positions all came from runs of more rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from .model import KVCache
from .quant_linear import KERNEL_ROWS

# The most bytes the entries' keys, values and logits take together, in the pool's memory
# (a GPU's on a GPU). On a CPU that holds about 7,000 positions of Gemma 3 270M (36 KiB a
# position in float32, and 1 MiB of logits a prompt) or 5,800 of SmolLM2-135M (45 KiB).
PREFIX_CACHE_BYTES_CPU = 256 << 20
PREFIX_CACHE_BYTES_GPU = 1 << 30
# A shorter shared prefix is run again: copying it would save little.
MIN_PREFIX = 16
# The fewest positions of a prompt run through the model when not all of it is stored.
MIN_SUFFIX = KERNEL_ROWS + 1


@dataclass(frozen=True)
class Entry:
    """One prompt's keys and values, a ``(k, v)`` pair ``[H_kv, L, D]`` per layer, and the
    logits ``[1, V]`` of the token after it."""

    tokens: tuple[int, ...]
    kv: tuple[tuple[Tensor, Tensor], ...]
    logits: Tensor

    @property
    def nbytes(self) -> int:
        return _size(self.kv, self.logits)


@dataclass(frozen=True)
class Hit:
    """What a prompt reuses: the first ``length`` positions of ``entry``, and the prompt's
    next-token logits when the entry is the whole prompt (else the rest of it is run)."""

    entry: Entry
    length: int
    logits: Tensor | None

    def write(self, caches: Sequence[KVCache], row: int) -> None:
        """Copy the reused positions into row ``row`` of every layer's cache."""
        n = self.length
        for cache, (k, v) in zip(caches, self.entry.kv, strict=True):
            cache.k_cache[row, :, :n] = k[:, :n]
            cache.v_cache[row, :, :n] = v[:, :n]


class PrefixCache:
    """Entries of at most ``max_bytes`` together, least recently used evicted first; only a
    shared prefix of ``min_tokens`` or more is reused, leaving `MIN_SUFFIX` positions or
    more to run. Not thread-safe: the batch thread alone uses it."""

    def __init__(self, max_bytes: int, min_tokens: int = MIN_PREFIX) -> None:
        self.max_bytes, self.min_tokens = max_bytes, max(1, min_tokens)
        self._entries: OrderedDict[tuple[int, ...], Entry] = OrderedDict()  # oldest use first
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def prompts(self) -> list[tuple[int, ...]]:
        """The stored prompts, least recently used first (the next to be evicted)."""
        return list(self._entries)

    def lookup(self, prompt: Sequence[int]) -> Hit | None:
        """The whole prompt where it is stored, else the longest stored prefix that leaves
        `MIN_SUFFIX` positions to run; None if that is shorter than ``min_tokens``."""
        tokens = tuple(prompt)
        if (entry := self._entries.get(tokens)) is not None:
            self._entries.move_to_end(tokens)
            return Hit(entry, len(tokens), entry.logits)
        best, length = None, 0
        for candidate in self._entries.values():
            shared = min(common_prefix(candidate.tokens, tokens), len(tokens) - MIN_SUFFIX)
            if shared > length:
                best, length = candidate, shared
        if best is None or length < self.min_tokens:
            return None
        self._entries.move_to_end(best.tokens)
        return Hit(best, length, None)

    def store(
        self, prompt: Sequence[int], caches: Sequence[KVCache], row: int, logits: Tensor
    ) -> None:
        """Keep the prompt's keys and values (row ``row`` of ``caches``) and ``logits``,
        evicting the least recently used entries to make room."""
        tokens = tuple(prompt)
        if tokens in self._entries:
            self._entries.move_to_end(tokens)
            return
        if len(tokens) < max(self.min_tokens, MIN_SUFFIX):
            return
        n = len(tokens)
        views = [(c.k_cache[row, :, :n], c.v_cache[row, :, :n]) for c in caches]
        size = _size(views, logits)
        if size > self.max_bytes:
            return
        while self.nbytes + size > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.nbytes -= old.nbytes
        kv = tuple((k.clone(), v.clone()) for k, v in views)
        self._entries[tokens] = Entry(tokens, kv, logits.clone())
        self.nbytes += size


def _size(kv: Sequence[tuple[Tensor, Tensor]], logits: Tensor) -> int:
    tensors = [logits, *(t for pair in kv for t in pair)]
    return sum(t.numel() * t.element_size() for t in tensors)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens ``a`` and ``b`` share from the start: a binary search over slice
    comparisons, which run in C, instead of a Python loop over thousands of tokens."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    same, differs = 0, n  # a[:same] == b[:same], a[:differs] != b[:differs]
    while differs - same > 1:
        mid = (same + differs) // 2
        if a[:mid] == b[:mid]:
            same = mid
        else:
            differs = mid
    return same
