"""The quantized mode's output head and embedding, screened: approximate scores for the
whole vocabulary, exact ones for the best rows.

A 4-bit copy of the head (`HeadScreen`: min/max per group of `SCREEN_GROUP`, fp16 scales)
scores every row, then the `CANDIDATES` best rows are scored again exactly from an int8
table (`Int8Table`), which for a Q8_0 head is the file's own codes (lossless; a tied model's
embedding looks its rows up in the same table, `TiedEmbedding`). Tokens outside the
candidates keep their approximate logits, so greedy decoding picks the same token as an
exact head unless the true best token is not among the approximate top 128.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import GROUP
from .cpu_kernels import kernels
from .errors import QuantError
from .quant_codes import dequantize, minmax_int4, pack_u4
from .quant_linear import KERNEL_ROWS

CANDIDATES = 128  # head rows rescored exactly per sampled row
SCREEN_GROUP = 64  # weights per group in a head's screen (csrc/head.c's SG)


class Int8Table(nn.Module):
    """Rows as int8 codes with one scale per group of 32: `w = scale * code` (Q8_0's form)."""

    codes: Tensor  # buffers, declared for the type checker
    scale: Tensor

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

    codes: Tensor  # buffers, declared for the type checker
    scale: Tensor
    low: Tensor

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
        k = kernels() if flat.shape[0] <= KERNEL_ROWS and self.codes.device.type == "cpu" else None
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
