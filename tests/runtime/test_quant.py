import numpy as np
import pytest

torch = pytest.importorskip("torch")
gguf_quants = pytest.importorskip("gguf.quants")

from gguf import GGMLQuantizationType  # noqa: E402
from torch import nn  # noqa: E402

from marshalike_runtime.blocks import Groups, q4_k_groups, q8_0_groups  # noqa: E402
from marshalike_runtime.engine import Engine  # noqa: E402
from marshalike_runtime.model import ModelArgs, Transformer  # noqa: E402
from marshalike_runtime.quant import (  # noqa: E402
    HalfLinear,
    Int4Linear,
    Int8Table,
    QuantError,
    ScreenedHead,
    TiedEmbedding,
    apply_plan,
    check_supported,
    minmax_int4,
    quantize_model,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matmuls gain nothing from threads, and lose a lot when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_model(seed: int = 0, vocab: int = 320) -> Transformer:
    torch.manual_seed(seed)
    args = ModelArgs(
        arch="llama",
        vocab_size=vocab,
        dim=64,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        head_dim=16,
        intermediate_size=128,
        max_seq_len=64,
        qkv_bias=True,
    )
    model = Transformer(args).eval().requires_grad_(False)
    with torch.no_grad():
        model.tok_embeddings.weight.mul_(0.1)
    return model


# --- the file's own blocks ---------------------------------------------------------------


def random_blocks(rng: np.random.Generator, rows: int, block_bytes: int, per_row: int) -> bytes:
    """Random quantized blocks whose fp16 scales (the first 2 or 4 bytes) are finite."""
    raw = rng.integers(0, 256, size=(rows * per_row, block_bytes), dtype=np.uint8)
    n_scales = 2 if block_bytes == 144 else 1
    scales = rng.uniform(0.001, 0.05, size=(rows * per_row, n_scales)).astype(np.float16)
    raw[:, : 2 * n_scales] = scales.view(np.uint8).reshape(rows * per_row, 2 * n_scales)
    return raw.reshape(rows, per_row * block_bytes)


@pytest.mark.parametrize(
    ("read", "qtype", "block_bytes", "weights_per_block"),
    [(q4_k_groups, "Q4_K", 144, 256), (q8_0_groups, "Q8_0", 34, 32)],
)
def test_block_codes_reproduce_gguf_dequantize_bit_for_bit(
    read, qtype: str, block_bytes: int, weights_per_block: int
) -> None:
    rng = np.random.default_rng(0)
    rows, cols = 6, 512
    raw = random_blocks(rng, rows, block_bytes, cols // weights_per_block)
    expected = gguf_quants.dequantize(raw, GGMLQuantizationType[qtype]).reshape(rows, cols)
    groups = read(raw)
    assert groups.codes.shape == (rows, cols) and groups.scale.shape == (rows, cols // 32)
    np.testing.assert_array_equal(groups.dequantize(), expected)
    if qtype == "Q4_K":
        assert groups.codes.dtype == np.uint8 and int(groups.codes.max()) <= 15
    else:
        assert groups.codes.dtype == np.int8 and groups.low is None


# --- modules -------------------------------------------------------------------------------


def q4_groups(rows: int, cols: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 16, (rows, cols), generator=g, dtype=torch.uint8)
    scale = torch.rand(rows, cols // 32, generator=g) * 0.02
    low = -torch.rand(rows, cols // 32, generator=g) * 0.1
    return codes, scale, low


def exact_weight(codes, scale, low) -> torch.Tensor:
    return Groups(codes.numpy(), scale.numpy(), low.numpy()).dequantize()


def test_int4_linear_kernel_follows_the_affine_groups_and_prompts_are_exact() -> None:
    codes, scale, low = q4_groups(96, 128)
    bias = torch.randn(96)
    layer = Int4Linear.from_codes(codes, scale, low, bias)
    weight = torch.from_numpy(exact_weight(codes, scale, low))
    x = torch.randn(2, 3, 128)  # 6 rows: the kernel (bf16 activations and scales)
    expected = x @ weight.T + bias
    out = layer(x)
    assert out.shape == (2, 3, 96) and out.dtype == torch.float32
    assert float((out - expected).norm() / expected.norm()) < 1e-2
    prompt = torch.randn(40, 128)  # over 16 rows: fp32 with the exact weights
    torch.testing.assert_close(layer(prompt), prompt @ weight.T + bias)
    torch.testing.assert_close(layer.weight(), weight)


def test_minmax_int4_spans_each_group() -> None:
    torch.manual_seed(0)
    w = torch.randn(10, 64) * 3
    codes, scale, low = minmax_int4(w, chunk_rows=3)
    back = torch.from_numpy(exact_weight(codes, scale, low))
    step = scale.repeat_interleave(32, dim=1)
    assert bool(((back - w).abs() <= step / 2 + 1e-5).all())
    assert int(codes.min()) == 0 and int(codes.max()) == 15


def test_half_linear_rounds_weights_to_fp16_only() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(64, 32).requires_grad_(False)
    layer = HalfLinear(linear.weight.detach(), linear.bias.detach())
    x = torch.randn(4, 64)
    expected = linear(x)
    assert layer.weight.dtype == torch.float16
    assert float((layer(x) - expected).abs().max()) < 2e-2
    prompt = torch.randn(20, 64)  # fp32 product of the fp16-rounded weight
    torch.testing.assert_close(layer(prompt), prompt @ linear.weight.half().float().T + linear.bias)


def test_int8_table_rows_are_exact_for_q8_0_codes() -> None:
    rng = np.random.default_rng(1)
    groups = q8_0_groups(random_blocks(rng, 40, 34, 2))  # 40 rows of 64
    table = Int8Table(torch.from_numpy(groups.codes), torch.from_numpy(groups.scale))
    ids = torch.tensor([[0, 39, 7]])
    expected = torch.from_numpy(groups.dequantize())[ids]
    assert torch.equal(table(ids), expected)


def test_screened_head_rescores_its_candidates_exactly() -> None:
    torch.manual_seed(0)
    weight = torch.randn(320, 64)
    table = Int8Table.from_float(weight)
    head = ScreenedHead(Int4Linear.from_float(weight), table, candidates=8)
    x = torch.randn(3, 64)
    logits = head(x)
    exact = x @ table.rows(torch.arange(320)).T
    candidates = head.approx(x).topk(8, dim=-1).indices
    torch.testing.assert_close(logits.gather(1, candidates), exact.gather(1, candidates))
    others = torch.ones_like(logits, dtype=torch.bool).scatter_(1, candidates, False)
    torch.testing.assert_close(logits[others], head.approx(x)[others])  # approximate
    assert logits.argmax(-1).tolist() == exact.argmax(-1).tolist()


# --- whole models --------------------------------------------------------------------------


def test_quantize_model_uses_q4_k_codes_and_ties_the_embedding_to_the_head() -> None:
    model = tiny_model()
    codes, scale, low = q4_groups(64, 64, seed=3)
    sources = {"layers.0.attention.wo.weight": Groups(codes.numpy(), scale.numpy(), low.numpy())}
    plan = quantize_model(model, "int4", sources)
    assert plan["layers.0.attention.wo"] == "int4" and plan["layers.1.attention.wo"] == "half"
    assert plan["output"] == "head" and plan["tok_embeddings"] == "tied"
    wo = model.layers[0].attention.wo
    assert isinstance(wo, Int4Linear) and torch.equal(wo.codes, codes)
    assert isinstance(model.layers[1].feed_forward.w2, HalfLinear)
    assert isinstance(model.tok_embeddings, TiedEmbedding)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    # One table in the state, read by both the embedding and the head.
    assert "output.table.codes" in model.state_dict()
    assert not any(k.startswith("tok_embeddings") for k in model.state_dict())


def test_a_saved_quantized_state_rebuilds_the_same_model_from_its_plan() -> None:
    model = tiny_model()
    plan = quantize_model(model, "int4")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.device("meta"):
        rebuilt = Transformer(model.args)
    apply_plan(rebuilt, plan)
    rebuilt.load_state_dict(state, strict=True, assign=True)
    tokens, pos = torch.tensor([[1, 7, 42, 9, 250]]), torch.arange(5)
    torch.testing.assert_close(rebuilt.eval()(tokens, pos), model(tokens, pos))


def test_quantized_logits_stay_close_to_float() -> None:
    tokens, pos = torch.tensor([[1, 7, 42, 9, 250]]), torch.arange(5)
    expected = tiny_model()(tokens, pos)
    model = tiny_model()
    quantize_model(model)
    out = model(tokens, pos)
    assert out.dtype == torch.float32
    # The head's approximate logits (tokens outside its candidates) are 4-bit; the best
    # tokens are exact, so the choice agrees.
    assert float((out - expected).norm() / expected.norm()) < 0.1
    assert out.argmax(-1).tolist() == expected.argmax(-1).tolist()


def test_unknown_mode_and_devices_without_the_kernel_are_refused() -> None:
    with pytest.raises(QuantError) as err:
        check_supported("int3", torch.device("cpu"))
    assert str(err.value) == "unknown quantization mode 'int3'; expected one of ('int4',)"
    with pytest.raises(QuantError) as err:
        check_supported("int4", torch.device("cuda"))
    assert str(err.value).startswith("quantization mode 'int4' runs on CPU with torch's int4")


class Chars:
    eos_ids = frozenset()

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(65 + i % 26) for i in ids)


def test_engine_runs_a_quantized_model_with_float_caches() -> None:
    model = tiny_model()
    quantize_model(model)
    engine = Engine(model, Chars(), model_name="tiny-int4")
    out = engine.generate([1, 2, 3], n=3, max_tokens=6)
    assert [len(g.token_ids) for g in out] == [6, 6, 6]
    assert all(c.k_cache.dtype == torch.float32 for c in engine.model.caches())
