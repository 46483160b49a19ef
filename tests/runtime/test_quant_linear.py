"""The quantized linear layers: products from the checkpoint's codes, in C and in torch."""

import pytest

torch = pytest.importorskip("torch")

from quant_fixtures import random_groups  # noqa: E402
from torch import nn  # noqa: E402

from marshalike_runtime import cpu_kernels, quant_codes, quant_linear  # noqa: E402
from marshalike_runtime.quant_linear import GroupLinear, HalfLinear  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


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
    monkeypatch.setattr(quant_linear, "prompt_dtype", lambda: torch.float32)
    prompt = torch.randn(2, 20, 128)  # over 16 rows: torch, from the same codes
    torch.testing.assert_close(layer(prompt), prompt @ weight.T + bias, rtol=1e-5, atol=1e-4)
    assert torch.equal(layer.weight(40, 70), weight[40:70])
    blocks = {torch.float32: 20 * 128}  # 20 rows a block: 5 blocks
    monkeypatch.setattr(quant_linear, "_BLOCK_WEIGHTS", blocks)
    torch.testing.assert_close(layer(prompt), prompt @ weight.T + bias, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("block_rows", [96, 20])
def test_prompts_multiply_in_bf16_where_the_cpu_does(block_rows: int, monkeypatch) -> None:
    layer = GroupLinear.from_groups(random_groups(96, 128, codes="u4", affine=True))
    bias = torch.randn(96)
    layer.bias = bias
    weight = layer.weight()
    monkeypatch.setattr(quant_linear, "prompt_dtype", lambda: torch.bfloat16)
    monkeypatch.setattr(quant_linear, "_BLOCK_WEIGHTS", {torch.bfloat16: block_rows * 128})
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
    quant_linear.prompt_dtype.cache_clear()
    try:
        assert quant_linear.prompt_dtype() == dtype
        monkeypatch.setattr(cpu_kernels, "CPUINFO", tmp_path / "missing")
        quant_linear.prompt_dtype.cache_clear()
        assert quant_linear.prompt_dtype() == torch.float32
    finally:
        quant_linear.prompt_dtype.cache_clear()


def test_without_kernels_the_same_products_come_from_torch(monkeypatch) -> None:
    for codes, affine in (("u4", True), ("u5", False)):
        layer = GroupLinear.from_groups(random_groups(40, 64, codes=codes, affine=affine))
        x = torch.randn(2, 64)
        with_kernels, weight = layer(x), layer.weight()
        with monkeypatch.context() as patch:
            for module in (quant_codes, quant_linear):  # the products, and dequantizing
                patch.setattr(module, "kernels", lambda: None)
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
