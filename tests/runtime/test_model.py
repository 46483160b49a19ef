"""The Transformer on tiny random weights: KV-cache decoding, masks, batching, dtypes."""

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from marshalike_runtime.model import ModelArgs, Transformer, gemma3_global_layers  # noqa: E402

TINY_GEMMA = replace(
    ModelArgs.from_name("gemma3-270m"),
    vocab_size=97,
    dim=32,
    n_layers=3,
    n_heads=4,
    n_kv_heads=2,
    head_dim=16,
    intermediate_size=48,
    sliding_window=4,
    global_layers=(1,),
    max_seq_len=64,
)
TINY_LLAMA = ModelArgs(
    arch="llama",
    vocab_size=97,
    dim=32,
    n_layers=2,
    n_heads=4,
    n_kv_heads=1,
    head_dim=8,
    intermediate_size=48,
    qkv_bias=True,
    tie_embeddings=False,
    max_seq_len=64,
)


def make_model(args: ModelArgs, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(args)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Random norms and biases too, so that a wrongly wired one shows.
            scale = 0.3 if ("norm" in name or "bias" in name) else 0.2
            p.copy_(torch.randn_like(p) * scale + (1.0 if "norm" in name else 0.0))
    return model.eval()


def tokens(n: int, batch: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 97, (batch, n), generator=torch.Generator().manual_seed(seed))


def full_logits(model: Transformer, ids: torch.Tensor) -> torch.Tensor:
    return model(ids, torch.arange(ids.shape[1]))


@pytest.mark.parametrize("args", [TINY_GEMMA, TINY_LLAMA], ids=["gemma3", "llama"])
def test_cached_decoding_equals_full_forward_at_every_position(args: ModelArgs) -> None:
    model = make_model(args)
    ids = tokens(20)
    with torch.inference_mode():
        expected = full_logits(model, ids)  # [1, 20, V]
        model.setup_caches(max_batch_size=2, max_seq_len=32)
        prefill = model(ids[:, :5], torch.arange(5))
        steps = [model(ids[:, i : i + 1], torch.tensor([i])) for i in range(5, 20)]
    got = torch.cat([prefill, *steps], dim=1)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_last_only_returns_the_last_position() -> None:
    model = make_model(TINY_GEMMA)
    ids = tokens(9, batch=2)
    with torch.inference_mode():
        full = full_logits(model, ids)
        last = model(ids, torch.arange(9), last_only=True)
    assert last.shape == (2, 1, 97)
    torch.testing.assert_close(last, full[:, -1:], atol=1e-6, rtol=1e-6)
    # With caches: the last layer still writes every position's keys and values, so the
    # steps after a last-only prompt see what a full forward sees.
    more = tokens(12, batch=2)
    more[:, :9] = ids
    with torch.inference_mode():
        expected = full_logits(model, more)
        model.setup_caches(max_batch_size=2, max_seq_len=16)
        first = model(ids, torch.arange(9), last_only=True)
        steps = [model(more[:, i : i + 1], torch.tensor([i])) for i in range(9, 12)]
    torch.testing.assert_close(first, expected[:, 8:9], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat(steps, dim=1), expected[:, 9:], atol=1e-5, rtol=1e-5)


def test_sliding_window_limits_what_local_layers_see() -> None:
    # Two local layers with a 4-token window: position p sees tokens back to p - 6.
    args = replace(TINY_GEMMA, n_layers=2, global_layers=())
    model = make_model(args)
    ids = tokens(12)
    changed = ids.clone()
    changed[0, 0] = (ids[0, 0] + 1) % 97
    with torch.inference_mode():
        diff = (full_logits(model, ids) - full_logits(model, changed)).abs().amax(-1)[0]
    assert diff[6] > 1e-4
    assert diff[7:].max() == 0


def test_global_layer_sees_the_whole_prefix() -> None:
    model = make_model(TINY_GEMMA)  # layer 1 is global
    ids = tokens(12)
    changed = ids.clone()
    changed[0, 0] = (ids[0, 0] + 1) % 97
    with torch.inference_mode():
        diff = (full_logits(model, ids) - full_logits(model, changed)).abs().amax(-1)[0]
    assert diff[11] > 1e-4


def test_copied_prefill_rows_decode_like_single_sequences() -> None:
    model = make_model(TINY_GEMMA)
    prompt, nexts = tokens(6), torch.tensor([[3], [50], [96]])
    with torch.inference_mode():
        singles = [full_logits(model, torch.cat([prompt, n[None]], 1))[:, -1] for n in nexts]
        model.setup_caches(max_batch_size=3, max_seq_len=16)
        model(prompt, torch.arange(6))
        for cache in model.caches():
            for buf in (cache.k_cache, cache.v_cache):
                buf[1:3, :, :6] = buf[0:1, :, :6]
        batched = model(nexts, torch.tensor([6]), last_only=True)[:, -1]
    torch.testing.assert_close(batched, torch.cat(singles), atol=1e-5, rtol=1e-5)


def test_positions_past_the_cache_are_refused() -> None:
    model = make_model(TINY_LLAMA)
    model.setup_caches(max_batch_size=1, max_seq_len=4)
    with pytest.raises(ValueError) as err, torch.inference_mode():
        model(tokens(2), torch.tensor([3, 4]))
    assert str(err.value) == "position 4 is past the KV cache (4 positions)"
    model.release_caches()
    assert model.caches() == []
    assert model(tokens(6), torch.arange(6)).shape == (1, 6, 97)


def test_caches_shape_and_dtype_follow_the_model() -> None:
    model = make_model(TINY_LLAMA).to(torch.bfloat16)
    model.setup_caches(max_batch_size=3, max_seq_len=40)
    caches = model.caches()
    assert len(caches) == TINY_LLAMA.n_layers
    assert caches[0].k_cache.shape == (3, 1, 40, 8)  # [B, H_kv, S_max, D]
    assert caches[0].v_cache.dtype == torch.bfloat16


def test_bf16_logits_are_float32_and_close_to_fp32() -> None:
    model = make_model(TINY_GEMMA)
    ids = tokens(10)
    with torch.inference_mode():
        ref = full_logits(model, ids)
        low = full_logits(model.to(torch.bfloat16), ids)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, ref, atol=0.1, rtol=0.05)


