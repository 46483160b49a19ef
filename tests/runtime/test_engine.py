"""The engine's control flow on a tiny random model (fast), and on the embedded model (slow)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

torch = pytest.importorskip("torch")

from marshalike_runtime.engine import (  # noqa: E402
    ContextLengthError,
    Engine,
    Generation,
    _Candidate,
)
from marshalike_runtime.model import ModelArgs, Transformer  # noqa: E402

EOS = 94
# benchmarks/gpu_check.sh runs these tests with MARSHALIKE_TEST_DEVICE=cuda.
DEVICE = os.environ.get("MARSHALIKE_TEST_DEVICE", "cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matmuls gain nothing from threads, and lose a lot when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class CharTokenizer:
    """Ids 0..93 are the printable ASCII characters '!'..'~'; 94 is EOS."""

    eos_ids = frozenset({EOS})

    def encode(self, text: str) -> list[int]:
        return [ord(ch) - 33 for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(chr(33 + i) if i < EOS else "" for i in ids)


def tiny_engine(seed: int = 0, eos: frozenset[int] = frozenset({EOS})) -> Engine:
    torch.manual_seed(seed)
    args = ModelArgs(
        arch="llama",
        vocab_size=96,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        head_dim=8,
        intermediate_size=64,
        max_seq_len=64,
    )
    model = Transformer(args).eval().to(DEVICE)
    with torch.no_grad():
        # Default init ties huge logits to the input token; flatten them so sampling varies.
        model.tok_embeddings.weight.mul_(0.15)
    tokenizer = CharTokenizer()
    tokenizer.eos_ids = eos
    return Engine(model, tokenizer, model_name="tiny", chat=JoinChat())


class JoinChat:
    """A chat format joining message contents with '|' (which it also stops on)."""

    stop = ("|",)

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        return "|".join(m["content"] for m in messages)

    def encode(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return CharTokenizer().encode(self.render(messages))


PROMPT = CharTokenizer().encode("def_f(x):")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return tiny_engine(eos=frozenset())


def test_greedy_batch_equals_single_generations(engine: Engine) -> None:
    single = engine.generate(PROMPT, max_tokens=20)[0]
    batch = engine.generate(PROMPT, n=4, max_tokens=20)
    assert [g.token_ids for g in batch] == [single.token_ids] * 4
    assert single == Generation(single.text, single.token_ids, "length", len(PROMPT), 20)
    assert single.text == CharTokenizer().decode(single.token_ids)


def test_decoding_matches_a_full_forward_at_every_step(engine: Engine) -> None:
    out = engine.generate(PROMPT, max_tokens=8)[0].token_ids
    model = engine.model
    for step in range(8):
        seq = torch.tensor([PROMPT + out[:step]])
        model_no_cache = Transformer(model.args).to(DEVICE)
        model_no_cache.load_state_dict(model.state_dict())
        positions = torch.arange(seq.shape[1], device=DEVICE)
        logits = model_no_cache.eval()(seq.to(DEVICE), positions)[0, -1]
        assert int(logits.argmax()) == out[step]


def test_a_seed_repeats_and_another_seed_differs(engine: Engine) -> None:
    def run(seed: int) -> list[list[int]]:
        gens = engine.generate(PROMPT, n=3, max_tokens=12, temperature=1.0, seed=seed)
        return [g.token_ids for g in gens]

    first = run(1)
    assert run(1) == first
    assert run(2) != first
    assert len({tuple(ids) for ids in first}) > 1  # candidates of one request differ


def test_top_k_one_is_greedy(engine: Engine) -> None:
    greedy = engine.generate(PROMPT, max_tokens=10)[0].token_ids
    sampled = engine.generate(PROMPT, max_tokens=10, temperature=0.7, top_k=1, seed=3)
    assert sampled[0].token_ids == greedy


def test_stop_string_cuts_the_text_before_it(engine: Engine) -> None:
    full = engine.generate(PROMPT, max_tokens=20)[0]
    stop = full.text[5:7]
    at = full.text.find(stop)
    out = engine.generate(PROMPT, max_tokens=20, stop=[stop, "never-there"])[0]
    assert out.text == full.text[:at]
    assert out.finish_reason == "stop"
    # Sampling ran up to the token that completed the stop string, not further.
    assert out.token_ids == full.token_ids[: at + len(stop)]
    assert out.completion_tokens == at + len(stop)
    # One string works like a list of one; empty stop strings are ignored.
    assert engine.generate(PROMPT, max_tokens=20, stop=stop)[0] == out
    assert engine.generate(PROMPT, max_tokens=20, stop=["", stop])[0] == out


def test_max_tokens_bounds_the_completion(engine: Engine) -> None:
    out = engine.generate(PROMPT, n=2, max_tokens=3)
    assert [(len(g.token_ids), g.completion_tokens, g.finish_reason) for g in out] == [
        (3, 3, "length"),
        (3, 3, "length"),
    ]


def test_eos_stops_and_is_not_in_the_text() -> None:
    reference = tiny_engine(eos=frozenset()).generate(PROMPT, max_tokens=12)[0].token_ids
    eos = reference[4]
    first = reference.index(eos)
    out = tiny_engine(eos=frozenset({eos})).generate(PROMPT, max_tokens=12)[0]
    assert out.token_ids == reference[: first + 1]
    assert out.finish_reason == "stop"
    assert out.text == CharTokenizer().decode(reference[:first])


def test_finished_candidates_leave_the_batch_without_changing_the_others() -> None:
    eng = tiny_engine(seed=5, eos=frozenset())
    sampled = eng.generate(PROMPT, n=6, max_tokens=16, temperature=1.5, seed=11)
    ends = {g.token_ids[3] for g in sampled}
    stop_eng = tiny_engine(seed=5, eos=frozenset(ends))
    stopped = stop_eng.generate(PROMPT, n=6, max_tokens=16, temperature=1.5, seed=11)
    for full, cut in zip(sampled, stopped, strict=True):
        assert cut.finish_reason == "stop"
        assert full.token_ids[: len(cut.token_ids)] == cut.token_ids


def test_context_is_clamped_and_checked(engine: Engine) -> None:
    long_prompt = PROMPT * 7  # 63 of 64 positions
    out = engine.generate(long_prompt, max_tokens=10)[0]
    assert (out.completion_tokens, out.finish_reason) == (1, "length")
    with pytest.raises(ContextLengthError) as err:
        engine.generate(PROMPT * 8)
    assert str(err.value) == (
        "the prompt has 72 tokens but the context of tiny holds 64, "
        "including at least one generated token"
    )
    with pytest.raises(ValueError, match=r"^the prompt is empty: give at least one token$"):
        engine.generate([])
    with pytest.raises(ValueError, match=r"^max_tokens must be >= 1, got 0$"):
        engine.generate(PROMPT, max_tokens=0)


def test_stream_deltas_concatenate_to_the_final_texts(engine: Engine) -> None:
    items = list(engine.stream(PROMPT, n=3, max_tokens=15, temperature=1.0, seed=4, stop=["a"]))
    finals = [i for i in items if isinstance(i, Generation)]
    deltas = [i for i in items if not isinstance(i, Generation)]
    assert items[-3:] == finals
    for index, final in enumerate(finals):
        assert "".join(d for i, d in deltas if i == index) == final.text
    again = engine.generate(PROMPT, n=3, max_tokens=15, temperature=1.0, seed=4, stop=["a"])
    assert again == finals


def test_chat_delegates_to_the_template() -> None:
    eng = tiny_engine()
    messages = [{"role": "user", "content": "a"}, {"role": "x", "content": "b"}]
    assert eng.render_chat(messages) == "a|b"
    assert eng.encode_chat(messages) == [64, 91, 65]
    assert eng.chat_stop == ("|",)
    bare = Engine(eng.model, eng.tokenizer, model_name="bare")
    with pytest.raises(ValueError, match=r"^model bare has no chat template$"):
        bare.render_chat(messages)


def utf8_candidate(stop: tuple[str, ...] = ()) -> _Candidate:
    return _Candidate(lambda ids: bytes(ids).decode("utf-8", "replace"), frozenset({0}), stop)


def test_candidate_holds_back_incomplete_utf8() -> None:
    cand = utf8_candidate()
    euro = "€".encode()  # three bytes
    assert [cand.add(b, last=False) for b in b"a" + euro] == ["a", "", "", "€"]


def test_candidate_holds_back_a_possible_stop_string() -> None:
    cand = utf8_candidate(stop=("\n\n",))
    deltas = [cand.add(b, last=False) for b in b"x\ny\n"]
    assert deltas == ["x", "", "\ny", ""]
    assert cand.add(ord("\n"), last=False) == ""
    assert (cand.text, cand.finish_reason) == ("x\ny", "stop")


def test_candidate_flushes_held_text_at_the_length_limit() -> None:
    cand = utf8_candidate(stop=("ab",))
    assert cand.add(ord("a"), last=False) == ""
    assert cand.add(ord("z"), last=False) == "az"
    assert cand.add(ord("a"), last=True) == "a"
    assert (cand.text, cand.finish_reason) == ("aza", "length")


# --- the embedded model (slow: loaded once per session by conftest's `gemma_model`) ------


@pytest.fixture(scope="module")
def gemma(gemma_model, embedded_gguf) -> Engine:
    model, metadata = gemma_model
    return Engine.from_checkpoint(model, embedded_gguf, metadata)


CODE_PROMPT = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'


@pytest.mark.slow
def test_embedded_greedy_batch_equals_single_generations(gemma: Engine) -> None:
    ids = gemma.tokenizer.encode(CODE_PROMPT)
    single = gemma.generate(ids, max_tokens=24)[0]
    batch = gemma.generate(ids, n=3, max_tokens=24)
    assert [g.token_ids for g in batch] == [single.token_ids] * 3
    assert single.text == gemma.tokenizer.decode(single.token_ids)
    assert single.prompt_tokens == len(ids)


@pytest.mark.slow
def test_embedded_seeds_stops_and_limits(gemma: Engine) -> None:
    ids = gemma.tokenizer.encode(CODE_PROMPT)

    def sampled(seed: int) -> list[Generation]:
        return gemma.generate(ids, n=2, max_tokens=12, temperature=1.0, top_p=0.95, seed=seed)

    first = sampled(3)
    assert sampled(3) == first
    assert sampled(4) != first
    stopped = gemma.generate(ids, max_tokens=48, stop=["\n"])[0]
    assert stopped.finish_reason == "stop" and "\n" not in stopped.text
    assert stopped.text == gemma.tokenizer.decode(stopped.token_ids).split("\n")[0]
    limited = gemma.generate(ids, max_tokens=5)[0]
    assert (limited.completion_tokens, limited.finish_reason) == (5, "length")


@pytest.mark.slow
def test_embedded_eos_ends_a_generation(gemma: Engine) -> None:
    # Declare the first token the model emits an EOS: generation must end on it at once.
    ids = gemma.tokenizer.encode("The capital of France is")
    first = gemma.generate(ids, max_tokens=1)[0].token_ids[0]
    eos_before = gemma.eos_ids
    gemma.eos_ids = eos_before | {first}
    try:
        out = gemma.generate(ids, max_tokens=8)[0]
    finally:
        gemma.eos_ids = eos_before
    assert (out.text, out.token_ids, out.finish_reason) == ("", [first], "stop")
    assert 1 in gemma.eos_ids and 106 in gemma.eos_ids


@pytest.mark.slow
def test_embedded_chat_template_is_the_plain_one(gemma: Engine) -> None:
    messages = [{"role": "user", "content": "Write add(a, b)."}]
    assert gemma.render_chat(messages) == "<bos>User: Write add(a, b).\n\nAssistant:"
    assert gemma.encode_chat(messages)[0] == 2  # <bos> as the control token, once
    assert gemma.chat_stop == ("\nUser:", "\nSystem:")


def test_the_kv_cache_is_reused_grown_and_released() -> None:
    eng = tiny_engine(eos=frozenset())

    def shape() -> tuple[int, int]:
        k = eng.model.caches()[0].k_cache
        return k.shape[0], k.shape[2]

    eng.generate(PROMPT, n=2, max_tokens=4)
    assert shape() == (2, 64)  # 13 positions, rounded up, capped at the context
    first = eng.model.caches()[0].k_cache
    eng.generate(PROMPT, n=1, max_tokens=4)
    assert eng.model.caches()[0].k_cache is first  # 2 x 64 is within 4 x (1 x 64)
    eng.generate(PROMPT, n=5, max_tokens=4)
    assert shape() == (5, 64)
    eng.generate(PROMPT, n=1, max_tokens=4)
    assert shape() == (1, 64)  # 5 x 64 is more than four times 1 x 64
