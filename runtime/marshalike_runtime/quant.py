"""The quantized CPU mode `int4`: fewer bytes read per decoded token, on torch's own kernels.

Decoding reads every weight once per step, and on a small CPU that read is the cost (fp32
Gemma 3 270M moves 1.07 GB per token, 63% of it the tied 262k-row output head). The mode:

- **Linear layers stored as Q4_K** in the GGUF keep their 4-bit codes: each group of 32 has
  `w = scale * code + low`, which is exactly the affine form `torch._weight_int4pack_mm_for_cpu`
  computes (its zero point is `low + 8 * scale`). Only the scales are rounded, to the
  kernel's bf16, and activations enter the kernel as bf16.
- **Other linear layers** (Q5_0, Q6_K, Q8_0, or any float checkpoint) are held in fp16: no
  second 4-bit rounding of weights that were quantized once already (that drifted badly in
  an earlier trial); fp16 keeps them to ~3 decimal digits and halves fp32's bytes.
- **The output head is screened**: a 4-bit copy (min/max per group of 32) scores the whole
  vocabulary cheaply, then the `CANDIDATES` best rows are scored again exactly from an int8
  table, which for a Q8_0 head is the file's own codes (lossless; the embedding looks its
  rows up in the same table). Tokens outside the candidates keep their approximate logits,
  so greedy decoding picks the same token as an exact head unless the true best token is not
  among the approximate top 64.

Quantizing happens once per model file; `quant_load.py` caches the result. Measured with
benchmarks/runtime_bench.py on the embedded model (2-core AVX2 CPU, 2026-11-29): decode 22.3
tok/s against fp32's 7.9, batch of 8 48.6 tok/s, prefill 485 tok/s, load 0.91 s, peak RSS
0.95 GB; 11 of 12 prompts keep fp32's first 64 greedy tokens. Per decoded token the 4-bit
head pass costs about 17 ms of the ~45: torch's int4 kernel is compute-bound here, so it
reads its 84 MB at ~5 GB/s where llama.cpp's kernels stream at twice that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import GROUP, Groups

QUANT_MODES = ("int4",)
CANDIDATES = 64  # head rows rescored exactly per sampled row
_PACK_ROWS = 4096  # rows packed at a time: the kernel's packer wants int32 codes
_HALF_ROWS = 16  # rows (tokens) above which a layer computes in fp32


class QuantError(ValueError):
    """A quantized mode this torch build or device cannot run."""


def check_supported(mode: str, device: torch.device) -> None:
    if mode not in QUANT_MODES:
        raise QuantError(f"unknown quantization mode {mode!r}; expected one of {QUANT_MODES}")
    if device.type != "cpu" or not hasattr(torch, "_weight_int4pack_mm_for_cpu"):
        raise QuantError(
            f"quantization mode {mode!r} runs on CPU with torch's int4 kernel "
            f"(torch {torch.__version__} on {device.type} does not have it); "
            "on a GPU the model runs in bf16"
        )


class Int4Linear(nn.Module):
    """Weights as 4-bit codes with an affine map per group of 32 input columns."""

    def __init__(
        self,
        packed: Tensor,
        scale_zero: Tensor,
        bias: Tensor | None = None,
        exact: tuple[Tensor, Tensor, Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.out_features = packed.shape[0]
        self.in_features = scale_zero.shape[0] * GROUP
        self.register_buffer("packed", packed)  # [N, K/2] uint8, the kernel's layout
        self.register_buffer("scale_zero", scale_zero)  # [K/32, N, 2] bf16
        self.register_buffer("bias", bias)
        # The codes again, unpacked, with float32 scales: prompts (many rows) compute with
        # the exact weights in fp32, which is faster there than the kernel.
        codes, scale, low = exact if exact is not None else (None, None, None)
        self.register_buffer("codes", codes)  # [N, K] uint8
        self.register_buffer("scale", scale)  # [N, K/32] float32
        self.register_buffer("low", low)

    @classmethod
    def from_codes(
        cls,
        codes: Tensor,
        scale: Tensor,
        low: Tensor,
        bias: Tensor | None = None,
        *,
        keep_exact: bool = True,
    ) -> Int4Linear:
        """``codes`` [N, K] in 0..15, ``scale`` and ``low`` [N, K/32]: w = scale * code + low.

        ``keep_exact`` keeps the unpacked codes too, for prompts (see `forward`)."""
        packed = torch.cat(
            [
                torch._convert_weight_to_int4pack_for_cpu(
                    codes[i : i + _PACK_ROWS].to(torch.int32).contiguous(), 1
                )
                for i in range(0, codes.shape[0], _PACK_ROWS)
            ]
        )
        zero = low + 8 * scale  # the kernel computes (code - 8) * scale + zero
        scale_zero = torch.stack([scale, zero], dim=-1).transpose(0, 1).contiguous()
        exact = (codes.to(torch.uint8), scale.float(), low.float()) if keep_exact else None
        return cls(packed, scale_zero.to(torch.bfloat16), bias, exact)

    @classmethod
    def from_float(cls, weight: Tensor, bias: Tensor | None = None) -> Int4Linear:
        """Min/max 4-bit codes per group of 32 (lossy: used only where rescoring follows)."""
        codes, scale, low = minmax_int4(weight)
        return cls.from_codes(codes, scale, low, bias, keep_exact=False)

    @classmethod
    def empty(cls, out_features: int, in_features: int, bias: bool, exact: bool) -> Int4Linear:
        """Shapes only, on the meta device: filled by `load_state_dict(assign=True)`."""
        meta = torch.device("meta")
        n, k, g = out_features, in_features, in_features // GROUP
        packed = torch.empty(n, k // 2, dtype=torch.uint8, device=meta)
        scale_zero = torch.empty(g, n, 2, dtype=torch.bfloat16, device=meta)
        b = torch.empty(n, device=meta) if bias else None
        codes = torch.empty(n, k, dtype=torch.uint8, device=meta)
        scales = (codes, torch.empty(n, g, device=meta), torch.empty(n, g, device=meta))
        return cls(packed, scale_zero, b, scales if exact else None)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, self.in_features)
        if self.codes is not None and flat.shape[0] > _HALF_ROWS:
            y = F.linear(flat, self.weight().to(x.dtype))
        else:
            y = torch._weight_int4pack_mm_for_cpu(
                flat.to(torch.bfloat16), self.packed, GROUP, self.scale_zero
            ).to(x.dtype)
        y = y.reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias

    def weight(self) -> Tensor:
        """The exact float32 weight ``[N, K]`` (only when the codes were kept)."""
        if self.codes is None:
            raise ValueError("this layer kept only its packed codes")
        n, k = self.codes.shape
        grouped = self.codes.reshape(n, k // GROUP, GROUP).float()
        return (grouped * self.scale[..., None] + self.low[..., None]).reshape(n, k)


def minmax_int4(weight: Tensor, chunk_rows: int = 16384) -> tuple[Tensor, Tensor, Tensor]:
    """Per group of 32: codes 0..15 spanning [min, max]; returns (codes, scale, low)."""
    rows, cols = weight.shape
    codes = torch.empty(rows, cols, dtype=torch.uint8)
    scale = torch.empty(rows, cols // GROUP)
    low = torch.empty(rows, cols // GROUP)
    for i in range(0, rows, chunk_rows):
        w = weight[i : i + chunk_rows].float().reshape(-1, cols // GROUP, GROUP)
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


class ScreenedHead(nn.Module):
    """Output head: approximate logits for all rows, exact ones for the best `CANDIDATES`."""

    def __init__(self, approx: Int4Linear, table: Int8Table, candidates: int = CANDIDATES) -> None:
        super().__init__()
        self.approx = approx
        self.table = table
        self.candidates = min(candidates, approx.out_features)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.approx(x).float()  # [..., V]
        flat, hidden = logits.reshape(-1, logits.shape[-1]), x.reshape(-1, x.shape[-1]).float()
        ids = flat.topk(self.candidates, dim=-1).indices  # [M, C]
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


# --- whole models ----------------------------------------------------------------------

# What each replaced module became; saved beside a quantized state so that a cached model
# can be rebuilt from shapes alone (`apply_plan`).
Plan = dict[str, str]


def quantize_model(
    model: nn.Module, mode: str = "int4", sources: Mapping[str, Groups] | None = None
) -> Plan:
    """Replace ``model``'s linear layers and head in place (see the module doc); the plan.

    ``sources`` maps a weight's name (``layers.0.attention.wo.weight``) to the codes the
    checkpoint stored it in (`blocks.Groups`); Q4_K codes are kept, Q8_0 head codes become the
    exact table. Weights without a source are quantized from their float values.
    """
    check_supported(mode, next(model.parameters()).device)
    sources = sources or {}
    plan: Plan = {}
    tied = model.output.weight is model.tok_embeddings.weight
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and name != "output":
            groups = sources.get(f"{name}.weight")
            replacement = _linear(module, groups)
            plan[name] = "int4" if isinstance(replacement, Int4Linear) else "half"
            _set(model, name, replacement)
    head = model.output
    table_source = sources.get("tok_embeddings.weight" if tied else "output.weight")
    table = _table(head.weight, table_source)
    model.output = ScreenedHead(Int4Linear.from_float(head.weight.detach()), table)
    plan["output"] = "head"
    if tied:
        model.tok_embeddings = TiedEmbedding(model.output)
        plan["tok_embeddings"] = "tied"
    return plan


def _linear(module: nn.Linear, groups: Groups | None) -> nn.Module:
    bias = None if module.bias is None else module.bias.detach().clone()
    if groups is not None and groups.low is not None and groups.codes.max() <= 15:
        return Int4Linear.from_codes(
            torch.from_numpy(groups.codes),
            torch.from_numpy(groups.scale),
            torch.from_numpy(groups.low),
            bias,
        )
    return HalfLinear(module.weight.detach(), bias)


def _table(weight: Tensor, source: Groups | None) -> Int8Table:
    if source is not None and source.low is None:
        codes = torch.from_numpy(source.codes)
        return Int8Table(codes, torch.from_numpy(source.scale), weight.dtype)
    return Int8Table.from_float(weight.detach())


def apply_plan(model: nn.Module, plan: Plan) -> None:
    """Give a model built on the meta device the empty quantized modules of ``plan``."""
    for name, kind in plan.items():
        module = model.get_submodule(name)
        if kind == "tied":
            continue  # after the head it reads from
        shape, bias = (module.out_features, module.in_features), module.bias is not None
        if kind == "int4":
            _set(model, name, Int4Linear.empty(*shape, bias, exact=True))
        elif kind == "half":
            _set(model, name, HalfLinear.empty(*shape, bias))
        elif kind == "head":
            rows, cols = module.weight.shape
            approx = Int4Linear.empty(rows, cols, bias=False, exact=False)
            _set(model, name, ScreenedHead(approx, Int8Table.empty(rows, cols)))
    if plan.get("tok_embeddings") == "tied":
        model.tok_embeddings = TiedEmbedding(model.output)


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The quantized modules of ``model`` (for tests and reports)."""
    kinds = (Int4Linear, HalfLinear, ScreenedHead, TiedEmbedding)
    return ((n, m) for n, m in model.named_modules() if isinstance(m, kinds))