def test_tied_head_shares_the_embedding() -> None:
    model = Transformer(TINY_GEMMA)
    assert model.output.weight is model.tok_embeddings.weight
    assert (
        Transformer(TINY_LLAMA).output.weight is not Transformer(TINY_LLAMA).tok_embeddings.weight
    )


def test_config_table() -> None:
    gemma = ModelArgs.from_name("gemma3-270m")
    assert gemma.global_layers == (5, 11, 17) == gemma3_global_layers(18)
    assert [gemma.is_local(i) for i in (0, 4, 5, 6, 17)] == [True, True, False, True, False]
    assert gemma.attn_scale == 256**-0.5
    assert gemma.eos_ids == (1, 106)
    assert ModelArgs.from_name("gemma3-270m", n_layers=6).n_layers == 6
    with pytest.raises(KeyError) as err:
        ModelArgs.from_name("gpt-5")
    assert err.value.args[0] == "unknown model config 'gpt-5' (known: gemma3-270m, smollm2-135m)"


@pytest.mark.parametrize("name", ["gemma3-270m", "smollm2-135m"])
def test_model_args_survive_json(name: str) -> None:
    """The int4 cache stores them so that a load need not open the GGUF."""
    args = ModelArgs.from_name(name)
    assert ModelArgs.from_json(args.to_json()) == args
    assert ModelArgs.from_json(args.to_json()).global_layers == args.global_layers


def test_model_args_from_another_version_are_refused() -> None:
    text = ModelArgs.from_name("gemma3-270m").to_json()
    with pytest.raises(ValueError, match="not the model arguments of this version"):
        ModelArgs.from_json(text[:-1] + ', "new_field": 1}')
    with pytest.raises(ValueError, match="incomplete model arguments"):
        ModelArgs.from_json('{"arch": "gemma3"}')
    with pytest.raises(ValueError):
        ModelArgs.from_json("[1, 2]")
