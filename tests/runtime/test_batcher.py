"""Continuous batching: requests decoded together give what each gives alone."""

from __future__ import annotations

import threading
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from quant_fixtures import GEMMA, LLAMA, Chars, coded_sources, tiny_model  # noqa: E402
from test_engine import CharTokenizer, tiny_engine  # noqa: E402

from marshalike_runtime import batcher, cpu_kernels  # noqa: E402
from marshalike_runtime.batcher import Batcher, BatchRequest, _Finished  # noqa: E402
from marshalike_runtime.engine import Engine, Generation, cpu_threads  # noqa: E402
from marshalike_runtime.model import ModelArgs, Transformer  # noqa: E402
from marshalike_runtime.quant import quantize_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TOK = CharTokenizer()
# Prompts of different lengths, each with its own n, stops, limits and sampling.
REQUESTS = [
    ("def_f(x):", {"max_tokens": 20}),
    ("abc", {"max_tokens": 7, "n": 3}),
    ("long_prompt_here_with_more_text", {"max_tokens": 30, "stop": ["3"]}),
    ("x", {"max_tokens": 12, "temperature": 0.8, "seed": 5, "n": 2, "top_p": 0.9}),
    ("return_y", {"max_tokens": 1}),
    ("k=", {"max_tokens": 25, "temperature": 1.2, "seed": 11, "top_k": 5}),
]


def outcome(generations: list) -> list[tuple]:
    return [(g.text, g.token_ids, g.finish_reason, g.prompt_tokens) for g in generations]


def alone(engine: Engine, requests: list) -> list[list[tuple]]:
    return [outcome(engine.generate(TOK.encode(p), **kw)) for p, kw in requests]


def together(engine: Engine, requests: list) -> list[list[tuple]]:
    handles = [engine.submit(TOK.encode(p), **kw) for p, kw in requests]
    return [outcome(h.result()) for h in handles]


def test_requests_decoded_together_give_what_each_gives_alone() -> None:
    engine = tiny_engine(eos=frozenset())
    expected = alone(engine, REQUESTS)
    assert together(engine, REQUESTS) == expected
    # again, in another order, so that others join while a request runs
    assert together(engine, REQUESTS[::-1]) == expected[::-1]


