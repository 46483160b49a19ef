import pytest

torch = pytest.importorskip("torch")

from marshalike_runtime.sampling import (  # noqa: E402
    apply_temperature,
    candidate_generators,
    greedy,
    make_generator,
    nucleus,
    sample,
    top_k_filter,
    top_p_filter,
)

NEG = float("-inf")


def test_greedy_takes_the_argmax_of_each_row() -> None:
    logits = torch.tensor([[0.1, 2.0, -1.0], [5.0, 0.0, 4.9]])
    assert greedy(logits).tolist() == [1, 0]
    assert sample(logits, temperature=0.0).tolist() == [1, 0]


def test_greedy_takes_the_first_of_equal_best_tokens_with_our_kernel_or_torchs(
    monkeypatch,
) -> None:
    from marshalike_runtime import sampling

    logits = torch.randn(4, 70_001, generator=make_generator(2))
    logits[0, [10, 20_000]] = 100.0  # a tie: the first
    logits[1, -1] = 100.0  # in the row's unaligned tail
    logits[2] = 1.0  # all equal
    want = [10, 70_000, 0, int(torch.argmax(logits[3]))]
    assert greedy(logits).tolist() == want
    monkeypatch.setattr(sampling, "kernels", lambda: None)
    assert greedy(logits).tolist() == want


def test_temperature_divides_in_float32() -> None:
    logits = torch.tensor([[2.0, -4.0]], dtype=torch.bfloat16)
    scaled = apply_temperature(logits, 0.5)
    assert scaled.dtype == torch.float32
    assert scaled.tolist() == [[4.0, -8.0]]


def test_temperature_must_be_positive_to_scale() -> None:
    with pytest.raises(ValueError, match=r"^temperature must be > 0 to scale logits, got 0$"):
        apply_temperature(torch.zeros(1, 2), 0)
    with pytest.raises(ValueError, match=r"^temperature must be >= 0, got -1.0$"):
        sample(torch.zeros(1, 2), temperature=-1.0)


def test_top_k_keeps_the_k_best_per_row() -> None:
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0], [9.0, 8.0, 7.0, 6.0]])
    out = top_k_filter(logits, 2)
    assert out.tolist() == [[NEG, 4.0, 3.0, NEG], [9.0, 8.0, NEG, NEG]]
    assert top_k_filter(logits, 0) is logits
    assert top_k_filter(logits, 4) is logits


