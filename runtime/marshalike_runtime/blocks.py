"""The integer codes inside a GGUF file's quantized blocks, for kernels that use them as they are.

Dequantizing to floats (`GGUFFile.dequantize`) throws away what the quantized modes need:
the small integers and the per-group scales. Two block types are read here, each into
groups of 32 weights along a row with one affine map per group:

- Q4_K (super-blocks of 256 weights = 8 groups of 32): `w = scale * code + low` with codes
  0..15, `scale = d * sc` and `low = -(dmin * m)` (6-bit `sc` and `m` per group, fp16 `d`
  and `dmin` per super-block);
- Q8_0 (blocks of 32): `w = scale * code` with codes -128..127 and an fp16 scale per block.

Both reproduce `gguf.quants.dequantize` bit for bit in float32 (tests/runtime/test_blocks.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUP = 32  # weights per group (one scale, one offset) in both block types
_Q4_K_BLOCK_BYTES = 144  # fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of codes
_Q8_0_BLOCK_BYTES = 34  # fp16 d, 32 int8 codes
Q4_K = 12  # ggml type ids
Q8_0 = 8


@dataclass(frozen=True)
class Groups:
    """A matrix as integer codes with one affine map per group of 32 along each row."""

    codes: np.ndarray  # [rows, cols]: uint8 0..15 (Q4_K) or int8 (Q8_0)
    scale: np.ndarray  # [rows, cols / 32] float32
    low: np.ndarray | None  # [rows, cols / 32] float32; None: symmetric (no offset)

    def dequantize(self) -> np.ndarray:
        rows, cols = self.codes.shape
        grouped = self.codes.reshape(rows, cols // GROUP, GROUP).astype(np.float32)
        out = self.scale[..., None] * grouped
        if self.low is not None:
            out = out + self.low[..., None]
        return out.reshape(rows, cols)


def q4_k_groups(raw: np.ndarray) -> Groups:
    """Codes of a Q4_K matrix given as raw uint8 rows (`GGUFFile.raw`)."""
    rows = raw.shape[0]
    blocks = np.ascontiguousarray(raw).reshape(-1, _Q4_K_BLOCK_BYTES)
    d = blocks[:, 0:2].view(np.float16).astype(np.float32)  # [n, 1]
    dmin = blocks[:, 2:4].view(np.float16).astype(np.float32)
    packed = blocks[:, 4:16].reshape(-1, 3, 4)
    head, mins, tail = packed[:, 0], packed[:, 1], packed[:, 2]  # 4 bytes each
    # Groups 0-3 keep their 6 bits in `head`/`mins`; groups 4-7 put their low 4 bits in
    # `tail` and their top 2 bits in the spare high bits of `head`/`mins`.
    sc = np.concatenate([head & 0x3F, (tail & 0x0F) | ((head >> 2) & 0x30)], axis=-1)
    m = np.concatenate([mins & 0x3F, (tail >> 4) | ((mins >> 2) & 0x30)], axis=-1)
    qs = blocks[:, 16:].reshape(-1, 4, 1, 32)
    # Each 32-byte chunk holds two groups: low nibbles first, then high nibbles.
    codes = (qs >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)) & 0x0F
    scale = d * sc.astype(np.float32)  # [n, 8]
    low = -(dmin * m.astype(np.float32))
    return Groups(
        codes.reshape(rows, -1).astype(np.uint8),
        scale.reshape(rows, -1),
        low.reshape(rows, -1),
    )


def q8_0_groups(raw: np.ndarray) -> Groups:
    """Codes of a Q8_0 matrix given as raw uint8 rows (`GGUFFile.raw`)."""
    rows = raw.shape[0]
    blocks = np.ascontiguousarray(raw).reshape(-1, _Q8_0_BLOCK_BYTES)
    scale = blocks[:, 0:2].view(np.float16).astype(np.float32)  # [n, 1]
    codes = blocks[:, 2:].view(np.int8)
    return Groups(codes.reshape(rows, -1).copy(), scale.reshape(rows, -1), None)
