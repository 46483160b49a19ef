"""Building our C kernels: once per machine and source, atomically, and never a hard failure."""

from __future__ import annotations

import platform
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")

from marshalike_runtime import cpu_kernels  # noqa: E402


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MARSHALIKE_NO_KERNELS", raising=False)
    return tmp_path


def test_the_library_is_built_once_and_then_reused(cache: Path, monkeypatch) -> None:
    if cpu_kernels.c_compiler() is None:
        pytest.skip("no C compiler here")
    first = cpu_kernels._build()
    assert first is not None and first.path.parent == cache / "kernels"
    assert [p.name for p in (cache / "kernels").iterdir()] == [first.path.name]  # no temp left
    monkeypatch.setattr(cpu_kernels, "_compile", lambda *a: pytest.fail("compiled twice"))
    again = cpu_kernels._build()
    assert again is not None and again.path == first.path


def _included(source: Path) -> set[str]:
    """The local files ``source`` includes (``#include "name"``), and those they include."""
    found: set[str] = set()
    for name in re.findall(r'^#include "([^"]+)"', source.read_text(), re.MULTILINE):
        found |= {name} | _included(source.parent / name)
    return found


def test_qmatmul_c_includes_every_other_part_of_the_source() -> None:
    parts = {p.name for p in cpu_kernels.CSRC.glob("*.[ch]")}
    assert cpu_kernels.SOURCE.name == "qmatmul.c"
    assert {cpu_kernels.SOURCE.name} | _included(cpu_kernels.SOURCE) == parts


def test_an_edit_to_any_part_of_the_source_changes_the_build_key(
    tmp_path: Path, monkeypatch
) -> None:
    csrc = tmp_path / "csrc"
    shutil.copytree(cpu_kernels.CSRC, csrc)
    monkeypatch.setattr(cpu_kernels, "CSRC", csrc)
    seen = {cpu_kernels.sources_digest()}
    for part in sorted(csrc.iterdir()):
        part.write_text(part.read_text() + "\n")
        seen.add(cpu_kernels.sources_digest())
    assert len(seen) == 1 + len(list(csrc.iterdir()))


