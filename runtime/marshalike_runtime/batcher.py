"""Continuous batching: one thread decodes every request an engine has, in one batch.

A request joins the running batch at a token boundary, after one prefill of its prompt
whose KV rows its n candidates share, and its candidates leave the batch as they finish;
each request keeps its own sampling settings, seed (a `torch.Generator` per candidate, as
`Engine.stream` derives them), stop strings and max tokens. The KV cache is one pool of
rows: row b holds the b-th sequence being decoded, each at its own position
(`Transformer.decode_rows`), and a sequence that finishes gives its row back (the rows
after it move up). The pool grows when a request needs more rows or positions than it has.

The pool is a rectangle: every row has as many positions as the longest request needs, so
a long request and a wide one (n 15, a few tokens) together would take rows * longest
positions. A request joins the running batch only while the pool it leaves stays within
``max_positions`` (`MAX_POOL_POSITIONS_CPU`, `_GPU`: the rows of the pool at 4096 positions
each); past that it waits, with those behind it, until rows finish. Alone, a request takes
what it needs (the server bounds that: `--max-request-tokens`). A pool left longer than the
requests in it need, by one that has finished, is cut to their length when it would
otherwise keep a request waiting.

Fairness: between two decoding steps the loop runs at most one prefill, in arrival order,
so a request being decoded waits behind at most one prefill of another, and a new request
waits for at most one decoding step before its prefill starts (when rows are free).

At temperature 0 a request gives the tokens it gives alone (`Engine.generate`): rows are
computed independently, each row attends over its own positions only, and the quantized
kernels compute a row the same way to the last bit however many rows share a product
(csrc/matmul.c), so a near-tie cannot tip another way in company; a seeded request samples
the same whatever else is in the batch.

Prefix cache: the keys and values of each prompt prefilled are kept (`prefix_cache.py`),
and a request whose prompt starts the same way (the same unit's next attempt sends the
same prompt; prompts of one spec share their instructions) copies the longest shared
prefix into its row and prefills only the rest, at positions that continue from it (at
least `MIN_SUFFIX`, so that a quantized model multiplies them as a whole prefill does);
a prompt seen whole takes its stored logits and prefills nothing. The entries are bounded in
bytes (`PREFIX_CACHE_BYTES_CPU`, `_GPU`, or ``prefix_cache_bytes``; 0 turns the cache off)
and evicted least recently used first. It is our own code because the runtime is: the
pool's rows and the model's explicit positions make a copy and a shorter prefill all it
takes, where a serving framework would bring its own scheduler and paged cache.
`prefilled_tokens` counts the positions run through the model.

A failure that belongs to one request (its seed, its sampling, no memory to grow the pool
for it, its prefill) ends that request with the error and leaves the others decoding; only
a failure of the batch's decoding step itself fails every request in it.

The batch thread owns the model's KV cache while it has requests (`Engine.model_lock`): a
solo `Engine.stream` or `Engine.generate` waits for it to go idle, and the batch thread
waits for a solo run to end. Callers on any thread `submit` and read their
`BatchRequest`'s events.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .engine import Generation, SamplingParams, StreamEvent, _Candidate
from .prefix_cache import PREFIX_CACHE_BYTES_CPU, PREFIX_CACHE_BYTES_GPU, PrefixCache
from .sampling import candidate_generators, sample

if TYPE_CHECKING:
    from .engine import Engine

# Rows of the pool grow to at most this many sequences decoded at once (more wait).
MAX_ROWS_CPU = 16
MAX_ROWS_GPU = 64
# KV positions (rows * positions a row) the pool may take for requests decoded together.
MAX_POOL_POSITIONS_CPU = MAX_ROWS_CPU * 4096
MAX_POOL_POSITIONS_GPU = MAX_ROWS_GPU * 4096
_STEP = 256  # positions are allocated in steps of this many


class _Finished:
    """The end of a request's events."""


_END = _Finished()


@dataclass(frozen=True)
class Done:
    """A candidate finished (`BatchRequest.each`): its index and its `Generation`."""

    index: int
    generation: Generation


