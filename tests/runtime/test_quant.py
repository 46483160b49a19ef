import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
gguf_quants = pytest.importorskip("gguf.quants")

from gguf import GGMLQuantizationType  # noqa: E402
from torch import nn  # noqa: E402

from marshalike_runtime import cpu_kernels, quant  # noqa: E402
from marshalike_runtime.blocks import (  # noqa: E402
    Groups,
    q4_1_groups,
    q4_k_groups,
    q5_0_groups,
    q6_k_groups,
    q8_0_groups,
)
from marshalike_runtime.engine import Engine  # noqa: E402
from marshalike_runtime.model import ModelArgs, Transformer  # noqa: E402
from marshalike_runtime.quant import (  # noqa: E402
    GroupLinear,
    HalfLinear,
    HeadScreen,
    Int8Table,
    QuantError,
    ScreenedHead,
    TiedEmbedding,
    apply_plan,
    check_supported,
    minmax_int4,
    pack_u4,
    pack_u5,
    quantize_model,
    unpack_u4,
    unpack_u5,
    without_fast_decode,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matmuls gain nothing from threads, and lose a lot when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


LLAMA = ModelArgs(
    arch="llama",
    vocab_size=320,
    dim=64,
    n_layers=2,
    n_heads=4,
    n_kv_heads=2,
    head_dim=16,
    intermediate_size=128,
    max_seq_len=64,
    qkv_bias=True,
)
# Gemma's extras, with a sliding window short enough for a test to run past it.
GEMMA = ModelArgs(
    arch="gemma3",
    vocab_size=320,
    dim=64,
    n_layers=2,
    n_heads=4,
    n_kv_heads=1,
    head_dim=32,
    intermediate_size=128,
    max_seq_len=64,
    query_scale=0.25,
    activation="gelu_tanh",
    qk_norm=True,
    sandwich_norm=True,
    embed_scale=True,
    sliding_window=5,
    global_layers=(1,),
    rope_theta=1_000_000.0,
)
# Heads wide enough for the attention kernel's 16-value blocks, with a tail (80 = 4 x 16 + 16).
WIDE_HEADS = dataclasses.replace(GEMMA, n_heads=2, head_dim=80)
# Six query heads on one key/value head (the kernel takes 4 at a time); heads of 20 values
# (a 16-value block and a tail of 4).
MANY_HEADS = dataclasses.replace(GEMMA, n_heads=6, head_dim=16)
ODD_HEADS = dataclasses.replace(GEMMA, n_heads=8, n_kv_heads=2, head_dim=20)


def tiny_model(seed: int = 0, args: ModelArgs = LLAMA) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(args).eval().requires_grad_(False)
    with torch.no_grad():
        model.tok_embeddings.weight.mul_(0.1)
    return model


# --- the file's own blocks ---------------------------------------------------------------

# Where each block type keeps its fp16 scales (byte offsets), so random blocks stay finite.
SCALE_BYTES = {"Q4_K": (0, 4), "Q4_1": (0, 4), "Q5_0": (0, 2), "Q6_K": (208, 210), "Q8_0": (0, 2)}


def random_blocks(rng: np.random.Generator, rows: int, qtype: str) -> np.ndarray:
    """Random blocks of ``qtype`` for ``rows`` rows of 512 weights, with finite scales."""
    block_bytes, per_block = {
        "Q4_K": (144, 256), "Q4_1": (20, 32), "Q5_0": (22, 32), "Q6_K": (210, 256),
        "Q8_0": (34, 32),
    }[qtype]  # fmt: skip
    n = rows * 512 // per_block
    raw = rng.integers(0, 256, size=(n, block_bytes), dtype=np.uint8)
    lo, hi = SCALE_BYTES[qtype]
    scales = rng.uniform(0.001, 0.05, size=(n, (hi - lo) // 2)).astype(np.float16)
    raw[:, lo:hi] = scales.view(np.uint8).reshape(n, hi - lo)
    return raw.reshape(rows, -1)


READERS = {
    "Q4_K": q4_k_groups, "Q4_1": q4_1_groups, "Q5_0": q5_0_groups, "Q6_K": q6_k_groups,
    "Q8_0": q8_0_groups,
}  # fmt: skip
CODE_RANGES = {
    "Q4_K": (0, 15), "Q4_1": (0, 15), "Q5_0": (-16, 15), "Q6_K": (-32, 31), "Q8_0": (-128, 127),
}  # fmt: skip


@pytest.mark.parametrize("qtype", sorted(READERS))
def test_block_codes_reproduce_gguf_dequantize_bit_for_bit(qtype: str) -> None:
    rng = np.random.default_rng(0)
    rows, cols = 6, 512
    raw = random_blocks(rng, rows, qtype)
    expected = gguf_quants.dequantize(raw, GGMLQuantizationType[qtype]).reshape(rows, cols)
    groups = READERS[qtype](raw)
    assert groups.codes.shape == (rows, cols)
    assert groups.scale.shape == (rows, cols // groups.group)
    assert groups.group == (16 if qtype == "Q6_K" else 32)
    np.testing.assert_array_equal(groups.dequantize(), expected)
    low, high = CODE_RANGES[qtype]
    assert low <= int(groups.codes.min()) and int(groups.codes.max()) <= high
    assert (groups.low is not None) == (qtype in ("Q4_K", "Q4_1"))


# --- modules -------------------------------------------------------------------------------


LAYOUT_RANGES = {"u4": (0, 16), "u5": (-16, 16), "i8": (-32, 32)}


def random_groups(rows: int, cols: int, *, group: int = 32, codes: str, affine: bool,
                  half: bool = False, seed: int = 0) -> Groups:  # fmt: skip
    """Random codes in the range of ``codes``'s layout; ``half``: scales fp16 numbers."""
    rng = np.random.default_rng(seed)
    values = rng.integers(*LAYOUT_RANGES[codes], size=(rows, cols))
    values = values.astype(np.uint8 if codes == "u4" else np.int8)
    scale = rng.uniform(0.001, 0.02, size=(rows, cols // group)).astype(np.float32)
    low = -rng.uniform(0, 0.1, size=(rows, cols // group)).astype(np.float32) if affine else None
    if half:
        scale = scale.astype(np.float16).astype(np.float32)
        low = None if low is None else low.astype(np.float16).astype(np.float32)
    return Groups(values, scale, low, group)


LAYOUTS = [  # (codes, affine, group, fp16-exact scales)
    ("u4", True, 32, False),  # Q4_K
    ("u4", True, 32, True),  # Q4_1
    ("u5", False, 32, True),  # Q5_0
    ("i8", False, 32, True),  # Q8_0
    ("i8", False, 16, False),  # Q6_K
    ("i8", True, 16, False),
]


@pytest.mark.parametrize(("codes", "affine", "group", "half"), LAYOUTS)
def test_group_linear_products_follow_the_codes(
    codes: str, affine: bool, group: int, half: bool, monkeypatch
) -> None:
    groups = random_groups(96, 128, group=group, codes=codes, affine=affine, half=half)
    bias = torch.randn(96)
    layer = GroupLinear.from_groups(groups, bias)
    assert layer.packed == (codes != "i8") and (layer.high is not None) == (codes == "u5")
    assert layer.group == group
    # fp16 scales exactly where they hold the checkpoint's values exactly
    assert layer.scale.dtype == (torch.float16 if half else torch.float32)
    weight = torch.from_numpy(groups.dequantize())
    torch.testing.assert_close(layer.weight(), weight, rtol=0, atol=0)
    for rows in (1, 3, 9, 16):  # the C kernels (batches of 8 and their remainders)
        x = torch.randn(rows, 128)
        torch.testing.assert_close(layer(x), x @ weight.T + bias, rtol=1e-5, atol=1e-4)
    monkeypatch.setattr(quant, "prompt_dtype", lambda: torch.float32)
    prompt = torch.randn(2, 20, 128)  # over 16 rows: torch, from the same codes
    torch.testing.assert_close(layer(prompt), prompt @ weight.T + bias, rtol=1e-5, atol=1e-4)
    assert torch.equal(layer.weight(40, 70), weight[40:70])
    blocks = {torch.float32: 20 * 128}  # 20 rows a block: 5 blocks
    monkeypatch.setattr(quant, "_BLOCK_WEIGHTS", blocks)
    torch.testing.assert_close(layer(prompt), prompt @ weight.T + bias, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("block_rows", [96, 20])
def test_prompts_multiply_in_bf16_where_the_cpu_does(block_rows: int, monkeypatch) -> None:
    layer = GroupLinear.from_groups(random_groups(96, 128, codes="u4", affine=True))
    bias = torch.randn(96)
    layer.bias = bias
    weight = layer.weight()
    monkeypatch.setattr(quant, "prompt_dtype", lambda: torch.bfloat16)
    monkeypatch.setattr(quant, "_BLOCK_WEIGHTS", {torch.bfloat16: block_rows * 128})
    prompt = torch.randn(2, 20, 128)
    got = layer(prompt)
    assert got.dtype == torch.float32
    # the product of the bf16-rounded operands, not the fp32 one
    rounded = prompt.bfloat16().float() @ weight.bfloat16().float().T + bias
    torch.testing.assert_close(got, rounded, rtol=1e-2, atol=1e-2)
    exact = prompt @ weight.T + bias
    assert not torch.allclose(got, exact, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(got, exact, rtol=0.05, atol=0.1)
    decode = torch.randn(3, 128)  # a few rows still go through the fp32 kernels
    torch.testing.assert_close(layer(decode), decode @ weight.T + bias, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("flags", "dtype"),
    [
        ("fpu sse2 avx2 avx512f avx512_bf16", torch.bfloat16),
        ("fpu sse2 avx2 amx_bf16 amx_tile", torch.bfloat16),
        ("fpu sse2 avx2 avx512f avx512bw", torch.float32),  # bf16 emulated: fp32 is faster
    ],
)
def test_the_prompt_dtype_follows_the_cpu_flags(flags: str, dtype, tmp_path, monkeypatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    monkeypatch.setattr(cpu_kernels, "CPUINFO", cpuinfo)
    quant.prompt_dtype.cache_clear()
    try:
        assert quant.prompt_dtype() == dtype
        monkeypatch.setattr(cpu_kernels, "CPUINFO", tmp_path / "missing")
        quant.prompt_dtype.cache_clear()
        assert quant.prompt_dtype() == torch.float32
    finally:
        quant.prompt_dtype.cache_clear()


def test_without_kernels_the_same_products_come_from_torch(monkeypatch) -> None:
    for codes, affine in (("u4", True), ("u5", False)):
        layer = GroupLinear.from_groups(random_groups(40, 64, codes=codes, affine=affine))
        x = torch.randn(2, 64)
        with_kernels, weight = layer(x), layer.weight()
        with monkeypatch.context() as patch:
            patch.setattr(quant, "kernels", lambda: None)
            torch.testing.assert_close(layer(x), with_kernels, rtol=1e-5, atol=1e-4)
            assert torch.equal(layer.weight(), weight)  # torch's unpacking, the C one's values
            assert torch.equal(layer.weight(dtype=torch.bfloat16), weight.bfloat16())
        assert torch.equal(layer.weight(dtype=torch.bfloat16), weight.bfloat16())


def test_fused_layers_compute_their_parts_outputs_in_order() -> None:
    a = GroupLinear.from_groups(random_groups(24, 64, codes="i8", affine=False, seed=1))
    b = GroupLinear.from_groups(
        random_groups(8, 64, codes="i8", affine=True, seed=2), bias=torch.randn(8)
    )
    fused = GroupLinear.cat([a, b])
    assert fused.out_features == 32 and fused.low is not None and fused.bias is not None
    torch.testing.assert_close(fused.weight(), torch.cat([a.weight(), b.weight()]))
    x = torch.randn(3, 64)
    torch.testing.assert_close(fused(x), torch.cat([a(x), b(x)], dim=-1), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="no kernel for groups of 8"):
        GroupLinear(torch.zeros(4, 64, dtype=torch.int8), torch.ones(4, 8), None, None, 8, False)


def test_four_bit_codes_pack_two_per_byte_and_back() -> None:
    codes = torch.randint(0, 16, (5, 64), dtype=torch.uint8)
    packed = pack_u4(codes)
    assert packed.shape == (5, 32)
    # Byte j of a group: code j in the low nibble, code j + 16 in the high one.
    assert int(packed[0, 3]) == int(codes[0, 3]) | int(codes[0, 19]) << 4
    assert torch.equal(unpack_u4(packed), codes)


def test_five_bit_codes_pack_as_nibbles_and_a_plane_of_fifth_bits() -> None:
    codes = torch.randint(-16, 16, (5, 64), dtype=torch.int8)
    nibbles, high = pack_u5(codes)
    assert nibbles.shape == (5, 32) and high.shape == (5, 8)
    biased = codes.to(torch.int16) + 16
    assert int(nibbles[1, 2]) == int(biased[1, 2]) & 15 | (int(biased[1, 18]) & 15) << 4
    # Code k's fifth bit is bit k % 8 of byte k // 8 (Q5_0's mask, read little-endian).
    assert (int(high[1, 2]) >> 3) & 1 == int(biased[1, 19]) >> 4
    assert torch.equal(unpack_u5(nibbles, high), codes)


def test_fusing_layers_of_different_layouts_widens_them_to_int8() -> None:
    """Gemma's GGUF stores queries and keys in Q5_0 and some values in Q8_0: fused, losslessly."""
    q = GroupLinear.from_groups(random_groups(24, 64, codes="u5", affine=False, half=True))
    v = GroupLinear.from_groups(random_groups(8, 64, codes="i8", affine=False, half=True, seed=3))
    attention = nn.Module()
    attention.wq, attention.wk, attention.wv = q, q, v
    fused = quant._fuse(attention, ("wq", "wk", "wv"))
    assert fused is not None and not fused.packed and fused.scale.dtype == torch.float32
    assert attention.wq is None and attention.wv is None
    torch.testing.assert_close(
        fused.weight(), torch.cat([q.weight(), q.weight(), v.weight()]), rtol=0, atol=0
    )
    other_group = GroupLinear.from_groups(random_groups(8, 64, group=16, codes="i8", affine=False))
    attention.wq, attention.wk = q, other_group
    assert quant._fuse(attention, ("wq", "wk")) is None  # another group size: kept apart


def test_minmax_int4_spans_each_group() -> None:
    torch.manual_seed(0)
    w = torch.randn(10, 64) * 3
    codes, scale, low = minmax_int4(w, chunk_rows=3)
    back = torch.from_numpy(Groups(codes.numpy(), scale.numpy(), low.numpy()).dequantize())
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
    groups = q8_0_groups(random_blocks(rng, 40, "Q8_0"))  # 40 rows of 512
    table = Int8Table(torch.from_numpy(groups.codes), torch.from_numpy(groups.scale))
    ids = torch.tensor([[0, 39, 7]])
    expected = torch.from_numpy(groups.dequantize())[ids]
    assert torch.equal(table(ids), expected)


def test_screened_head_rescores_its_candidates_exactly() -> None:
    torch.manual_seed(0)
    weight = torch.randn(320, 64)
    table = Int8Table.from_float(weight)
    head = ScreenedHead(HeadScreen.from_weight(weight), table, candidates=8)
    x = torch.randn(3, 64)
    logits = head(x)
    exact = x @ table.rows(torch.arange(320)).T
    screen = head.approx(x)
    candidates = screen.topk(8, dim=-1).indices
    torch.testing.assert_close(logits.gather(1, candidates), exact.gather(1, candidates))
    others = torch.ones_like(logits, dtype=torch.bool).scatter_(1, candidates, False)
    torch.testing.assert_close(logits[others], screen[others])  # approximate
    # The screen rounds the activations to int8 per group of 64: close to the 4-bit product.
    four_bit = x @ head.approx.weight().T
    assert float((screen - four_bit).norm() / four_bit.norm()) < 0.02
    # which is a min/max 4-bit copy of the weight: each value within half a step of it.
    step = (weight.reshape(320, 1, 64).amax(-1) - weight.reshape(320, 1, 64).amin(-1)) / 15
    assert bool(((head.approx.weight() - weight).abs() <= step * 0.5 + 1e-2).all())
    assert logits.argmax(-1).tolist() == exact.argmax(-1).tolist()


# --- whole models --------------------------------------------------------------------------


def coded_sources(model: Transformer, seed: int = 0) -> dict[str, Groups]:
    """Codes for every linear layer of ``model``, in the block types the embedded GGUF uses:
    Q5_0-like for q/k/v/gate/up (Q8_0-like for layer 0's v), Q4_K-like for wo, Q6_K-like
    (groups of 16) for w2."""
    out: dict[str, Groups] = {}
    for i, (name, module) in enumerate(model.named_modules()):
        if not isinstance(module, nn.Linear) or name == "output":
            continue
        rows, cols = module.weight.shape
        if name.endswith("wo"):
            kind = {"codes": "u4", "affine": True}
        elif name.endswith("w2"):
            kind = {"group": 16, "codes": "i8", "affine": False}
        elif name == "layers.0.attention.wv":  # a Q8_0 value beside Q5_0 queries and keys
            kind = {"codes": "i8", "affine": False, "half": True}
        else:
            kind = {"codes": "u5", "affine": False, "half": True}
        out[f"{name}.weight"] = random_groups(rows, cols, seed=seed + i, **kind)
    return out


def test_quantize_model_keeps_codes_fuses_projections_and_ties_the_head() -> None:
    model = tiny_model()
    sources = coded_sources(model)
    del sources["layers.1.attention.wk.weight"]  # a float layer: no fusion in layer 1
    plan = quantize_model(model, "int4", sources)
    att0, att1 = model.layers[0].attention, model.layers[1].attention
    assert isinstance(att0.wqkv, GroupLinear) and att0.wq is None and att0.wv is None
    assert plan["layers.0.attention.wqkv"]["replaces"] == ["wq", "wk", "wv"]
    assert att0.wqkv.out_features == 64 + 32 + 32
    assert att1.wqkv is None and isinstance(att1.wk, HalfLinear)
    assert isinstance(model.layers[0].feed_forward.w13, GroupLinear)
    w2 = model.layers[0].feed_forward.w2
    assert isinstance(w2, GroupLinear) and w2.group == 16 and not w2.packed
    wo = att0.wo
    expected = torch.from_numpy(sources["layers.0.attention.wo.weight"].dequantize())
    assert wo.packed and torch.equal(wo.weight(), expected)
    assert plan["output"]["kind"] == "head" and plan["tok_embeddings"] == {"kind": "tied"}
    assert isinstance(model.tok_embeddings, TiedEmbedding)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    # One table in the state, read by both the embedding and the head.
    assert "output.table.codes" in model.state_dict()
    assert not any(k.startswith("tok_embeddings") for k in model.state_dict())
    assert model.layers[0].fast_decode is not None and model.layers[1].fast_decode is None
    assert model.fast_step is None  # not every layer can decode in C: the layers run


@pytest.mark.parametrize("args", [LLAMA, GEMMA], ids=["llama", "gemma"])
def test_a_saved_quantized_state_rebuilds_the_same_model_from_its_plan(args: ModelArgs) -> None:
    model = tiny_model(args=args)
    plan = quantize_model(model, "int4", coded_sources(model))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.device("meta"):
        rebuilt = Transformer(model.args)
    apply_plan(rebuilt, plan)
    rebuilt.load_state_dict(state, strict=True, assign=True)
    tokens, pos = torch.tensor([[1, 7, 42, 9, 250]]), torch.arange(5)
    torch.testing.assert_close(rebuilt.eval()(tokens, pos), model(tokens, pos))
    sampling = {"n": 2, "max_tokens": 8, "seed": 3, "temperature": 1.0}
    first = Engine(model, Chars(), model_name="tiny").generate([1, 2, 3], **sampling)
    again = Engine(rebuilt, Chars(), model_name="tiny").generate([1, 2, 3], **sampling)
    assert [g.token_ids for g in first] == [g.token_ids for g in again]


def decode_steps(engine: Engine) -> list[torch.Tensor]:
    logits, prompt = [], [1, 5, 9]
    with torch.inference_mode():
        engine._ensure_caches(3, 32)
        engine._prefill(prompt, 3)
        tokens = torch.tensor([4, 17, 250])
        for step in range(9):
            if step in (5, 7):  # rows finish: three, then two, then one
                keep = [0, 2] if step == 5 else [1]
                engine._compact(keep, len(prompt) + step)
                tokens = tokens[keep]
            logits.append(engine._decode(tokens, len(prompt) + step).clone())
            tokens = (tokens * 7 + 3) % 320
    return logits


@pytest.mark.parametrize("build", ["native", "plain"])
@pytest.mark.parametrize(
    "args",
    [LLAMA, GEMMA, WIDE_HEADS, MANY_HEADS, ODD_HEADS],
    ids=["llama", "gemma", "wide-heads", "six-heads", "odd-heads"],
)
def test_the_c_decoding_step_computes_what_the_torch_layers_compute(
    args: ModelArgs, build: str, request, monkeypatch
) -> None:
    """Each decoded position's logits, through `decode_layers` (every layer in one call),
    `decode_layer` (one call a layer) and the modules, for three rows, past the sliding
    window, and with rows dropped midway (a compacted cache) down to a single one."""
    if cpu_kernels.kernels() is None:
        pytest.skip("no C compiler here: the kernels are not built")
    if build == "plain":  # the loops for CPUs without AVX2
        plain = request.getfixturevalue("both_builds")[1]
        monkeypatch.setattr(quant, "kernels", lambda: plain)
    model = tiny_model(args=args)
    quantize_model(model, "int4", coded_sources(model))
    assert all(layer.fast_decode is not None for layer in model.layers)
    assert model.fast_step is not None
    engine = Engine(model, Chars(), model_name="tiny")
    stacked = decode_steps(engine)
    with monkeypatch.context() as patch:
        patch.setattr(model, "fast_step", None)
        layer_by_layer = decode_steps(engine)
    with without_fast_decode(model):
        assert model.fast_step is None
        modules = decode_steps(engine)
    assert model.fast_step is not None
    for one_call, per_layer, torch_layers in zip(stacked, layer_by_layer, modules, strict=True):
        assert torch.equal(one_call, per_layer)  # the same C code, in the same order
        torch.testing.assert_close(per_layer, torch_layers, rtol=1e-4, atol=1e-4)


def test_quantized_logits_stay_close_to_float() -> None:
    tokens, pos = torch.tensor([[1, 7, 42, 9, 250]]), torch.arange(5)
    expected = tiny_model()(tokens, pos)
    model = tiny_model()
    quantize_model(model)  # no codes: fp16 layers, and the screened head
    out = model(tokens, pos)
    assert out.dtype == torch.float32
    # The head's approximate logits (tokens outside its candidates) are 4-bit; the best
    # tokens are exact, so the choice agrees.
    assert float((out - expected).norm() / expected.norm()) < 0.1
    assert out.argmax(-1).tolist() == expected.argmax(-1).tolist()


def test_a_width_the_head_screen_cannot_group_is_refused_with_the_reason() -> None:
    model = tiny_model(args=dataclasses.replace(LLAMA, dim=96, n_heads=6))
    with pytest.raises(QuantError, match="multiple of 64 .* this model's is 96"):
        quantize_model(model)


def test_unknown_mode_and_other_devices_are_refused() -> None:
    with pytest.raises(QuantError) as err:
        check_supported("int3", torch.device("cpu"))
    assert str(err.value) == "unknown quantization mode 'int3'; expected one of ('int4',)"
    with pytest.raises(QuantError) as err:
        check_supported("int4", torch.device("cuda"))
    assert str(err.value) == "quantization mode 'int4' runs on CPU; on a GPU the model runs in bf16"


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