def test_requests_from_many_threads_share_the_batch() -> None:
    engine = tiny_engine(seed=3)  # with EOS: some candidates end early
    expected = alone(engine, REQUESTS)
    results: dict[int, list[tuple]] = {}

    def client(i: int) -> None:
        prompt, kw = REQUESTS[i]
        results[i] = outcome(engine.submit(TOK.encode(prompt), **kw).result())

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(REQUESTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [results[i] for i in range(len(REQUESTS))] == expected


def test_streamed_deltas_concatenate_to_the_final_texts() -> None:
    engine = tiny_engine(eos=frozenset())
    handles = [engine.submit(TOK.encode(p), **kw) for p, kw in REQUESTS]
    for handle in handles:
        texts: dict[int, str] = {}
        finals = []
        for item in handle.stream():
            if isinstance(item, tuple):
                texts[item[0]] = texts.get(item[0], "") + item[1]
            else:
                finals.append(item)
        assert [texts.get(i, "") for i in range(len(finals))] == [g.text for g in finals]


def test_a_cancelled_request_leaves_and_the_others_finish() -> None:
    engine = tiny_engine(eos=frozenset())
    expected = alone(engine, REQUESTS[:3])
    handles = [engine.submit(TOK.encode(p), **kw) for p, kw in REQUESTS[:3]]
    stream = handles[1].stream()
    next(stream)
    stream.close()  # cancels
    assert outcome(handles[0].result()) == expected[0]
    assert outcome(handles[2].result()) == expected[2]


def test_each_gives_candidates_as_they_finish_and_closing_it_stops_the_rest() -> None:
    engine = tiny_engine(seed=3)  # with EOS: the candidates end at different lengths
    request = ("x", {"max_tokens": 40, "temperature": 1.0, "seed": 2, "n": 4})
    (expected,) = alone(engine, [request])
    assert len({len(tokens) for _, tokens, _, _ in expected}) > 1  # they do end apart
    finished = list(engine.submit(TOK.encode(request[0]), **request[1]).each())
    assert sorted(index for index, _ in finished) == [0, 1, 2, 3]
    assert {i: outcome([g])[0] for i, g in finished} == dict(enumerate(expected))
    lengths = [len(g.token_ids) for _, g in finished]
    assert lengths == sorted(lengths)  # in the order they finished
    # closing after the first: the rest are cancelled, and the batch goes on serving
    handle = engine.submit(TOK.encode(request[0]), **request[1])
    each = handle.each()
    first_index, first = next(each)
    each.close()
    assert handle.cancelled and outcome([first])[0] == expected[first_index]
    assert alone(engine, REQUESTS[:2]) == together(engine, REQUESTS[:2])


def test_a_request_being_decoded_waits_behind_at_most_one_prefill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fairness: with many requests waiting, the batch thread decodes a step between any two
    prefills while some request is being decoded."""
    log: list[tuple[str, int]] = []
    prefill, step = Batcher._prefill, Batcher._step

    def logged_prefill(self: Batcher, *args: object) -> object:
        log.append(("prefill", len(self._rows)))
        return prefill(self, *args)  # type: ignore[arg-type]

    def logged_step(self: Batcher) -> None:
        log.append(("step", len(self._rows)))
        step(self)

    monkeypatch.setattr(Batcher, "_prefill", logged_prefill)
    monkeypatch.setattr(Batcher, "_step", logged_step)
    engine = tiny_engine(eos=frozenset())
    waiting = REQUESTS * 3
    assert len(together(engine, waiting)) == len(waiting)
    prefills = [i for i, (what, _) in enumerate(log) if what == "prefill"]
    assert len(prefills) == len(waiting)
    behind = [i for i in prefills[1:] if log[i][1] > 0 and log[i - 1][0] == "prefill"]
    assert behind == []  # rows were being decoded, and no step came between two prefills
    assert sum(1 for i in prefills if log[i][1] > 0) > len(waiting) // 2  # they did overlap


def test_the_solo_path_still_works_after_the_batch_thread_used_the_cache() -> None:
    engine = tiny_engine(eos=frozenset())
    expected = alone(engine, REQUESTS)
    together(engine, REQUESTS)
    assert alone(engine, REQUESTS) == expected


def test_a_solo_run_waits_while_the_batch_thread_decodes() -> None:
    """Both use the model's KV cache: a solo `generate` started while requests (even a
    cancelled one still stepping) are being decoded must not interleave with them."""
    engine = tiny_engine(eos=frozenset())
    expected = alone(engine, REQUESTS)
    for _ in range(3):
        busy = [engine.submit(TOK.encode(p), **kw) for p, kw in REQUESTS]
        busy[0].cancel()
        assert alone(engine, REQUESTS[2:4]) == expected[2:4]
        assert [outcome(h.result()) for h in busy[1:]] == expected[1:]


def test_the_pool_grows_while_requests_run() -> None:
    engine = tiny_engine(eos=frozenset())
    small = [("ab", {"max_tokens": 5})]
    big = [("abcdefgh", {"max_tokens": 50, "n": 4})]
    expected = alone(engine, small + big)
    assert together(engine, small) == expected[:1]
    assert together(engine, small + big) == expected


def long_engine() -> tuple[Engine, list[tuple[int, int]]]:
    """A tiny engine of 1024 positions, where requests round to different pool lengths,
    and the (rows, positions) of each pool its batch thread sets up."""
    torch.manual_seed(0)
    args = ModelArgs(
        arch="llama",
        vocab_size=96,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        head_dim=8,
        intermediate_size=64,
        max_seq_len=1024,
    )
    model = Transformer(args).eval()
    with torch.no_grad():
        model.tok_embeddings.weight.mul_(0.15)
    tokenizer = CharTokenizer()
    tokenizer.eos_ids = frozenset()
    engine = Engine(model, tokenizer, model_name="tiny")
    pools: list[tuple[int, int]] = []
    taken = engine.cache_taken

    def recorded(rows: int, length: int) -> None:
        pools.append((rows, length))
        taken(rows, length)

    engine.cache_taken = recorded  # type: ignore[method-assign]
    return engine, pools


def test_a_request_joins_only_while_the_pool_stays_within_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pool is rows * the longest row: a long request (n 1) and a wide one (n 15) once
    took 16 rows of the long one's length together. The wide one waits its turn."""
    monkeypatch.setattr(batcher, "MAX_POOL_POSITIONS_CPU", 16 * 256)
    engine, pools = long_engine()
    requests = [("x", {"max_tokens": 600}), ("ab", {"max_tokens": 3, "n": 15})]
    expected = alone(engine, requests)
    assert together(engine, requests) == expected
    assert pools == [(1, 768), (15, 256)]