class BatchRequest:
    """One request in the batch: its events are ``(candidate index, text delta)`` pairs as
    text becomes final, then each candidate's `Generation` in index order. `each` gives
    each candidate as it finishes instead, so a caller can use one while the others are
    still decoded, and stop them once it has what it needs."""

    def __init__(self, prompt: list[int], params: SamplingParams, max_new: int) -> None:
        self.prompt, self.params, self.max_new = prompt, params, max_new
        self.events: queue.Queue[StreamEvent | Generation | Done | BaseException | _Finished] = (
            queue.Queue()
        )
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop decoding it at the next token boundary (its rows are given back)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def stream(self) -> Iterator[StreamEvent | Generation]:
        """The events as they come; closing the iterator early cancels the request."""
        try:
            while not isinstance(item := self.events.get(), _Finished):
                if isinstance(item, BaseException):
                    raise item
                if not isinstance(item, Done):
                    yield item
        finally:
            self.cancel()

    def each(self) -> Iterator[tuple[int, Generation]]:
        """``(candidate index, Generation)`` as each candidate finishes, in the order they
        finish; closing the iterator early cancels the candidates still being decoded."""
        try:
            while not isinstance(item := self.events.get(), _Finished):
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Done):
                    yield item.index, item.generation
        finally:
            self.cancel()

    def result(self) -> list[Generation]:
        return [item for item in self.stream() if isinstance(item, Generation)]


@dataclass
class _Live:
    """A request being decoded: its candidates and their generators."""

    request: BatchRequest
    candidates: list[_Candidate]
    generators: list[torch.Generator]

    @property
    def finished(self) -> bool:
        return all(c.finish_reason is not None for c in self.candidates)


