"""The batcher's prefix cache: the same tokens as without it, fewer positions prefilled, and
a bound in bytes kept by evicting the least recently used prompt."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")

from quant_fixtures import GEMMA, LLAMA, coded_sources, tiny_model  # noqa: E402
from test_batcher import outcome  # noqa: E402
from test_engine import CharTokenizer  # noqa: E402

from marshalike_runtime import cpu_kernels  # noqa: E402
from marshalike_runtime.batcher import Batcher, BatchRequest  # noqa: E402
from marshalike_runtime.engine import Engine, SamplingParams  # noqa: E402
from marshalike_runtime.model import KVCache, ModelArgs  # noqa: E402
from marshalike_runtime.prefix_cache import (  # noqa: E402
    MIN_PREFIX,
    MIN_SUFFIX,
    PREFIX_CACHE_BYTES_CPU,
    PrefixCache,
    common_prefix,
)
from marshalike_runtime.quant import quantize_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TOK = CharTokenizer()
SHARED = "instructions:_write_each_function_below_"  # 40 tokens
A = SHARED + "add(a,b)=a+b"  # 52
B = SHARED + "mul(x)=x*2_or_x+x"  # 57: shares 40 with A
C = A + "_then_check_it_twice"  # 72: extends A
D = A[:47]  # a prefix of A
# Prompts sharing a prefix, one repeated, one extending another, one too short to reuse:
# different lengths and limits, decoded together, so that later ones join a running batch.
REQUESTS = [
    (A, {"max_tokens": 20}),
    (B, {"max_tokens": 9, "n": 2}),
    (A, {"max_tokens": 30}),
    (C, {"max_tokens": 24}),
    (D, {"max_tokens": 14, "temperature": 0.8, "seed": 3, "n": 2}),
    ("x=1", {"max_tokens": 11}),
]
# What each request prefills with the cache: A all, B past the 40 shared, the repeated A
# nothing, C past A, D its last MIN_SUFFIX tokens, the short one all.
PREFILLED = [52, 17, 0, 20, 17, 3]


@pytest.fixture
def batchers() -> Iterator[list[Batcher]]:
    """The batchers a test starts, closed after it."""
    started: list[Batcher] = []
    yield started
    for batcher in started:
        batcher.close()


def run(batcher: Batcher, requests: list) -> list[list[tuple]]:
    """Submit every request at once; each one's outcome."""
    handles = [
        batcher.submit(BatchRequest(TOK.encode(p), SamplingParams(**kw), kw["max_tokens"]))
        for p, kw in requests
    ]
    return [outcome(h.result()) for h in handles]


def engine_for(kind: str) -> Engine:
    """A tiny model of 128 positions: "llama", "gemma" (a sliding window of 5), or either
    with "-int4" (quantized, decoding in C)."""
    args: ModelArgs = GEMMA if kind.startswith("gemma") else LLAMA
    model = tiny_model(args=dataclasses.replace(args, max_seq_len=128))
    if kind.endswith("int4"):
        if cpu_kernels.kernels() is None:
            pytest.skip("no C compiler here: the kernels are not built")
        quantize_model(model, "int4", coded_sources(model))
        assert model.fast_step is not None
    tokenizer = CharTokenizer()
    tokenizer.eos_ids = frozenset()
    return Engine(model, tokenizer, model_name=kind)


@pytest.mark.parametrize("kind", ["llama", "gemma", "gemma-int4"])
def test_the_cache_gives_the_tokens_each_request_gives_without_it(
    kind: str, batchers: list[Batcher]
) -> None:
    """Gemma's sliding window (5) is far shorter than the prefixes reused; the quantized
    model multiplies a prompt's rows in bf16 where the CPU has it and a few rows in fp32."""
    engine = engine_for(kind)
    alone = [outcome(engine.generate(TOK.encode(p), **kw)) for p, kw in REQUESTS]
    off, on = Batcher(engine, prefix_cache_bytes=0), Batcher(engine)
    batchers += [off, on]
    assert off.prefix_cache is None
    assert run(off, REQUESTS) == alone
    assert off.prefilled_tokens == sum(len(p) for p, _ in REQUESTS)
    assert run(on, REQUESTS) == alone
    assert on.prefilled_tokens == sum(PREFILLED)
    assert on.prefix_cache is not None and len(on.prefix_cache) == 4  # A, B, C, D
    # again, in another order: the stored prompts are reused whole
    assert run(on, REQUESTS[::-1]) == alone[::-1]
    assert on.prefilled_tokens == sum(PREFILLED) + 3