def test_top_p_keeps_the_smallest_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    out = top_p_filter(probs.log(), 0.75)
    # 0.5 alone is below 0.75, 0.5 + 0.3 reaches it: two tokens survive.
    assert torch.isfinite(out).tolist() == [[True, True, False, False]]
    assert torch.isfinite(top_p_filter(probs.log(), 0.79)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(top_p_filter(probs.log(), 0.81)).tolist() == [[True, True, True, False]]


def test_top_p_always_keeps_the_best_token_and_respects_order() -> None:
    logits = torch.tensor([[0.0, 10.0, 1.0]])
    assert torch.isfinite(top_p_filter(logits, 0.01)).tolist() == [[False, True, False]]
    with pytest.raises(ValueError, match=r"^top_p must be in \(0, 1\], got 0.0$"):
        top_p_filter(logits, 0.0)


def test_filters_do_not_modify_their_input() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    top_k_filter(logits, 1)
    top_p_filter(logits, 0.1)
    assert logits.tolist() == [[1.0, 2.0, 3.0]]


def test_a_seed_repeats_its_samples_and_another_seed_differs() -> None:
    logits = torch.zeros(4, 1000)

    def draw(seed: int) -> list[int]:
        return sample(logits, temperature=1.0, generator=make_generator(seed)).tolist()

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_sampling_only_draws_from_the_filtered_set() -> None:
    logits = torch.tensor([[0.0, 0.1, 0.2, 5.0, 4.0]]).repeat(200, 1)
    drawn = sample(logits, temperature=2.0, top_k=2, generator=make_generator(0))
    assert set(drawn.tolist()) == {3, 4}
    drawn = sample(logits, temperature=1.0, top_p=0.5, generator=make_generator(0))
    assert set(drawn.tolist()) == {3}


def test_per_row_generators_make_each_row_independent_of_the_others() -> None:
    logits = torch.zeros(3, 1000)
    three = sample(logits, temperature=1.0, generator=candidate_generators(5, 3))
    gens = candidate_generators(5, 3)
    last_alone = sample(logits[:1], temperature=1.0, generator=gens[2:])
    assert last_alone.tolist() == three[2:].tolist()
    assert len(set(three.tolist())) == 3
    with pytest.raises(ValueError, match=r"^got 2 generators for 3 rows$"):
        sample(logits, temperature=1.0, generator=gens[:2])


def test_zero_probability_tokens_are_never_drawn() -> None:
    logits = torch.tensor([[0.0, float("-inf"), 0.0, float("-inf")]])
    gen = make_generator(0)
    drawn = {int(sample(logits, temperature=1.0, generator=gen)) for _ in range(300)}
    assert drawn == {0, 2}


def _sorted_nucleus(logits: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition, by a full sort in float64: which tokens top-p keeps, and which lie
    so close to the edge (mass before them within 1e-5 of p) that float32 rounding, which
    differs between CPUs' vectorised sums, may put them either side."""
    ordered, order = torch.sort(logits.double(), dim=-1, descending=True)
    probs = torch.softmax(ordered, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs
    drop, edge = before >= p, (before - p).abs() < 1e-5
    kept = ~torch.zeros_like(drop).scatter(-1, order, drop)
    return kept, torch.zeros_like(edge).scatter(-1, order, edge)


@pytest.mark.parametrize("scale", [30.0, 8.0, 3.0, 0.5, 0.0001])
def test_top_p_sorts_only_as_wide_as_the_nucleus_and_keeps_what_a_full_sort_keeps(
    scale: float,
) -> None:
    # Sharp rows end inside the first top-k, flat ones need the wider ones or the full sort.
    gen = make_generator(3)
    logits = torch.randn(3, 20_000, generator=gen) * scale
    for p in (0.5, 0.95):
        kept = torch.isfinite(top_p_filter(logits, p))
        expected, edge = _sorted_nucleus(logits, p)
        assert torch.equal(kept[~edge], expected[~edge])
        assert int(edge.sum()) <= 3  # at most a token a row is too close to call
        assert torch.equal(top_p_filter(logits, p)[kept], logits[kept])


def test_top_p_sampling_draws_in_proportion_inside_the_nucleus() -> None:
    # Probabilities 0.4, 0.3, 0.2 are the nucleus of p=0.85; the 0.1 tail never appears.
    logits = torch.tensor([[0.2, 0.4, 0.1, 0.3]]).log().repeat(4000, 1)
    drawn = sample(logits, temperature=1.0, top_p=0.85, generator=make_generator(1))
    counts = torch.bincount(drawn, minlength=4).tolist()
    assert counts[2] == 0
    shares = [c / 4000 for c in counts]
    # Renormalised over 0.9 of the mass: 0.222, 0.444, 0, 0.333 (binomial sd < 0.008).
    assert shares == pytest.approx([0.2 / 0.9, 0.4 / 0.9, 0.0, 0.3 / 0.9], abs=0.03)


def test_each_row_widens_its_own_nucleus_and_the_kernel_keeps_what_torch_keeps(
    monkeypatch,
) -> None:
    from marshalike_runtime import sampling

    gen = make_generator(5)
    # A sharp row, a flat one (its nucleus needs thousands of tokens) and a middling one.
    logits = torch.randn(3, 50_000, generator=gen) * torch.tensor([[30.0], [0.01], [2.0]])
    fast_values, fast_ids = nucleus(logits, 0.95)
    kept = torch.isfinite(fast_values).sum(-1).tolist()
    assert kept[0] < 64 < kept[2] < kept[1]
    assert torch.equal(logits.gather(1, fast_ids)[torch.isfinite(fast_values)],
                       fast_values[torch.isfinite(fast_values)])  # fmt: skip
    monkeypatch.setattr(sampling, "kernels", lambda: None)  # torch's own passes
    torch_values, torch_ids = nucleus(logits, 0.95)
    assert torch.isfinite(torch_values).sum(-1).tolist() == kept
    width = torch_values.shape[-1]
    assert torch.equal(fast_values[:, :width], torch_values)
    for row, n in enumerate(kept):
        assert set(fast_ids[row, :n].tolist()) == set(torch_ids[row, :n].tolist())
    # Alone, each row gets what it gets beside the others.
    for row in range(3):
        alone, ids = nucleus(logits[row : row + 1], 0.95)
        assert torch.equal(alone[0, : kept[row]], torch_values[row, : kept[row]])


def test_a_temperature_too_small_for_float32_samples_greedily() -> None:
    """Logits divided by 1e-320 overflow to infinity (once an IndexError from the draw): the
    limit of a falling temperature is greedy, with or without a nucleus, row by row."""
    torch.manual_seed(0)
    logits = torch.randn(3, 1000) * 5
    best = greedy(logits).tolist()
    for top_p in (1.0, 0.9, 1e-320):
        drawn = sample(logits, temperature=1e-320, top_p=top_p, generator=make_generator(1))
        assert drawn.tolist() == best
    # a row of small logits does not overflow: it is still sampled, beside one that does
    mixed = torch.stack([torch.full((1000,), 1e-3), logits[0] * 1e4])
    gens = candidate_generators(3, 2)
    drawn = sample(mixed, temperature=1e-35, generator=gens)
    assert drawn[1] == best[0]
    assert drawn[0] == sample(mixed[:1], temperature=1e-35, generator=candidate_generators(3, 1))


def test_a_top_p_too_small_for_float32_keeps_the_best_token() -> None:
    """1e-320 is 0 in float32, where every token's mass before it "reaches" it: the best token
    must still survive (once an index past the nucleus)."""
    torch.manual_seed(0)
    logits = torch.randn(3, 1000)
    values, ids = nucleus(logits, 1e-320)
    assert ids[:, 0].tolist() == greedy(logits).tolist()
    assert torch.isfinite(values).sum(dim=-1).tolist() == [1, 1, 1]
    drawn = sample(logits, temperature=1.0, top_p=1e-320, generator=make_generator(0))
    assert drawn.tolist() == greedy(logits).tolist()


def test_a_seed_past_64_bits_is_refused_clearly() -> None:
    for seed in (2**64 - 1, -(2**63)):
        assert len(candidate_generators(seed, 2)) == 2
    for seed in (2**64, -(2**63) - 1):
        with pytest.raises(ValueError, match=r"^the seed must fit in 64 bits, signed or unsigned"):
            candidate_generators(seed, 2)
