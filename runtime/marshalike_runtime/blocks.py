"""The integer codes inside a GGUF file's quantized blocks, for kernels that use them as they are.

Dequantizing to floats (`GGUFFile.dequantize`) throws away what the quantized modes need:
the small integers and the per-group scales. Each block type below is read into groups of
weights along a row (32, or 16 for Q6_K) with one affine map per group:

- Q4_K (super-blocks of 256 weights = 8 groups of 32): `w = scale * code + low` with codes
  0..15, `scale = d * sc` and `low = -(dmin * m)` (6-bit `sc` and `m` per group, fp16 `d`
  and `dmin` per super-block);
- Q4_1 (blocks of 32): `w = d * code + m`, codes 0..15, fp16 `d` and `m`;
- Q5_0 (blocks of 32): `w = d * code`, codes -16..15 (4 low bits plus one bit from a 32-bit
  mask), fp16 `d`;
- Q6_K (super-blocks of 256 = 16 groups of 16): `w = d * sc * code`, codes -32..31 (4 low
  bits plus 2 high bits), int8 `sc` per group, fp16 `d`;
- Q8_0 (blocks of 32): `w = scale * code` with codes -128..127 and an fp16 scale per block.

All reproduce `gguf.quants.dequantize` bit for bit in float32 (tests/runtime/test_quant_codes.py):
every product of a scale and a code is exact in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUP = 32  # weights per group (one scale, one offset), except Q6_K's 16
_Q4_K_BLOCK_BYTES = 144  # fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of codes
_Q4_1_BLOCK_BYTES = 20  # fp16 d, fp16 m, 16 bytes of nibbles
_Q5_0_BLOCK_BYTES = 22  # fp16 d, 32-bit mask of high bits, 16 bytes of nibbles
_Q6_K_BLOCK_BYTES = 210  # 128 bytes of low nibbles, 64 of 2-bit highs, 16 int8 scales, fp16 d
_Q8_0_BLOCK_BYTES = 34  # fp16 d, 32 int8 codes
Q4_1, Q5_0, Q8_0, Q4_K, Q6_K = 3, 6, 8, 12, 14  # ggml type ids


@dataclass(frozen=True)
class Groups:
    """A matrix as integer codes with one affine map per group of `group` along each row."""

    codes: np.ndarray  # [rows, cols]: uint8 0..15 (Q4_K, Q4_1) or int8 (Q5_0, Q6_K, Q8_0)
    scale: np.ndarray  # [rows, cols / group] float32
    low: np.ndarray | None  # [rows, cols / group] float32; None: symmetric (no offset)
    group: int = GROUP

    def dequantize(self) -> np.ndarray:
        rows, cols = self.codes.shape
        grouped = self.codes.reshape(rows, cols // self.group, self.group).astype(np.float32)
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


def q4_1_groups(raw: np.ndarray) -> Groups:
    """Codes of a Q4_1 matrix given as raw uint8 rows."""
    rows = raw.shape[0]
    blocks = np.ascontiguousarray(raw).reshape(-1, _Q4_1_BLOCK_BYTES)
    d = blocks[:, 0:2].view(np.float16).astype(np.float32)
    m = blocks[:, 2:4].view(np.float16).astype(np.float32)
    qs = blocks[:, 4:]
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # codes j and j + 16 share byte j
    return Groups(codes.reshape(rows, -1), d.reshape(rows, -1), m.reshape(rows, -1))


def q5_0_groups(raw: np.ndarray) -> Groups:
    """Codes of a Q5_0 matrix given as raw uint8 rows."""
    rows = raw.shape[0]
    blocks = np.ascontiguousarray(raw).reshape(-1, _Q5_0_BLOCK_BYTES)
    d = blocks[:, 0:2].view(np.float16).astype(np.float32)
    mask = blocks[:, 2:6].copy().view("<u4")  # [n, 1]: bit j is code j's fifth bit
    high = (mask >> np.arange(32, dtype=np.uint32)) & 1  # [n, 32]
    qs = blocks[:, 6:]
    low4 = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)
    codes = (low4 | (high.astype(np.uint8) << 4)).astype(np.int8) - 16
    return Groups(codes.reshape(rows, -1), d.reshape(rows, -1), None)


def q6_k_groups(raw: np.ndarray) -> Groups:
    """Codes of a Q6_K matrix given as raw uint8 rows (groups of 16)."""
    rows = raw.shape[0]
    blocks = np.ascontiguousarray(raw).reshape(-1, _Q6_K_BLOCK_BYTES)
    ql = blocks[:, :128].reshape(-1, 2, 2, 32)  # [n, half, quarter pair, 32]
    qh = blocks[:, 128:192].reshape(-1, 2, 1, 32)
    sc = blocks[:, 192:208].view(np.int8).astype(np.float32)  # [n, 16]
    d = blocks[:, 208:210].view(np.float16).astype(np.float32)  # [n, 1]
    # Each half of 128 weights: quarters 0 and 1 take the low nibbles of ql's two rows,
    # quarters 2 and 3 their high nibbles; qh gives each quarter 2 more bits in turn.
    low4 = np.concatenate([ql & 0x0F, ql >> 4], axis=2)  # [n, 2, 4, 32]
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    high2 = (qh >> shifts) & 0x03
    codes = (low4 | (high2 << 4)).astype(np.int8) - 32
    return Groups(codes.reshape(rows, -1), (d * sc).reshape(rows, -1), None, group=16)
