"""The integer codes: the file's own blocks read as they are, packed, and quantized anew."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
gguf_quants = pytest.importorskip("gguf.quants")

from gguf import GGMLQuantizationType  # noqa: E402
from quant_fixtures import random_blocks  # noqa: E402

from marshalike_runtime.blocks import (  # noqa: E402
    Groups,
    q4_1_groups,
    q4_k_groups,
    q5_0_groups,
    q6_k_groups,
    q8_0_groups,
)
from marshalike_runtime.quant_codes import (  # noqa: E402
    minmax_int4,
    pack_u4,
    pack_u5,
    unpack_u4,
    unpack_u5,
)

pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_minmax_int4_spans_each_group() -> None:
    torch.manual_seed(0)
    w = torch.randn(10, 64) * 3
    codes, scale, low = minmax_int4(w, chunk_rows=3)
    back = torch.from_numpy(Groups(codes.numpy(), scale.numpy(), low.numpy()).dequantize())
    step = scale.repeat_interleave(32, dim=1)
    assert bool(((back - w).abs() <= step / 2 + 1e-5).all())
    assert int(codes.min()) == 0 and int(codes.max()) == 15