class Batcher:
    """The thread that decodes every submitted request together (see the module doc)."""

    def __init__(
        self,
        engine: Engine,
        max_rows: int | None = None,
        prefix_cache_bytes: int | None = None,
        max_positions: int | None = None,
    ) -> None:
        """``prefix_cache_bytes``: the prefix cache's bound (None: the device's default; 0:
        no prefix cache). ``max_positions``: the pool's bound for requests decoded together
        (None: the device's default)."""
        self.engine = engine
        self.model = engine.model
        gpu = engine.device.type == "cuda"
        self.max_rows = max_rows or (MAX_ROWS_GPU if gpu else MAX_ROWS_CPU)
        default_positions = MAX_POOL_POSITIONS_GPU if gpu else MAX_POOL_POSITIONS_CPU
        self.max_positions = max_positions or default_positions
        if prefix_cache_bytes is None:
            prefix_cache_bytes = PREFIX_CACHE_BYTES_GPU if gpu else PREFIX_CACHE_BYTES_CPU
        self.prefix_cache = PrefixCache(prefix_cache_bytes) if prefix_cache_bytes > 0 else None
        self.prefilled_tokens = 0  # prompt positions run through the model
        self._threads = torch.get_num_threads()
        self._now = self._threads  # what the batch thread uses at present
        self._inbox: queue.Queue[BatchRequest | None] = queue.Queue()
        self._pending: list[BatchRequest] = []
        self._rows: list[tuple[_Live, int]] = []  # the request and candidate of each row
        self._logits: torch.Tensor | None = None  # [rows, V]: each row's next-token logits
        self._thread = threading.Thread(target=self._run, name="marshalike-batch", daemon=True)
        self._thread.start()
        # A thread still inside torch when the interpreter exits aborts the process.
        atexit.register(self.close)

    def submit(self, request: BatchRequest) -> BatchRequest:
        self._inbox.put(request)
        return request

    def close(self, timeout: float = 5.0) -> None:
        self._inbox.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        if self.engine.device.type == "cpu":
            torch.set_num_threads(self._threads)  # a thread's own setting (OpenMP's)
        lock, held = self.engine.model_lock, False
        while True:
            block = not self._rows and not self._pending
            if block and held:
                lock.release()  # idle: a solo `Engine.stream` may use the model
                held = False
            try:
                while True:
                    item = self._inbox.get(block=block)
                    if item is None:
                        if held:
                            lock.release()
                        return self._fail_all(RuntimeError("the engine was closed"))
                    self._pending.append(item)
                    block = False
            except queue.Empty:
                pass
            if not held:
                lock.acquire()
                held = True
            try:
                self._drop_cancelled()
                self._step_threads()
                self._admit_one()
                if self._rows:
                    self._step()
            except Exception as exc:  # a failure of the model: every request hears of it
                self._fail_all(exc)

    def _step_threads(self) -> None:
        """On a CPU, the threads the cores other work of this process leaves
        (`Engine.busy_cores`), at least one. Every parallel region of a step ends with its
        slowest thread, and one whose core another process takes holds every region up for
        a time slice: beside a process that kept one of two cores busy, eight requests
        decoded 123 tokens/s on one thread and 60 on two (`benchmarks.serve_bench
        --beside-busy-core`). The rows' tokens do not depend on it."""
        busy = self.engine.busy_cores
        if busy is None or self.engine.device.type != "cpu":
            return
        wanted = max(1, self._threads - busy())
        if wanted != self._now:
            torch.set_num_threads(wanted)  # the batch thread's own setting (OpenMP's)
            self._now = wanted

    def _drop_cancelled(self) -> None:
        for request in self._pending:
            if request.cancelled:
                request.events.put(_END)  # its reader, if any, must not wait for ever
        self._pending = [r for r in self._pending if not r.cancelled]
        keep = [b for b, (live, _) in enumerate(self._rows) if not live.request.cancelled]
        if len(keep) < len(self._rows):
            for live in {id(live): live for live, _ in self._rows}.values():
                if live.request.cancelled:
                    live.request.events.put(_END)
            self._keep(keep)

    @torch.inference_mode()
    def _admit_one(self) -> None:
        """Prefill the first waiting request into new rows at the end of the batch."""
        if not self._pending:
            return
        request = self._pending[0]
        p, first = request.params, len(self._rows)
        if self._rows and not self._room_for(first + p.n, len(request.prompt) + request.max_new):
            return  # it waits for rows; others behind it wait too (arrival order)
        self._pending.pop(0)
        # Whatever fails here (a seed the generators refuse, no memory for the pool, the
        # prefill) fails this request alone: it is in neither `_pending` nor `_rows` now,
        # and the rows being decoded are untouched until it joins them at the end.
        try:
            engine = self.engine
            live = _Live(
                request,
                [
                    _Candidate(engine.tokenizer.decode, engine.eos_ids, p.stop, p.loops)
                    for _ in range(p.n)
                ],
                candidate_generators(p.seed, p.n, engine.device),
            )
            self._reserve(first + p.n, len(request.prompt) + request.max_new)
            logits = self._prefill(first, request.prompt, p.n)
            new = logits.expand(p.n, -1)
            joined = new if self._logits is None else torch.cat([self._logits, new])
        except Exception as exc:
            request.events.put(exc)
            request.events.put(_END)
            return
        self._rows += [(live, i) for i in range(p.n)]
        self._logits = joined

    def _prefill(self, row: int, prompt: list[int], n: int) -> torch.Tensor:
        """The prompt's logits ``[1, V]``, its KV written to rows ``row..row+n-1``: what the
        prefix cache holds of it is copied, the rest run."""
        caches = self.model.caches()
        hit = self.prefix_cache.lookup(prompt) if self.prefix_cache is not None else None
        start = 0
        if hit is not None:
            hit.write(caches, row)
            start = hit.length
        if hit is not None and hit.logits is not None:
            logits = hit.logits
        else:
            logits = self._run_row(row, prompt, start)
            self.prefilled_tokens += len(prompt) - start
        for cache in caches:
            for buf in (cache.k_cache, cache.v_cache):
                buf[row + 1 : row + n, :, : len(prompt)] = buf[row : row + 1, :, : len(prompt)]
        if self.prefix_cache is not None:
            self.prefix_cache.store(prompt, caches, row, logits)
        return logits

    def _run_row(self, row: int, prompt: list[int], start: int) -> torch.Tensor:
        """Run ``prompt[start:]`` at its positions in row ``row``, over the KV of the
        positions before it there; the last position's logits ``[1, V]``."""
        blocks = list(self.model.blocks())
        pool = [block.attention.kv_cache for block in blocks]
        try:
            for block, cache in zip(blocks, pool, strict=True):
                assert cache is not None
                block.attention.kv_cache = cache.rows(row, row + 1)
            tokens = torch.tensor([prompt[start:]], device=self.engine.device)  # [1, S]
            positions = torch.arange(start, len(prompt), device=self.engine.device)
            return self.model(tokens, positions, last_only=True)[:, -1]
        finally:
            for block, cache in zip(blocks, pool, strict=True):
                block.attention.kv_cache = cache

    @torch.inference_mode()
    def _step(self) -> None:
        """Sample a token for every row, retire what finished, decode the rest one step."""
        assert self._logits is not None
        tokens = torch.empty(len(self._rows), dtype=torch.long, device=self._logits.device)
        failed: set[int] = set()  # the requests whose sampling failed: they leave, alone
        for key, (live, rows) in self._by_request().items():
            p = live.request.params
            try:
                tokens[rows] = sample(
                    self._logits[rows],
                    temperature=p.temperature,
                    top_p=p.top_p,
                    top_k=p.top_k,
                    generator=[live.generators[self._rows[r][1]] for r in rows],
                )
            except Exception as exc:
                failed.add(key)
                tokens[rows] = 0  # never read
                live.request.events.put(exc)
                live.request.events.put(_END)
        keep: list[int] = []
        for row, token in enumerate(tokens.tolist()):
            live, index = self._rows[row]
            if id(live) in failed:
                continue
            candidate = live.candidates[index]
            last = len(candidate.token_ids) + 1 >= live.request.max_new
            if delta := candidate.add(token, last=last):
                live.request.events.put((index, delta))
            if candidate.finish_reason is None:
                keep.append(row)
            else:
                live.request.events.put(Done(index, _generation(live, candidate)))
        for key, (live, _) in self._by_request().items():
            if live.finished and key not in failed:
                self._deliver(live)
        order = self._keep(keep)
        if order:
            kept = tokens[order] if len(order) < len(tokens) else tokens
            where = [self._position(b) for b in range(len(order))]
            self._logits = self.model.decode_rows(kept, torch.tensor(where, device=kept.device))

    def _position(self, row: int) -> int:
        """Where the row's latest token goes in its sequence."""
        live, index = self._rows[row]
        return len(live.request.prompt) + len(live.candidates[index].token_ids) - 1

    def _deliver(self, live: _Live) -> None:
        for c in live.candidates:
            live.request.events.put(_generation(live, c))
        live.request.events.put(_END)

    def _by_request(self) -> dict[int, tuple[_Live, list[int]]]:
        groups: dict[int, tuple[_Live, list[int]]] = {}
        for row, (live, _) in enumerate(self._rows):
            groups.setdefault(id(live), (live, []))[1].append(row)
        return groups

    @torch.inference_mode()
    def _keep(self, keep: list[int]) -> list[int]:
        """Keep only rows ``keep``, and say in what order (row i of the batch is now the
        old row ``order[i]``): a kept row already inside the smaller batch stays where it
        is, and the kept rows past its end move into the places the others left, so a
        finished row costs one row's KV copy, not a shift of every row after it. Each
        row's sample is its own, and on a CPU so is its product (the kernels give a row
        the same result whatever rows share the call): there the order changes no token."""
        n = len(keep)
        if n == len(self._rows):
            return keep
        inside = {b for b in keep if b < n}
        movers = iter([b for b in keep if b >= n])
        order = [b if b in inside else next(movers) for b in range(n)]
        moved = [(i, b) for i, b in enumerate(order) if i != b]
        if moved:
            filled = max(self._position(b) for _, b in moved) + 1
            device = self.engine.device
            to = torch.tensor([i for i, _ in moved], device=device)
            source = torch.tensor([b for _, b in moved], device=device)
            for cache in self.model.caches():
                for buf in (cache.k_cache, cache.v_cache):
                    buf[to, :, :filled] = buf[source, :, :filled]
        self._logits = self._logits[order] if self._logits is not None and order else None
        self._rows = [self._rows[b] for b in order]
        return order

    def _room_for(self, rows: int, length: int) -> bool:
        """Whether ``rows`` rows (those in use and a new request's) of ``length`` positions
        fit the pool as it is, or in one within `max_rows` and `max_positions`."""
        shape = self._pool_shape(rows, length)
        return rows <= self.max_rows and (
            shape is None or shape[0] * shape[1] <= self.max_positions
        )

    def _pool_size(self) -> tuple[int, int]:
        caches = self.model.caches()
        return (caches[0].k_cache.shape[0], caches[0].k_cache.shape[2]) if caches else (0, 0)

    def _rounded(self, length: int) -> int:
        return min(-(-length // _STEP) * _STEP, self.engine.context_length)

    def _pool_shape(self, rows: int, length: int) -> tuple[int, int] | None:
        """The pool (rows, positions) that `_reserve` sets up for ``rows`` rows of
        ``length`` positions; None where it keeps the pool it has. Busy, it grows the pool;
        where that passes `max_positions`, it makes the smallest pool the rows in use and
        the new ones need, cutting what a finished longer request left."""
        have_rows, have_len = self._pool_size()
        want_len = self._rounded(length)
        fits = rows <= have_rows and length <= have_len
        if not self._rows:  # idle: an idle pool far bigger than needed is released
            return (
                None if fits and have_rows * have_len <= 4 * rows * want_len else (rows, want_len)
            )
        if fits:
            return None
        grown = max(rows, have_rows), max(want_len, have_len)
        if grown[0] * grown[1] <= self.max_positions:
            return grown
        lives = {id(live): live for live, _ in self._rows}.values()
        needs = [self._rounded(len(live.request.prompt) + live.request.max_new) for live in lives]
        return rows, max(want_len, *needs)

    def _reserve(self, rows: int, length: int) -> None:
        """A pool of at least ``rows`` rows and ``length`` positions, the rows in use kept
        (`_pool_shape`), as `Engine` sizes its cache."""
        shape = self._pool_shape(rows, length)
        if shape is None:
            return
        caches = self.model.caches()
        used = len(self._rows)
        filled = max((self._position(b) for b in range(used)), default=-1) + 1
        new_rows, new_len = shape
        blocks = list(self.model.blocks())
        before = [block.attention.kv_cache for block in blocks], self.model.max_seq_len
        try:
            with torch.inference_mode(False):
                self.model.setup_caches(new_rows, new_len)
            for old, new in zip(caches, self.model.caches(), strict=False):
                for src, dst in ((old.k_cache, new.k_cache), (old.v_cache, new.v_cache)):
                    dst[:used, :, :filled] = src[:used, :, :filled]
        except BaseException:
            # Out of memory part way: the rows being decoded keep the pool they had.
            for block, cache in zip(blocks, before[0], strict=True):
                block.attention.kv_cache = cache
            self.model.max_seq_len = before[1]
            raise
        self.engine.cache_taken(new_rows, new_len)

    def _fail_all(self, exc: BaseException) -> None:
        lives = {id(live): live for live, _ in self._rows}
        for request in [*(live.request for live in lives.values()), *self._pending]:
            request.events.put(exc)
            request.events.put(_END)
        self._rows, self._pending, self._logits = [], [], None


def _generation(live: _Live, c: _Candidate) -> Generation:
    reason = c.finish_reason or "length"
    return Generation(c.text, c.token_ids, reason, len(live.request.prompt), len(c.token_ids))