def test_a_hit_prefills_only_what_the_cache_lacks(batchers: list[Batcher]) -> None:
    batcher = Batcher(engine_for("llama"))
    batchers.append(batcher)
    assert batcher.prefix_cache is not None
    assert batcher.prefix_cache.max_bytes == PREFIX_CACHE_BYTES_CPU
    counts = []
    for request, expected in zip(REQUESTS, PREFILLED, strict=True):
        before = batcher.prefilled_tokens
        run(batcher, [request])
        counts.append(batcher.prefilled_tokens - before)
        assert counts[-1] == expected, request[0]


@pytest.mark.parametrize("args", [LLAMA, GEMMA], ids=["llama", "gemma"])
def test_a_suffix_prefilled_over_cached_keys_gives_a_full_prefills_logits(
    args: ModelArgs,
) -> None:
    """Every suffix position's logits, and the keys and values it leaves, agree with a
    prefill of the whole prompt; the cached prefix was computed in another prompt."""
    model = tiny_model(args=dataclasses.replace(args, max_seq_len=128))
    a, b = TOK.encode(C), TOK.encode(B + "_and_so_on")
    cache = PrefixCache(1 << 20)
    with torch.inference_mode():
        model.setup_caches(1, 128)
        logits = model(torch.tensor([a]), torch.arange(len(a)))
        cache.store(a, model.caches(), 0, logits[:, -1])
        model.setup_caches(1, 128)
        full = model(torch.tensor([b]), torch.arange(len(b)))[0]  # [S, V]
        full_kv = [(c.k_cache.clone(), c.v_cache.clone()) for c in model.caches()]
        model.setup_caches(1, 128)
        hit = cache.lookup(b)
        assert hit is not None and (hit.length, hit.logits) == (len(SHARED), None)
        hit.write(model.caches(), 0)
        suffix = model(torch.tensor([b[hit.length :]]), torch.arange(hit.length, len(b)))[0]
    torch.testing.assert_close(suffix, full[hit.length :], atol=1e-5, rtol=1e-5)
    assert torch.equal(suffix.argmax(-1), full[hit.length :].argmax(-1))
    for c, (k, v) in zip(model.caches(), full_kv, strict=True):
        torch.testing.assert_close(c.k_cache, k, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(c.v_cache, v, atol=1e-5, rtol=1e-5)


def pool_with(prompts: list[list[int]]) -> list[KVCache]:
    """Two layers' caches, row r holding values that tell prompt r's positions apart."""
    caches = [KVCache(len(prompts), 2, 64, 4, torch.float32) for _ in range(2)]
    for layer, cache in enumerate(caches):
        for row, prompt in enumerate(prompts):
            values = torch.tensor(prompt, dtype=torch.float32) + 100 * layer
            cache.k_cache[row, :, : len(prompt)] = values[None, :, None]
            cache.v_cache[row, :, : len(prompt)] = -values[None, :, None]
    return caches


# Bytes of one stored prompt of 20 tokens: 2 layers x (k, v) x 2 heads x 20 x 4 values of
# 4 bytes, and 8 logits of 4 bytes.
ENTRY_20 = 2 * 2 * 2 * 20 * 4 * 4 + 8 * 4


def test_entries_are_evicted_least_recently_used_first() -> None:
    p1, p2, p3 = ([i] * 20 for i in (1, 2, 3))  # longer than MIN_PREFIX and MIN_SUFFIX
    caches, logits = pool_with([p1, p2, p3]), torch.zeros(1, 8)
    cache = PrefixCache(2 * ENTRY_20 + 100)
    cache.store(p1, caches, 0, logits)
    cache.store(p2, caches, 1, logits)
    assert cache.nbytes == 2 * ENTRY_20
    assert cache.lookup(p1) is not None  # p1 is now the most recent
    assert cache.prompts() == [tuple(p2), tuple(p1)]
    cache.store(p3, caches, 2, logits)
    assert cache.prompts() == [tuple(p1), tuple(p3)]
    assert cache.nbytes == 2 * ENTRY_20 <= cache.max_bytes
    assert cache.lookup(p2) is None
    cache.store(list(range(30)), caches, 0, logits)  # needs both places: both go
    assert len(cache) == 1 and cache.nbytes <= cache.max_bytes
    cache.store(list(range(64)), caches, 0, logits)  # more than the bound: not kept
    cache.store([7] * (MIN_SUFFIX - 1), caches, 0, logits)  # run in a decoder's kernels
    assert cache.prompts() == [tuple(range(30))]


def test_a_hit_copies_the_shared_positions_from_the_stored_prompt() -> None:
    stored, logits = list(range(40)), torch.randn(1, 8)
    caches = pool_with([stored, []])
    cache = PrefixCache(1 << 20)
    cache.store(stored, caches, 0, logits)
    caches[0].k_cache[0].zero_()  # the pool's row moves on: the entry is a copy
    whole = cache.lookup(stored)
    assert whole is not None and whole.length == 40
    assert whole.logits is not None and torch.equal(whole.logits, logits)
    longer = cache.lookup(stored[:30] + [50] * MIN_SUFFIX)
    assert longer is not None and (longer.length, longer.logits) == (30, None)
    longer.write(caches, 1)
    assert caches[1].k_cache[1, 0, :32, 0].tolist() == [*range(100, 130), 0, 0]
    assert caches[0].v_cache[1, 1, :32, 0].tolist() == [-float(i) for i in range(30)] + [0, 0]
    shorter = cache.lookup(stored[:35])  # the last MIN_SUFFIX tokens are run
    assert shorter is not None and (shorter.length, shorter.logits) == (35 - MIN_SUFFIX, None)
    assert cache.lookup(stored[: MIN_PREFIX - 1 + MIN_SUFFIX]) is None  # too little to reuse
    assert cache.lookup([99] * 60) is None


def test_the_batchers_cache_stays_within_its_bound(batchers: list[Batcher]) -> None:
    # 2 layers x (k, v) x 2 heads x 16 values of 4 bytes a position, and 320 logits
    per_token, logits = 2 * 2 * 2 * 16 * 4, 320 * 4
    bound = (len(A) + len(C)) * per_token + 2 * logits  # room for A and C, not B too
    batcher = Batcher(engine_for("llama"), prefix_cache_bytes=bound)
    batchers.append(batcher)
    cache = batcher.prefix_cache
    assert cache is not None

    def prompts(*texts: str) -> list[tuple[int, ...]]:
        return [tuple(TOK.encode(t)) for t in texts]

    for prompt in (A, C, B):
        run(batcher, [(prompt, {"max_tokens": 4})])
        assert cache.nbytes <= bound
    # C and B each reused A's positions, which made A the more recent of A and C
    assert cache.prompts() == prompts(A, B)
    before = batcher.prefilled_tokens
    run(batcher, [(C, {"max_tokens": 4})])  # evicted, but A holds all but its last 20
    assert batcher.prefilled_tokens - before == len(C) - len(A)
    assert cache.prompts() == prompts(A, C)
    assert cache.nbytes == bound


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 3]) == 3
    assert common_prefix([1, 2, 3], [1, 2]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([5, 2], [1, 2]) == 0
    long = list(range(1000))
    assert common_prefix(long, [*long[:637], -1, *long[638:]]) == 637
    assert common_prefix(tuple(long), tuple(long[:999]) + (0,)) == 999
