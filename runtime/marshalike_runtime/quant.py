"""The quantized CPU mode `int4`: fewer bytes read per decoded token.

Decoding reads every weight once per step, and on a small CPU that read is the cost (fp32
Gemma 3 270M moves 1.07 GB per token, 63% of it the tied 262k-row output head). The mode:

- **Linear layers stored quantized** in the GGUF (Q4_K, Q4_1, Q5_0, Q6_K, Q8_0) keep the
  file's own integer codes and per-group scales (`blocks.py`): nothing is rounded a second
  time (a naive re-quantization of these weights drifted badly in an earlier trial). 4-bit
  codes stay 4-bit, Q5_0's 5-bit ones take 5 bits (4-bit codes plus a plane of fifth bits),
  6- and 8-bit ones are held one per byte; scales are fp16 where that is exact (those of
  Q5_0, Q8_0 and Q4_1 blocks), float32 otherwise. Decoding multiplies them
  in our C kernels (`qmatmul.c`), which widen the codes in registers and keep activations
  float32; the query/key/value and the gate/up projections of a layer are fused into one
  product each, so a layer makes four products a step; a step runs every layer in one C
  call (`FastStack`, or one call a layer, `FastDecode`, where not every layer qualifies).
- **Other linear layers** (float checkpoints, F16/F32 tensors) are held in fp16.
- **The output head is screened**: a 4-bit copy (`HeadScreen`: min/max per group of 64,
  fp16 scales) scores the whole vocabulary, then the `CANDIDATES` best rows are scored
  again exactly from an int8 table, which for a Q8_0 head is the file's own codes
  (lossless; the embedding looks its rows up in the same table). Tokens outside the
  candidates keep their approximate logits, so greedy decoding picks the same token as an
  exact head unless the true best token is not among the approximate top 128.

Prompts (more than a few rows) go through torch's own matrix products, fast on many rows,
from the same codes dequantized a block of rows at a time: in bf16 where the CPU multiplies
bf16 in hardware (`prompt_dtype`; 2.3-3x fp32's speed there), in fp32 elsewhere.
Quantizing happens once per model file; `quant_load.py` caches the result.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import GROUP, Groups
from .cpu_kernels import LayerDesc, QLinear, cpu_flags, kernels

QUANT_MODES = ("int4",)
CANDIDATES = 128  # head rows rescored exactly per sampled row
SCREEN_GROUP = 64  # weights per group in a head's screen (qmatmul.c's SG)
_HALF_ROWS = 16  # rows (tokens) above which a half layer computes in fp32
_KERNEL_ROWS = 16  # rows up to which a quantized layer uses the C kernels
# Weights dequantized at a time for a prompt's product, by its dtype (1 MB of fp32, 2 MB of
# bf16): the fastest of 2^17 to 2^21 (and whole layers, for bf16) on a 2-core AMD EPYC.
_BLOCK_WEIGHTS = {torch.float32: 1 << 18, torch.bfloat16: 1 << 20}


class QuantError(ValueError):
    """A quantized mode this torch build or device cannot run."""


def check_supported(mode: str, device: torch.device) -> None:
    if mode not in QUANT_MODES:
        raise QuantError(f"unknown quantization mode {mode!r}; expected one of {QUANT_MODES}")
    if device.type != "cpu":
        raise QuantError(f"quantization mode {mode!r} runs on CPU; on a GPU the model runs in bf16")


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
        scale, low = torch.from_numpy(groups.scale).float(), groups.low
        low = None if low is None else torch.from_numpy(low).float()
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
        high = None if first.high is None else torch.cat([p.high for p in parts])
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
        few = flat.shape[0] <= _KERNEL_ROWS
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


def _cat_optional(parts: list[tuple[Tensor | None, tuple[int, ...]]]) -> Tensor | None:
    """Concatenate optional tensors (with their shapes), zeros for the missing; None if all are."""
    if all(t is None for t, _ in parts):
        return None
    return torch.cat([torch.zeros(shape) if t is None else t for t, shape in parts])


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


class HalfLinear(nn.Module):
    """fp16 weights; the product runs in fp16 and comes back in the caller's dtype."""

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


