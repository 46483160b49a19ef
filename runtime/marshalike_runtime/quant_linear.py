"""The quantized mode's linear layers: `GroupLinear` (the checkpoint's own integer codes)
and `HalfLinear` (fp16 weights, for layers the file stores as floats).

A `GroupLinear` keeps the file's codes and per-group scales as they are (`quant_codes`
describes the layouts): 4-bit codes stay 4-bit, Q5_0's 5-bit ones take 5 bits, 6- and 8-bit
ones are held one per byte; scales are fp16 where that is exact (those of Q5_0, Q8_0 and
Q4_1 blocks), float32 otherwise. A few rows (decoding) are multiplied in our C kernels
(`csrc/matmul.c`), which widen the codes in registers and keep activations float32. Prompts
(more than a few rows) go through torch's own matrix products, fast on many rows, from the
same codes dequantized a block of rows at a time: in bf16 where the CPU multiplies bf16 in
hardware (`prompt_dtype`; 2.3-3x fp32's speed there), in fp32 elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import GROUP, Groups
from .cpu_kernels import cpu_flags, kernels
from .quant_codes import dequantize, one_per_weight, pack_u4, pack_u5

KERNEL_ROWS = 16  # rows up to which a quantized layer uses the C kernels
_HALF_ROWS = 16  # rows (tokens) above which a half layer computes in fp32
# Weights dequantized at a time for a prompt's product, by its dtype (1 MB of fp32, 2 MB of
# bf16): the fastest of 2^17 to 2^21 (and whole layers, for bf16) on a 2-core AMD EPYC.
_BLOCK_WEIGHTS = {torch.float32: 1 << 18, torch.bfloat16: 1 << 20}


class GroupLinear(nn.Module):
    """Weights as integer codes with one affine map per group along each row.

    ``w[n, k] = scale[n, g] * code[n, k] + low[n, g]`` with ``g = k // group`` (no ``low``:
    symmetric). Codes are int8 ``[N, K]``, or two 4-bit codes per byte ``[N, K/2]``
    (``packed``, groups of 32: byte j of a group holds code j low and code j + 16 high),
    0..15; or, with ``high`` ``[N, K/8]`` (a fifth bit per code, little-endian within each
    byte), 5-bit codes standing for ``(nibble | bit << 4) - 16``, -16..15 (Q5_0's).
    A few rows (decoding) go through our C kernels, in fp32; prompts go through torch from
    the same codes (`prompt_dtype`), as do all rows where the kernels could not be built.
    """

    # Buffers (`register_buffer`), declared for the type checker.
    codes: Tensor
    high: Tensor | None
    scale: Tensor
    low: Tensor | None
    bias: Tensor | None

    def __init__(
        self,
        codes: Tensor,
        scale: Tensor,
        low: Tensor | None,
        bias: Tensor | None,
        group: int,
        packed: bool,
        high: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.group, self.packed = group, packed
        self.out_features = codes.shape[0]
        self.in_features = codes.shape[1] * (2 if packed else 1)
        # The kernels walk 16 codes at a time, and 4-bit codes come in groups of 32.
        if group % 16 or self.in_features % group or (packed and group != GROUP):
            raise ValueError(f"no kernel for groups of {group} over {self.in_features} inputs")
        bits_shape = (self.out_features, self.in_features // 8)
        if high is not None and (not packed or high.shape != bits_shape):
            raise ValueError("fifth bits belong to packed codes, one bit per code")
        self.register_buffer("codes", codes)
        self.register_buffer("high", high)
        self.register_buffer("scale", scale)  # [N, K / group] float32 or float16
        self.register_buffer("low", low)
        self.register_buffer("bias", bias)

    @classmethod
    def from_groups(cls, groups: Groups, bias: Tensor | None = None) -> GroupLinear:
        """The checkpoint's codes as they are, in groups of 32: 0..15 as u4, -16..15 without
        offsets (Q5_0) as u5; others one per byte. Scales in fp16 where that is exact."""
        codes = torch.from_numpy(groups.codes)
        scale = torch.from_numpy(groups.scale).float()
        low = None if groups.low is None else torch.from_numpy(groups.low).float()
        if _half_exact(scale) and (low is None or _half_exact(low)):
            scale, low = scale.half(), None if low is None else low.half()
        lo, hi = int(codes.min()), int(codes.max())
        if groups.group == GROUP and lo >= 0 and hi <= 15:
            return cls(pack_u4(codes), scale, low, bias, GROUP, packed=True)
        if groups.group == GROUP and low is None and lo >= -16 and hi <= 15:
            nibbles, high = pack_u5(codes)
            return cls(nibbles, scale, low, bias, GROUP, packed=True, high=high)
        return cls(codes.to(torch.int8), scale, low, bias, groups.group, packed=False)

    @classmethod
    def cat(cls, parts: list[GroupLinear]) -> GroupLinear:
        """One layer computing all of ``parts``' outputs, concatenated in order."""
        first = parts[0]
        low = _cat_optional([(p.low, p.scale.shape) for p in parts])
        bias = _cat_optional([(p.bias, (p.out_features,)) for p in parts])
        codes = torch.cat([p.codes for p in parts])
        scale = torch.cat([p.scale for p in parts])
        highs = [p.high for p in parts if p.high is not None]
        high = None if first.high is None else torch.cat(highs)
        return cls(codes, scale, low, bias, first.group, first.packed, high)

    def fusable_with(self, other: nn.Module) -> bool:
        return (
            isinstance(other, GroupLinear)
            and (other.group, other.packed, other.in_features, other.high is None)
            == (self.group, self.packed, self.in_features, self.high is None)
            and other.scale.dtype == self.scale.dtype
        )

    def widened(self) -> GroupLinear:
        """The same weights with one int8 code per weight and float32 scales (lossless):
        a form every layer of the same group size can be fused with."""
        codes = one_per_weight(self.codes, self.group, self.packed, self.high)
        low = None if self.low is None else self.low.float()
        return GroupLinear(
            codes.to(torch.int8), self.scale.float(), low, self.bias, self.group, packed=False
        )

    def spec(self) -> dict[str, Any]:
        """What `empty` needs to rebuild this layer's shapes (saved in a quantized cache)."""
        return {
            "kind": "group",
            "shape": [self.out_features, self.in_features],
            "group": self.group,
            "packed": self.packed,
            "high": self.high is not None,
            "low": self.low is not None,
            "bias": self.bias is not None,
            "half_scales": self.scale.dtype == torch.float16,
        }

    @classmethod
    def empty(cls, spec: Mapping[str, Any]) -> GroupLinear:
        """Shapes only, on the meta device: filled by `load_state_dict(assign=True)`."""
        meta = torch.device("meta")
        (n, k), group, packed = spec["shape"], spec["group"], spec["packed"]
        codes = torch.empty(
            n, k // 2 if packed else k, dtype=torch.uint8 if packed else torch.int8, device=meta
        )
        dtype = torch.float16 if spec["half_scales"] else torch.float32
        scale = torch.empty(n, k // group, dtype=dtype, device=meta)
        # torch.empty rather than empty_like: on the meta device empty_like goes through
        # torch's reference implementations, whose first use imports sympy (0.3 s a load).
        low = torch.empty(scale.shape, dtype=dtype, device=meta) if spec["low"] else None
        bias = torch.empty(n, device=meta) if spec["bias"] else None
        high = torch.empty(n, k // 8, dtype=torch.uint8, device=meta) if spec["high"] else None
        return cls(codes, scale, low, bias, group, packed, high)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, self.in_features).float()
        few = flat.shape[0] <= KERNEL_ROWS
        k = kernels() if few else None
        if k is None:  # a prompt, or no kernels: decoding stays in fp32 even then
            y = self._in_row_blocks(flat, torch.float32 if few else prompt_dtype())
        elif self.packed:
            y = k.u4(self.codes, self.scale, self.low, flat, self.high)
        else:
            y = k.i8(self.codes, self.scale, self.low, self.group, flat)
        y = y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return y if self.bias is None else y + self.bias

    def weight(
        self, start: int = 0, stop: int | None = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """The weight ``[N, K]`` the codes stand for (rows ``start:stop`` of it), in float32
        or bfloat16."""
        rows = slice(start, stop)

        def part(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[rows]

        return dequantize(
            self.codes[rows], self.scale[rows], part(self.low), self.group, self.packed,
            part(self.high), dtype,
        )  # fmt: skip

    def _in_row_blocks(self, flat: Tensor, dtype: torch.dtype) -> Tensor:
        """``flat @ W.T``, dequantizing `_BLOCK_WEIGHTS` weights at a time: each block is
        still in cache when torch multiplies it, and torch's products are faster on the
        narrower shapes (the fused gate/up product of a 207-token prompt: 78-86 GFLOP/s
        whole, 94-105 in these blocks). The product runs in ``dtype``; the result is fp32."""
        x = flat.to(dtype)
        rows = max(1, _BLOCK_WEIGHTS[dtype] // self.in_features)
        blocks = range(0, self.out_features, rows)
        parts = [F.linear(x, self.weight(n, n + rows, dtype)) for n in blocks]
        return (parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)).float()


@functools.cache
def prompt_dtype() -> torch.dtype:
    """The dtype of a prompt's products in a quantized layer: bf16 where the CPU multiplies
    bf16 in hardware (AVX512-BF16 or AMX-BF16, as /proc/cpuinfo lists them), fp32 elsewhere,
    where torch emulates bf16. With hardware support torch's bf16 products run 2.3-3x its
    fp32 ones (Gemma 3 270M's shapes, a 207-token prompt, 2-core AMD EPYC). Activations and
    weights then enter the product with 8 significant bits instead of fp32's 24, about the
    precision of the 8-bit activations llama.cpp multiplies its quantized weights by; torch
    adds the products in fp32 and rounds each result to bf16 (on a CPU it has no bf16
    product with an fp32 result). Decoding is not affected: its few rows stay in our fp32
    kernels."""
    return torch.bfloat16 if cpu_flags() & {"avx512_bf16", "amx_bf16"} else torch.float32


def _half_exact(values: Tensor) -> bool:
    """Whether float32 ``values`` are all fp16 numbers (so storing them in fp16 loses nothing)."""
    return bool(torch.equal(values.half().float(), values))


def _cat_optional(parts: list[tuple[Tensor | None, tuple[int, ...]]]) -> Tensor | None:
    """Concatenate optional tensors (with their shapes), zeros for the missing; None if all are."""
    if all(t is None for t, _ in parts):
        return None
    return torch.cat([torch.zeros(shape) if t is None else t for t, shape in parts])


class HalfLinear(nn.Module):
    """fp16 weights; the product runs in fp16 and comes back in the caller's dtype."""

    weight: Tensor  # buffers, declared for the type checker
    bias: Tensor | None

    def __init__(self, weight: Tensor, bias: Tensor | None = None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight.to(torch.float16))
        self.register_buffer("bias", bias)

    @classmethod
    def empty(cls, out_features: int, in_features: int, bias: bool) -> HalfLinear:
        meta = torch.device("meta")
        b = torch.empty(out_features, device=meta) if bias else None
        return cls(torch.empty(out_features, in_features, dtype=torch.float16, device=meta), b)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "half",
            "shape": [self.out_features, self.in_features],
            "bias": self.bias is not None,
        }

    def forward(self, x: Tensor) -> Tensor:
        if x.numel() > _HALF_ROWS * self.in_features:
            # A prompt: fp16 matrix products are slow on CPUs without fp16 arithmetic, while
            # fp32 ones are fast and converting the weight costs little next to them.
            y = F.linear(x, self.weight.to(x.dtype))
        else:
            y = F.linear(x.to(torch.float16), self.weight).to(x.dtype)
        return y if self.bias is None else y + self.bias