def test_a_compiler_that_fails_leaves_no_kernels_and_no_files(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("CC", "false")  # found on PATH, fails every build
    assert cpu_kernels._build() is None
    assert not list((cache / "kernels").iterdir())


def test_no_compiler_at_all_means_no_kernels(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(cpu_kernels, "c_compiler", lambda: None)
    assert cpu_kernels._build() is None


def test_the_kernels_can_be_turned_off(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("MARSHALIKE_NO_KERNELS", "1")
    assert cpu_kernels.kernels.__wrapped__() is None


def test_topk_indices_pick_the_same_rows_as_torch() -> None:
    import torch

    k = cpu_kernels.kernels()
    if k is None:
        pytest.skip("no C compiler here")
    g = torch.Generator().manual_seed(0)
    y = torch.randn(3, 5000, generator=g)
    y[1, 4990:] = 100.0  # the best values in the row's unaligned tail
    got = k.topk_indices(y, 64)
    assert got is not None and got.shape == (3, 64)
    want = y.topk(64, dim=-1).indices
    assert [set(r.tolist()) for r in got] == [set(r.tolist()) for r in want]
    assert k.topk_indices(y, 5000) is None  # over the kernel's 4096: the caller uses torch


def test_top_logsumexp_gives_torchs_best_values_and_normaliser() -> None:
    import torch

    k = cpu_kernels.kernels()
    if k is None:
        pytest.skip("no C compiler here")
    g = torch.Generator().manual_seed(0)
    y = torch.randn(5, 262_147, generator=g) * torch.tensor([[0.01], [1.0], [3.0], [30.0], [1.0]])
    y[1, -3:] = 50.0  # the best values in the row's unaligned tail, tied
    y[4, :] = float("-inf")
    y[4, 7] = 2.0  # one finite value: the normaliser is that value
    for width in (1, 64, 4096):
        got = k.top_logsumexp(y, width)
        assert got is not None
        values, ids, lse = got
        assert torch.equal(values, y.topk(width, dim=-1).values)  # best first
        assert torch.equal(y.gather(1, ids), values)
    assert ids[1, :3].tolist() == [262_144, 262_145, 262_146]  # ties: the lower index first
    without = k.top_values(y, 4096)  # the same, without the logsumexp
    assert without is not None and torch.equal(without[0], values)
    assert torch.equal(without[1], ids)
    want = torch.logsumexp(y.double(), dim=-1, keepdim=True).float()
    torch.testing.assert_close(lse, want, rtol=1e-6, atol=0)
    assert float(lse[4]) == 2.0
    none = k.top_logsumexp(torch.full((2, 100), float("-inf")), 4)
    assert none is not None and torch.isneginf(none[2]).all()
    assert k.top_logsumexp(y, 5000) is None  # over the kernel's 4096: the caller uses torch
    assert k.top_logsumexp(y[:, :10], 11) is None


def test_the_plain_c_loops_compute_what_the_avx2_ones_do(both_builds) -> None:
    import torch

    fast, plain = both_builds
    g = torch.Generator().manual_seed(1)
    for group, rows in ((32, 1), (16, 5), (32, 11)):
        codes = torch.randint(-32, 32, (48, 128), dtype=torch.int8, generator=g)
        scale, low = torch.rand(48, 128 // group, generator=g), torch.randn(48, 128 // group)
        x = torch.randn(rows, 128, generator=g)
        for lo in (None, low):  # the same sums, added in another order
            torch.testing.assert_close(
                plain.i8(codes, scale, lo, group, x),
                fast.i8(codes, scale, lo, group, x),
                rtol=1e-5,
                atol=1e-4,
            )
        torch.testing.assert_close(
            plain.dequantize(codes, scale, low, group, False),
            fast.dequantize(codes, scale, low, group, False),
            rtol=0,
            atol=0,
        )
    packed = torch.randint(0, 256, (48, 64), dtype=torch.uint8, generator=g)
    scale, low = torch.rand(48, 4, generator=g).half(), torch.randn(48, 4, generator=g).half()
    x = torch.randn(3, 128, generator=g)
    exact = plain.u4(packed, scale, low, x)
    torch.testing.assert_close(fast.u4(packed, scale, low, x), exact, rtol=1e-5, atol=1e-4)
    high = torch.randint(0, 256, (48, 16), dtype=torch.uint8, generator=g)  # u5's fifth bits
    for rows in (1, 3, 9):
        xr = torch.randn(rows, 128, generator=g)
        exact = plain.u4(packed, scale, None, xr, high)
        got = fast.u4(packed, scale, None, xr, high)
        torch.testing.assert_close(got, exact, rtol=1e-5, atol=1e-4)
    for bits in (None, high):  # u4 and u5: the same values to the last bit
        torch.testing.assert_close(
            plain.dequantize(packed, scale, low, 32, True, bits),
            fast.dequantize(packed, scale, low, 32, True, bits),
            rtol=0,
            atol=0,
        )
    # A head's screen: groups of 64 (byte j holds codes j and j + 32). The plain one is
    # exact; the AVX2 one rounds activations to int8.
    scale, low = scale[:, :2].contiguous(), low[:, :2].contiguous()
    groups = packed.reshape(48, 2, 32)
    codes = torch.cat((groups & 0x0F, groups >> 4), dim=2).float()  # [n, group, 64]
    weight = (codes * scale.float()[..., None] + low.float()[..., None]).reshape(48, 128)
    exact = x @ weight.T
    torch.testing.assert_close(plain.screen(packed, scale, low, x), exact, rtol=1e-5, atol=1e-4)
    assert float((fast.screen(packed, scale, low, x) - exact).norm() / exact.norm()) < 0.02
    torch.testing.assert_close(plain.dequantize(packed, scale, low, 64, True), weight)
    torch.testing.assert_close(fast.dequantize(packed, scale, low, 64, True), weight)
    table = torch.randint(-127, 128, (300, 128), dtype=torch.int8, generator=g)
    table_scale = torch.rand(300, 4, generator=g)
    ids = torch.randint(0, 300, (3, 20), generator=g)
    rows = (table[ids].reshape(3, 20, 4, 32).float() * table_scale[ids][..., None]).reshape(
        3, 20, 128
    )
    # float64: torch's float32 einsum (MKL) may add in another order from run to run
    want = torch.einsum("bck,bk->bc", rows.double(), x.double()).float()
    for k in (plain, fast):
        torch.testing.assert_close(
            k.rescore(table, table_scale, ids, x), want, rtol=1e-5, atol=1e-4
        )
    y = torch.randn(2, 3000, generator=g)
    assert [set(r.tolist()) for r in plain.topk_indices(y, 64)] == [
        set(r.tolist()) for r in fast.topk_indices(y, 64)
    ]
    y = torch.randn(3, 3001, generator=g) * 4  # the vectorised exp against expf
    best = [k.top_logsumexp(y, 64) for k in (plain, fast)]
    assert torch.equal(best[0][0], best[1][0]) and torch.equal(best[0][1], best[1][1])
    torch.testing.assert_close(best[0][2], best[1][2], rtol=1e-6, atol=0)


@pytest.mark.parametrize("layout", ["i8", "u4", "u5"])
def test_bf16_weights_round_the_float32_ones_as_torch_does(both_builds, layout: str) -> None:
    import torch

    g = torch.Generator().manual_seed(2)
    if layout == "i8":
        codes = torch.randint(-128, 128, (40, 96), dtype=torch.int8, generator=g)
        group, packed, high = 16, False, None
    else:
        codes = torch.randint(0, 256, (40, 48), dtype=torch.uint8, generator=g)
        group, packed = 32, True
        high = torch.randint(0, 256, (40, 12), dtype=torch.uint8, generator=g)
        high = high if layout == "u5" else None
    scale = torch.rand(40, 96 // group, generator=g)
    low = torch.randn(40, 96 // group, generator=g)
    # weight [0, 0] = (1 + 2^-8) * 1 + 0, halfway between the bf16 numbers 1 and 1 + 2^-7:
    # the tie goes to the even one, 1
    scale[0, 0], low[0, 0] = 1.0 + 2.0**-8, 0.0
    if layout == "i8":
        codes[0, 0] = 1
    else:  # the low nibble of byte 0; u5's fifth bit makes (1 | 1 << 4) - 16 = 1
        codes[0, 0] = (codes[0, 0] & 0xF0) | 1
        if high is not None:
            high[0, 0] |= 1
    for kernels in both_builds:
        want = kernels.dequantize(codes, scale, low, group, packed, high).bfloat16()
        got = kernels.dequantize(codes, scale, low, group, packed, high, torch.bfloat16)
        assert got.dtype == torch.bfloat16 and got.shape == want.shape
        assert torch.equal(got.view(torch.int16), want.view(torch.int16))
        assert float(want[0, 0]) == 1.0
    assert (
        float(both_builds[0].dequantize(codes, scale, low, group, packed, high)[0, 0])
        == 1.0 + 2.0**-8
    )
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        both_builds[0].dequantize(codes, scale, low, group, packed, high, torch.float16)


def test_the_kv_cache_rounds_to_fp16_as_torch_does(both_builds) -> None:
    """Both builds write keys and values to the fp16 cache as `.to(torch.float16)` rounds
    them, bit for bit: ties to even, subnormals, the edge of the range, infinities, -0."""
    import torch

    g = torch.Generator().manual_seed(4)
    exponents = torch.randint(-30, 17, (4000,), generator=g).float()
    spread = torch.randn(4000, generator=g) * torch.pow(2.0, exponents)
    steps = torch.arange(-2048, 2048, dtype=torch.float32)
    ties = torch.cat(
        [
            (steps + 0.5) * 2.0**-24,  # halfway between subnormals
            (1024 + steps[2048:] + 0.5) * 2.0**-10,  # halfway between normals in [1, 2)
            (1024 + steps[2048:] + 0.5) * 2.0**5,  # and in [2^15, 2^16): the last ones
        ]
    )
    edges = torch.tensor([0.0, -0.0, 2.0**-25, 2.0**-25 * 1.0001, 2.0**-14, 65504.0, 65519.0,
                          65520.0, 1e9, -1e9, float("inf"), float("-inf")])  # fmt: skip
    x = torch.cat([spread, ties, -ties, edges])
    want = x.to(torch.float16).view(torch.int16)
    for kernels in both_builds:
        assert torch.equal(kernels.to_half(x).view(torch.int16), want)
        assert kernels.to_half(torch.tensor([float("nan")])).isnan().all()


def test_the_screen_gives_the_same_scores_with_vnni_and_without(tmp_path: Path) -> None:
    """vpdpbusd sums what maddubs and madd sum, to the last bit."""
    import ctypes

    import torch

    compiler = cpu_kernels.c_compiler()
    if compiler is None:
        pytest.skip("no C compiler here")
    built = []
    for extra in ([], ["-mno-avx512vnni", "-mno-avxvnni"]):
        flags = ["-O3", "-march=native", *extra]
        target = tmp_path / f"qmatmul-{len(extra)}.so"
        assert cpu_kernels._compile(compiler, flags, target)
        built.append(cpu_kernels.Kernels(ctypes.CDLL(str(target)), target, flags))
    vnni, plain = built
    if not vnni.vnni:
        pytest.skip("this CPU has no VNNI: both builds are the same")
    assert plain.avx2 and not plain.vnni
    g = torch.Generator().manual_seed(3)
    packed = torch.randint(0, 256, (100, 320), dtype=torch.uint8, generator=g)
    scale, low = torch.rand(100, 10, generator=g).half(), torch.randn(100, 10, generator=g).half()
    for rows in (1, 3, 8, 11):
        x = torch.randn(rows, 640, generator=g) * 4
        x[0, :64] = 0.0  # a group of zeros (scale 0)
        assert torch.equal(vnni.screen(packed, scale, low, x), plain.screen(packed, scale, low, x))


@pytest.mark.parametrize("width", [256, 96])
def test_a_row_gets_the_same_product_whatever_rows_share_the_call(width: int) -> None:
    """A sequence decoded in a batch must get the logits it gets alone, to the last bit:
    otherwise greedy decoding can pick another token on a near-tie, and what a compile
    writes would depend on what else the engine was decoding."""
    import torch

    k = cpu_kernels.kernels()
    if k is None:
        pytest.skip("no C compiler here")
    g = torch.Generator().manual_seed(4)
    x = torch.randn(11, width, generator=g)
    packed = torch.randint(0, 256, (40, width // 2), dtype=torch.uint8, generator=g)
    high = torch.randint(0, 256, (40, width // 8), dtype=torch.uint8, generator=g)
    codes = torch.randint(-128, 128, (40, width), dtype=torch.int8, generator=g)
    for half in (False, True):
        dtype = torch.float16 if half else torch.float32
        scale = torch.rand(40, width // 32, generator=g).to(dtype)
        low = torch.randn(40, width // 32, generator=g).to(dtype)
        scale16 = torch.rand(40, width // 16, generator=g).to(dtype)
        products = {
            "u4": lambda rows, s=scale, lo=low: k.u4(packed, s, lo, rows),
            "u5": lambda rows, s=scale: k.u4(packed, s, None, rows, high),
            "i8": lambda rows, s=scale, lo=low: k.i8(codes, s, lo, 32, rows),
            "i8 no low": lambda rows, s=scale: k.i8(codes, s, None, 32, rows),
            "i8 in 16s": lambda rows, s=scale16: k.i8(codes, s, None, 16, rows),
        }
        for name, product in products.items():
            alone = torch.cat([product(x[b : b + 1]) for b in range(11)])
            for rows in (2, 3, 8, 9, 11):
                together = product(x[:rows])
                assert torch.equal(together, alone[:rows]), (name, half, rows)


def test_the_kernels_can_be_built_for_another_cpu(cache: Path, monkeypatch, capsys) -> None:
    """`MARSHALIKE_KERNEL_ARCH=x86-64-v3`: AVX2 without AVX-512, a build of its own."""
    if cpu_kernels.c_compiler() is None or platform.machine() != "x86_64":
        pytest.skip("no C compiler here, or not an x86-64 CPU")
    native = cpu_kernels._build()
    monkeypatch.setenv(cpu_kernels.ARCH_ENV, "x86-64-v3")
    v3 = cpu_kernels._build()
    assert native is not None and v3 is not None
    assert "-march=x86-64-v3" in v3.flags and v3.path != native.path
    assert v3.avx2 and not v3.vnni
    monkeypatch.setenv(cpu_kernels.ARCH_ENV, "x; rm -rf /")
    assert cpu_kernels.flag_sets()[0][1] == "-march=native"
    assert "is not a CPU name" in capsys.readouterr().err