class Int8Table(nn.Module):
    """Rows as int8 codes with one scale per group of 32: `w = scale * code` (Q8_0's form)."""

    def __init__(self, codes: Tensor, scale: Tensor, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.dtype = dtype
        self.register_buffer("codes", codes)  # [V, K] int8
        self.register_buffer("scale", scale)  # [V, K/32] float32

    @classmethod
    def from_float(cls, weight: Tensor, chunk_rows: int = 16384) -> Int8Table:
        """Symmetric int8 per group of 32 (for heads that are not Q8_0 in the file)."""
        rows, cols = weight.shape
        codes = torch.empty(rows, cols, dtype=torch.int8)
        scale = torch.empty(rows, cols // GROUP)
        for i in range(0, rows, chunk_rows):
            w = weight[i : i + chunk_rows].float().reshape(-1, cols // GROUP, GROUP)
            s = (w.abs().amax(-1) / 127).clamp(min=1e-12)
            q = torch.round(w / s[..., None]).clamp(-127, 127)
            codes[i : i + chunk_rows] = q.reshape(-1, cols).to(torch.int8)
            scale[i : i + chunk_rows] = s
        return cls(codes, scale, weight.dtype)

    @classmethod
    def empty(cls, rows: int, cols: int) -> Int8Table:
        meta = torch.device("meta")
        codes = torch.empty(rows, cols, dtype=torch.int8, device=meta)
        return cls(codes, torch.empty(rows, cols // GROUP, device=meta))

    def rows(self, ids: Tensor) -> Tensor:
        """Exact rows ``[..., K]`` (float32) for token ids of any shape."""
        codes = self.codes[ids]
        grouped = codes.reshape(*codes.shape[:-1], -1, GROUP).float()
        return (grouped * self.scale[ids][..., None]).reshape(codes.shape)

    def forward(self, ids: Tensor) -> Tensor:  # an embedding lookup
        return self.rows(ids).to(self.dtype)


class HeadScreen(nn.Module):
    """A lossy 4-bit copy of an output head, for scoring the whole vocabulary approximately
    (exact rescoring of the best rows follows): min/max codes per group of `SCREEN_GROUP`
    with fp16 scale and low, packed two per byte (byte j of a group holds code j and code
    j + 32). Our C kernel rounds the activations to int8 per group; without it, or for many
    rows, the product is computed in fp32 from the same codes."""

    def __init__(self, codes: Tensor, scale: Tensor, low: Tensor) -> None:
        super().__init__()
        self.out_features, self.in_features = codes.shape[0], codes.shape[1] * 2
        _check_screen_width(self.in_features)
        self.register_buffer("codes", codes)  # [N, K/2] uint8
        self.register_buffer("scale", scale)  # [N, K/64] float16
        self.register_buffer("low", low)

    @classmethod
    def from_weight(cls, weight: Tensor) -> HeadScreen:
        _check_screen_width(weight.shape[1])
        codes, scale, low = minmax_int4(weight, SCREEN_GROUP)
        return cls(pack_u4(codes, SCREEN_GROUP), scale.half(), low.half())

    def spec(self) -> dict[str, Any]:
        return {"kind": "screen", "shape": [self.out_features, self.in_features]}

    @classmethod
    def empty(cls, spec: Mapping[str, Any]) -> HeadScreen:
        meta = torch.device("meta")
        n, k = spec["shape"]
        scale = torch.empty(n, k // SCREEN_GROUP, dtype=torch.float16, device=meta)
        return cls(torch.empty(n, k // 2, dtype=torch.uint8, device=meta), scale, scale.clone())

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, self.in_features).float()
        k = kernels() if flat.shape[0] <= _KERNEL_ROWS and self.codes.device.type == "cpu" else None
        y = (
            F.linear(flat, self.weight())
            if k is None
            else k.screen(self.codes, self.scale, self.low, flat)
        )
        return y.reshape(*x.shape[:-1], self.out_features)

    def weight(self) -> Tensor:
        """The float32 weight ``[N, K]`` the codes stand for."""
        return dequantize(self.codes, self.scale, self.low, SCREEN_GROUP, packed=True)


def _check_screen_width(width: int) -> None:
    if width % SCREEN_GROUP:
        raise QuantError(
            f"quantization mode 'int4' needs a model width that is a multiple of "
            f"{SCREEN_GROUP} (its output head is screened in groups of {SCREEN_GROUP}); "
            f"this model's is {width}"
        )


class ScreenedHead(nn.Module):
    """Output head: approximate logits for all rows, exact ones for the best `CANDIDATES`."""

    def __init__(self, approx: HeadScreen, table: Int8Table, candidates: int = CANDIDATES) -> None:
        super().__init__()
        self.approx = approx
        self.table = table
        self.candidates = min(candidates, approx.out_features)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.approx(x)  # [..., V]
        flat, hidden = logits.reshape(-1, logits.shape[-1]), x.reshape(-1, x.shape[-1]).float()
        k = kernels() if flat.device.type == "cpu" else None
        ids = k.topk_indices(flat, self.candidates) if k is not None else None
        if ids is None:
            ids = flat.topk(self.candidates, dim=-1).indices  # [M, C]
        if k is not None and self.table.scale.dtype == torch.float32:
            exact = k.rescore(self.table.codes, self.table.scale, ids, hidden)
        else:
            exact = torch.einsum("mck,mk->mc", self.table.rows(ids), hidden)
        flat.scatter_(1, ids, exact)
        return logits


class TiedEmbedding(nn.Module):
    """The embedding of a tied model: looks rows up in its head's table (not a second copy)."""

    def __init__(self, head: ScreenedHead) -> None:
        super().__init__()
        self._head = [head]  # a list, so the table is not registered (and saved) twice

    def forward(self, ids: Tensor) -> Tensor:
        return self._head[0].table(ids)


# --- one decoding step per layer in C --------------------------------------------------


class FastDecode:
    """A layer's decoding step (one new token per row) as one call to `decode_layer` in
    qmatmul.c, for a layer whose four products are `GroupLinear`s; it computes what
    `TransformerBlock.forward` computes (tests/runtime/test_quant.py compares them).

    Not an `nn.Module`: it holds no state of its own, only raw pointers into the layer's
    buffers, rebuilt whenever the KV cache (or a weight) has moved."""

    def __init__(self, block: nn.Module) -> None:
        self._block = [block]  # a list: no module registered inside itself
        self._desc: LayerDesc | None = None
        self._key: tuple[int, ...] = ()

    def __call__(self, x: Tensor, rope: tuple[Tensor, Tensor], ctx: Any) -> Tensor | None:
        k = kernels()
        if k is None or not _one_float_row(x) or (desc := self.current()) is None:
            return None
        out = x.reshape(x.shape[0], -1).contiguous().clone()
        # cos and sin of this one position: [1, head_dim] rows of the model's RoPE table,
        # contiguous and in x's dtype (float32), as the C side reads them.
        k.decode_layer(desc, out, ctx.kv_len - 1, *rope)
        return out.view_as(x)

    def current(self) -> LayerDesc | None:
        """The layer's description as its buffers are now (None without a KV cache)."""
        block = self._block[0]
        cache = block.attention.kv_cache
        if cache is None:
            return None
        key = (cache.k_cache.data_ptr(), cache.v_cache.data_ptr(), *cache.k_cache.shape,
               block.attention.wqkv.codes.data_ptr())  # fmt: skip
        if key != self._key:
            self._desc, self._key = self._describe(block), key
        return self._desc

    @staticmethod
    def applies_to(block: nn.Module) -> bool:
        att, ff = block.attention, block.feed_forward
        layers = (att.wqkv, att.wo, ff.w13, ff.w2)
        return all(isinstance(m, GroupLinear) for m in layers) and att.args.head_dim % 2 == 0

    @staticmethod
    def _describe(block: nn.Module) -> LayerDesc:
        att, ff, a = block.attention, block.feed_forward, block.attention.args
        cache = att.kv_cache
        sandwich = block.sandwich

        def ptr(t: Tensor | None) -> int | None:
            return None if t is None else t.data_ptr()

        def norm(module: nn.Module | None) -> int | None:
            return None if module is None else ptr(module.weight)

        return LayerDesc(
            wqkv=_qlinear(att.wqkv), wo=_qlinear(att.wo), w13=_qlinear(ff.w13), w2=_qlinear(ff.w2),
            attn_norm=norm(block.attention_norm), ffn_norm=norm(block.ffn_norm),
            post_attn_norm=norm(block.post_attention_norm) if sandwich else None,
            post_ffw_norm=norm(block.post_ffw_norm) if sandwich else None,
            q_norm=norm(att.q_norm) if a.qk_norm else None,
            k_norm=norm(att.k_norm) if a.qk_norm else None,
            k_cache=ptr(cache.k_cache), v_cache=ptr(cache.v_cache),
            cache_len=cache.k_cache.shape[2],
            window=a.sliding_window if att.local and a.sliding_window else 0,
            dim=a.dim, n_heads=a.n_heads, n_kv_heads=a.n_kv_heads, head_dim=a.head_dim,
            hidden=a.intermediate_size, eps=a.norm_eps, attn_scale=a.attn_scale,
            gelu=int(a.activation == "gelu_tanh"),
        )  # fmt: skip


class FastStack:
    """Every layer's decoding step in one call to `decode_layers` (qmatmul.c), for a model
    whose layers all have a `FastDecode`: it computes what the layers' own calls compute,
    without a trip through Python between them."""

    def __init__(self, model: nn.Module) -> None:
        self._layers: list[FastDecode] = [block.fast_decode for block in model.layers]
        self._local = (ctypes.c_uint8 * len(self._layers))(
            *(int(block.attention.local) for block in model.layers)
        )
        self._descs: list[LayerDesc | None] = [None] * len(self._layers)
        self._array: ctypes.Array[LayerDesc] | None = None

    def __call__(
        self, x: Tensor, rope_global: tuple[Tensor, Tensor], rope_local: tuple[Tensor, Tensor],
        ctx: Any,
    ) -> Tensor | None:  # fmt: skip
        k = kernels()
        if k is None or not _one_float_row(x):
            return None
        descs = [layer.current() for layer in self._layers]
        if any(d is None for d in descs):
            return None
        # The old descriptions are held until replaced, so `is` cannot mistake a new one.
        if any(a is not b for a, b in zip(descs, self._descs, strict=True)):
            self._descs, self._array = descs, (LayerDesc * len(descs))(*descs)
        out = x.reshape(x.shape[0], -1).contiguous().clone()
        k.decode_layers(self._array, self._local, out, ctx.kv_len - 1, rope_global, rope_local)
        return out.view_as(x)


def _one_float_row(x: Tensor) -> bool:
    """Whether ``x`` [B, S, dim] is one float32 position per row (a decoding step)."""
    return x.shape[1] == 1 and x.dtype == torch.float32


def _qlinear(m: GroupLinear) -> QLinear:
    return QLinear(
        codes=m.codes.data_ptr(), high=None if m.high is None else m.high.data_ptr(),
        scale=m.scale.data_ptr(),
        low=None if m.low is None else m.low.data_ptr(),
        bias=None if m.bias is None else m.bias.data_ptr(),
        n=m.out_features, k=m.in_features, group=m.group, packed=int(m.packed),
        half_scales=int(m.scale.dtype == torch.float16),
    )  # fmt: skip


@contextmanager
def without_fast_decode(model: nn.Module) -> Iterator[None]:
    """Decode through the torch modules for a while (to compare the two)."""
    saved, stack = [block.fast_decode for block in model.layers], model.fast_step
    for block in model.layers:
        block.fast_decode = None
    model.fast_step = None
    try:
        yield
    finally:
        for block, fast in zip(model.layers, saved, strict=True):
            block.fast_decode = fast
        model.fast_step = stack


def enable_fast_decode(model: nn.Module) -> None:
    """Give every layer that qualifies its `FastDecode`, and the model a `FastStack` where
    they all do."""
    for block in model.layers:
        block.fast_decode = FastDecode(block) if FastDecode.applies_to(block) else None
    every = all(block.fast_decode is not None for block in model.layers)
    model.fast_step = FastStack(model) if every else None


# --- whole models ----------------------------------------------------------------------

# What each replaced module became (name -> spec); saved beside a quantized state so that
# a cached model can be rebuilt from shapes alone (`apply_plan`).
Plan = dict[str, dict[str, Any]]
_FUSED = {"attention": ("wqkv", ("wq", "wk", "wv")), "feed_forward": ("w13", ("w1", "w3"))}


def quantize_model(
    model: nn.Module, mode: str = "int4", sources: Mapping[str, Groups] | None = None
) -> Plan:
    """Replace ``model``'s linear layers and head in place (see the module doc); the plan.

    ``sources`` maps a weight's name (``layers.0.attention.wo.weight``) to the codes the
    checkpoint stored it in (`blocks.Groups`); a Q8_0 head's codes become the exact table.
    Weights without a source are held in fp16.
    """
    check_supported(mode, next(model.parameters()).device)
    sources = sources or {}
    plan: Plan = {}
    tied = model.output.weight is model.tok_embeddings.weight
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and name != "output":
            _set(model, name, _linear(module, sources.get(f"{name}.weight")))
    for name, module in list(model.named_modules()):
        for kind, (fused, parts) in _FUSED.items():
            if name.endswith(kind) and (layer := _fuse(module, parts)) is not None:
                setattr(module, fused, layer)
                plan[f"{name}.{fused}"] = {**layer.spec(), "replaces": list(parts)}
    for name, module in model.named_modules():
        if isinstance(module, (GroupLinear, HalfLinear)) and name not in plan:
            plan[name] = module.spec()
    head = model.output
    table_source = sources.get("tok_embeddings.weight" if tied else "output.weight")
    table = _table(head.weight, table_source)
    model.output = ScreenedHead(HeadScreen.from_weight(head.weight.detach()), table)
    plan["output"] = {"kind": "head", "screen": model.output.approx.spec()}
    if tied:
        model.tok_embeddings = TiedEmbedding(model.output)
        plan["tok_embeddings"] = {"kind": "tied"}
    enable_fast_decode(model)
    return plan


def _linear(module: nn.Linear, groups: Groups | None) -> nn.Module:
    bias = None if module.bias is None else module.bias.detach().clone()
    if groups is not None:
        return GroupLinear.from_groups(groups, bias)
    return HalfLinear(module.weight.detach(), bias)


def _fuse(module: nn.Module, parts: tuple[str, ...]) -> GroupLinear | None:
    """One product for ``parts`` (and those removed from ``module``) when their groups have
    the same size: in their own layout when they share it, else all as int8 (Gemma's Q5_0
    queries and keys with a Q8_0 value)."""
    layers = [getattr(module, p, None) for p in parts]
    first = layers[0]
    if not all(isinstance(m, GroupLinear) for m in layers):
        return None
    if not all(first.fusable_with(m) for m in layers):
        if any((m.group, m.in_features) != (first.group, first.in_features) for m in layers):
            return None
        layers = [m.widened() for m in layers]
    for p in parts:
        setattr(module, p, None)
    return GroupLinear.cat(layers)


def _table(weight: Tensor, source: Groups | None) -> Int8Table:
    if source is not None and source.low is None and source.group == GROUP:
        codes = torch.from_numpy(source.codes).to(torch.int8)
        return Int8Table(codes, torch.from_numpy(source.scale), weight.dtype)
    return Int8Table.from_float(weight.detach())


def apply_plan(model: nn.Module, plan: Plan) -> None:
    """Give a model built on the meta device the empty quantized modules of ``plan``."""
    for name, spec in plan.items():
        kind = spec["kind"]
        if kind == "group":
            _set(model, name, GroupLinear.empty(spec))
            parent = model.get_submodule(name.rpartition(".")[0])
            for part in spec.get("replaces", ()):
                setattr(parent, part, None)
        elif kind == "half":
            _set(model, name, HalfLinear.empty(*spec["shape"], spec["bias"]))
        elif kind == "head":
            approx = HeadScreen.empty(spec["screen"])
            table = Int8Table.empty(approx.out_features, approx.in_features)
            _set(model, name, ScreenedHead(approx, table))
        elif kind != "tied":
            raise ValueError(f"unknown module kind {kind!r} in a quantized plan")
    if plan.get("tok_embeddings", {}).get("kind") == "tied":
        model.tok_embeddings = TiedEmbedding(model.output)
    enable_fast_decode(model)


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The quantized modules of ``model`` (for tests and reports)."""
    kinds = (GroupLinear, HalfLinear, HeadScreen, ScreenedHead, TiedEmbedding)
    return ((n, m) for n, m in model.named_modules() if isinstance(m, kinds))
