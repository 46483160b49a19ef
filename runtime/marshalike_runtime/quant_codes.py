"""The integer codes of quantized weights: packing, unpacking and dequantizing them.

Codes come in three layouts (`quant_linear.GroupLinear` holds all three): int8, one code per
byte; u4, two codes 0..15 per byte (byte j of a group of 32 holds code j in its low nibble
and code j + 16 in its high one); u5, codes -16..15 held as u4 nibbles plus a plane of fifth
bits (Q5_0's). `dequantize` turns codes and their per-group scales back into weights, in our
C kernel where it is built and in torch otherwise. `minmax_int4` quantizes float weights
(an output head's screen) to u4 codes spanning each group's range.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .blocks import GROUP
from .cpu_kernels import kernels


def dequantize(
    codes: Tensor,
    scale: Tensor,
    low: Tensor | None,
    group: int,
    packed: bool,
    high: Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The weight ``[N, K]`` of i8 codes ``[N, K]`` or (``packed``) u4 codes ``[N, K/2]``
    (u5 with ``high``) with ``scale``/``low`` ``[N, K/group]``, in float32 or bfloat16 (the
    float32 values rounded): our C kernel on a CPU, torch otherwise."""
    if (kernel := kernels()) is not None and codes.device.type == "cpu":
        return kernel.dequantize(codes, scale, low, group, packed, high, dtype)
    n, k = codes.shape[0], codes.shape[1] * (2 if packed else 1)
    wide = one_per_weight(codes, group, packed, high)
    grouped = wide.reshape(n, k // group, group).float() * scale.float()[..., None]
    if low is not None:
        grouped = grouped + low.float()[..., None]
    return grouped.reshape(n, k).to(dtype)


def one_per_weight(codes: Tensor, group: int, packed: bool, high: Tensor | None) -> Tensor:
    """``[N, K]`` codes, one per weight, of any layout: i8 as they are, u4 and u5 unpacked."""
    if not packed:
        return codes
    return unpack_u4(codes, group) if high is None else unpack_u5(codes, high)


def pack_u4(codes: Tensor, group: int = GROUP) -> Tensor:
    """``[N, K]`` codes 0..15 -> ``[N, K/2]`` bytes; byte j of a group: code j | code j+group/2
    << 4."""
    n, k = codes.shape
    grouped = codes.to(torch.uint8).reshape(n, k // group, 2, group // 2)
    return (grouped[:, :, 0] | (grouped[:, :, 1] << 4)).reshape(n, k // 2).contiguous()


def unpack_u4(packed: Tensor, group: int = GROUP) -> Tensor:
    n, half = packed.shape
    grouped = packed.reshape(n, half // (group // 2), group // 2)
    return torch.cat((grouped & 0x0F, grouped >> 4), dim=-1).reshape(n, half * 2)


def pack_u5(codes: Tensor) -> tuple[Tensor, Tensor]:
    """``[N, K]`` codes -16..15 (groups of 32) -> their low 4 bits as `pack_u4` packs them, and
    their fifth bits ``[N, K/8]`` (code k's is bit k % 8 of byte k // 8)."""
    n, k = codes.shape
    biased = (codes.to(torch.int16) + 16).to(torch.uint8)
    bits = (biased >> 4).reshape(n, k // 8, 8)
    weights = torch.tensor([1 << i for i in range(8)], dtype=torch.uint8)
    high = (bits * weights).sum(-1, dtype=torch.int32).to(torch.uint8)
    return pack_u4(biased & 0x0F), high


def unpack_u5(packed: Tensor, high: Tensor) -> Tensor:
    """The int8 codes -16..15 `pack_u5` packed."""
    n, half = packed.shape
    shifts = torch.arange(8, dtype=torch.uint8)
    bits = ((high[..., None] >> shifts) & 1).reshape(n, half * 2)
    return (unpack_u4(packed) | (bits << 4)).to(torch.int8) - 16


def minmax_int4(
    weight: Tensor, group: int = GROUP, chunk_rows: int = 16384
) -> tuple[Tensor, Tensor, Tensor]:
    """Per group: codes 0..15 spanning [min, max]; returns (codes, scale, low)."""
    rows, cols = weight.shape
    codes = torch.empty(rows, cols, dtype=torch.uint8)
    scale = torch.empty(rows, cols // group)
    low = torch.empty(rows, cols // group)
    for i in range(0, rows, chunk_rows):
        w = weight[i : i + chunk_rows].float().reshape(-1, cols // group, group)
        lo, hi = w.amin(-1), w.amax(-1)
        s = ((hi - lo) / 15).clamp(min=1e-12)
        q = torch.round((w - lo[..., None]) / s[..., None]).clamp(0, 15)
        codes[i : i + chunk_rows] = q.reshape(-1, cols).to(torch.uint8)
        scale[i : i + chunk_rows], low[i : i + chunk_rows] = s, lo
    return codes, scale, low