def test_a_pool_longer_than_its_rows_need_is_cut_so_that_a_request_can_join(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long request that finished leaves the pool long; the next wide one joins the
    short request still decoded in a pool cut to its length, rather than wait for it."""
    monkeypatch.setattr(batcher, "MAX_POOL_POSITIONS_CPU", 16 * 256)
    engine, pools = long_engine()
    requests = [
        ("x", {"max_tokens": 200}),
        ("y" * 500, {"max_tokens": 5}),
        ("ab", {"max_tokens": 3, "n": 14}),
    ]
    expected = alone(engine, requests)
    assert together(engine, requests) == expected
    assert pools == [(1, 256), (2, 512), (15, 256)]


@pytest.mark.parametrize("args", [LLAMA, GEMMA], ids=["llama", "gemma"])
def test_the_c_decoding_step_batches_rows_at_their_own_positions(args: ModelArgs) -> None:
    """The quantized model's step in C, past Gemma's sliding window, rows of every length."""
    if cpu_kernels.kernels() is None:
        pytest.skip("no C compiler here: the kernels are not built")
    model = tiny_model(args=args)
    quantize_model(model, "int4", coded_sources(model))
    assert model.fast_step is not None
    engine = Engine(model, Chars(), model_name="tiny")
    requests = [
        ([1, 5, 9], {"max_tokens": 40}),
        ([3] * 20, {"max_tokens": 9, "n": 2}),
        ([7, 8], {"max_tokens": 30, "temperature": 0.7, "seed": 1}),
    ]
    expected = [outcome(engine.generate(ids, **kw)) for ids, kw in requests]
    handles = [engine.submit(ids, **kw) for ids, kw in requests]
    assert [outcome(h.result()) for h in handles] == expected


def test_threads_leave_the_cores_other_work_keeps_busy() -> None:
    assert cpu_threads(8, 0.3) == 8
    assert cpu_threads(8, 2.9) == 6
    assert cpu_threads(2, 3.7) == 1
    assert cpu_threads(2, 3.7, "2") == 2
    assert cpu_threads(4, 0.0, "zero") == 4


def test_each_step_leaves_a_core_to_each_run_of_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`Engine.busy_cores` (a compile's sandboxed runs) is asked before every step: the
    batch thread takes that many threads fewer, at least one, and the rows' tokens are
    what they are with every thread."""
    engine = tiny_engine(eos=frozenset())
    expected = alone(engine, REQUESTS)
    set_to: list[tuple[str, int]] = []
    original = torch.set_num_threads

    def recorded(n: int) -> None:
        set_to.append((threading.current_thread().name, n))
        original(n)

    monkeypatch.setattr(torch, "set_num_threads", recorded)
    busy = iter([0, 0, 1, 1, 3, 0] + [0] * 10_000)
    engine.busy_cores = lambda: next(busy)
    original(2)  # the batch thread starts with the threads of the thread that made it
    try:
        assert together(engine, REQUESTS) == expected
    finally:
        original(1)
    stepped = [n for name, n in set_to if name == "marshalike-batch"]
    assert stepped == [2, 1, 2]  # its own at the start, one while runs went on, two again


def test_concurrent_clients_of_the_server_share_the_batch() -> None:
    """`marshalike serve` on a real (tiny) engine: clients at once, streaming or not, each
    get what their request gives alone."""
    from serving import open_client, running

    engine = tiny_engine(eos=frozenset())
    prompts = ["def_f(x):", "abc", "long_prompt_here", "x=1", "k", "return_value_of"]
    expected = [
        alone(engine, [(p, {"max_tokens": 16 + i})])[0][0][0] for i, p in enumerate(prompts)
    ]
    texts: dict[int, str] = {}
    with running(engine) as server:
        client = open_client(server, "key", timeout=60)

        def ask(i: int) -> None:
            settings = {"model": "tiny", "prompt": prompts[i], "max_tokens": 16 + i}
            if i % 2:
                chunks = client.completions.create(**settings, temperature=0, stream=True)
                texts[i] = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
            else:
                texts[i] = client.completions.create(**settings, temperature=0).choices[0].text

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert [texts.get(i) for i in range(len(prompts))] == expected


def test_the_local_backend_gives_each_completion_as_it_finishes() -> None:
    from marshalike.backends.base import Prompt, Sampling
    from marshalike.backends.local import LocalBackend

    engine = tiny_engine(seed=3)
    engine.tokenizer = TOK  # the backend encodes a completion prompt with it
    local = LocalBackend("tiny", quant="none", loader=lambda model, quant: engine)
    prompt = Prompt("completion", text="x")
    sampling = Sampling(n=4, temperature=1.0, max_tokens=40, seed=2)
    whole = local.generate(prompt, sampling)
    found = list(local.generate_each(prompt, sampling))
    assert sorted(index for index, _ in found) == [0, 1, 2, 3]
    assert {i: c.text for i, c in found} == {i: c.text for i, c in enumerate(whole)}
    each = [c for _, c in found]
    assert [c.completion_tokens for c in each] == sorted(c.completion_tokens for c in whole)
    # the prompt was run once: the first completion carries its tokens
    assert [c.prompt_tokens for c in each] == [1, 0, 0, 0]
    assert sum(c.prompt_tokens for c in whole) == 1
    stream = local.generate_each(prompt, sampling)
    next(stream)
    stream.close()  # the rest are cancelled; the engine serves the next request
    assert local.generate(prompt, sampling) == whole


def _ended(handle: BatchRequest, timeout: float = 60) -> list[object]:
    """Every event of the request up to its end, failing (not hanging) if it never ends."""
    events: list[object] = []
    while not isinstance(item := handle.events.get(timeout=timeout), _Finished):
        events.append(item)
    return events


def _failure(handle: BatchRequest) -> BaseException:
    (failure,) = [item for item in _ended(handle) if isinstance(item, BaseException)]
    return failure


def test_a_request_that_cannot_join_fails_alone() -> None:
    """A seed past 64 bits (the server refuses it; `Engine.submit` does not) once failed
    while joining, outside the request's own error handling: every request in the batch
    failed, and it never ended."""
    engine = tiny_engine(eos=frozenset())
    expected = alone(engine, REQUESTS[:2])
    first = engine.submit(TOK.encode(REQUESTS[0][0]), **REQUESTS[0][1])
    bad = engine.submit(TOK.encode("abc"), max_tokens=5, temperature=1.0, seed=2**64)
    second = engine.submit(TOK.encode(REQUESTS[1][0]), **REQUESTS[1][1])
    assert "the seed must fit in 64 bits" in str(_failure(bad))
    assert outcome(first.result()) == expected[0]
    assert outcome(second.result()) == expected[1]


def test_a_pool_that_cannot_grow_fails_only_the_request_that_grows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of memory part way through growing the pool: the rows being decoded keep theirs."""
    engine = tiny_engine(eos=frozenset())
    (expected,) = alone(engine, REQUESTS[:1])
    setup = engine.model.setup_caches

    def out_of_memory(rows: int, length: int) -> None:
        setup(rows, length)  # the new (empty) pool is in place, then the copy fails
        if rows > 1:
            raise RuntimeError("out of memory")

    monkeypatch.setattr(engine.model, "setup_caches", out_of_memory)
    first = engine.submit(TOK.encode(REQUESTS[0][0]), **REQUESTS[0][1])
    opening = first.events.get(timeout=60)  # a first delta: it is being decoded
    grows = engine.submit(TOK.encode("abc"), max_tokens=5, n=3)
    assert str(_failure(grows)) == "out of memory"
    events = [opening, *_ended(first)]
    assert outcome([g for g in events if isinstance(g, Generation)]) == expected


def test_tiny_temperature_and_top_p_decode_greedily_beside_other_requests() -> None:
    """temperature or top_p 1e-320 once failed the batch step (IndexError, index out of
    bounds), and with it every request decoded beside them."""
    engine = tiny_engine(eos=frozenset())
    requests = [
        REQUESTS[0],
        ("abc", {"max_tokens": 7, "temperature": 1e-320, "seed": 1}),
        ("abc", {"max_tokens": 7, "temperature": 1.0, "top_p": 1e-320, "seed": 1}),
        REQUESTS[3],
    ]
    expected = alone(engine, requests)
    (greedy,) = alone(engine, [("abc", {"max_tokens": 7})])
    assert expected[1] == expected[2] == greedy
    assert together(engine, requests) == expected


def test_a_request_whose_sampling_fails_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from marshalike_runtime import batcher

    engine = tiny_engine(eos=frozenset())
    expected = alone(engine, REQUESTS[:2])
    sample = batcher.sample

    def failing(logits: torch.Tensor, **kw: Any) -> torch.Tensor:
        if kw["temperature"] == 0.5:
            raise RuntimeError("index 64 is out of bounds")
        return sample(logits, **kw)

    monkeypatch.setattr(batcher, "sample", failing)
    first = engine.submit(TOK.encode(REQUESTS[0][0]), **REQUESTS[0][1])
    bad = engine.submit(TOK.encode("abc"), max_tokens=5, n=2, temperature=0.5)
    second = engine.submit(TOK.encode(REQUESTS[1][0]), **REQUESTS[1][1])
    assert str(_failure(bad)) == "index 64 is out of bounds"
    assert outcome(first.result()) == expected[0]
    assert outcome(second.result()) == expected[1]


def test_a_request_cancelled_while_it_waits_ends() -> None:
    """A waiting request that is cancelled leaves the queue with its end, so whoever reads
    it (the server's relay thread) is not left waiting for ever."""
    engine = tiny_engine(eos=frozenset())
    full = engine.submit(TOK.encode("x"), max_tokens=60, n=16)  # every row of the pool
    waiting = engine.submit(TOK.encode("abc"), max_tokens=5)
    waiting.cancel()
    assert _ended(waiting, timeout=30) == []
    full.cancel()
    _ended(full, timeout=30)
