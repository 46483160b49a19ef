"""Weight-only int8 quantization: per-output-channel int8 weights, float activations.

Decoding one token reads every weight once, so on a CPU it is bound by memory bandwidth:
int8 weights read a quarter of the bytes of fp32. The matmul uses
``torch._weight_int8pack_mm`` (the kernel gpt-fast uses) where it exists; it is fast only
with bf16 activations on CPU, so activations are cast to bf16 for the product and the
result back to the caller's dtype. Elsewhere the weight is dequantized on the fly.

A tied embedding/output head (Gemma) is quantized once and shared: the output head does
its matmul in int8 and the embedding looks rows up in the same int8 table.

Measured (benchmarks/runtime_bench.py, embedded Gemma 3 270M, 2-core AVX2 CPU without
VNNI, other jobs running): this mode is SLOWER than fp32 there — prefill 21 vs 335 tok/s,
decode 1.0 vs 7.2 tok/s, batch-8 7.6 vs 22.8 tok/s — and only 1 of 6 prompts kept its
first 64 greedy tokens. It stays opt-in (`Engine.load(quant="int8")`), never the default;
a faster int8 or int4 kernel for such CPUs is still to be found.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

QUANT_MODES = ("int8",)


def quantize_per_channel(
    weight: torch.Tensor, chunk_rows: int = 8192
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output row: ``weight [N, K] -> (int8 [N, K], float32 scales [N])``.

    Rows are converted a chunk at a time so that the float temporaries stay small next to
    the 262k-row output head.
    """
    q = torch.empty(weight.shape, dtype=torch.int8, device=weight.device)
    scales = torch.empty(weight.shape[0], dtype=torch.float32, device=weight.device)
    for start in range(0, weight.shape[0], chunk_rows):
        w = weight[start : start + chunk_rows].detach().float()
        s = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0  # [rows]
        q[start : start + chunk_rows] = torch.round(w / s[:, None]).clamp(-127, 127)
        scales[start : start + chunk_rows] = s
    return q, scales


def _has_int8pack_kernel(device: torch.device) -> bool:
    # CPU only: on a GPU, bf16 weights are the fast path and int8 is not a target.
    return hasattr(torch, "_weight_int8pack_mm") and device.type == "cpu"


class Int8Linear(nn.Module):
    """A bias-optional linear layer holding int8 weights and per-row float scales."""

    def __init__(
        self, weight: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight)
        self.register_buffer("scales", scales)
        # The kernel wants scales in its activation dtype: converted once, not every step.
        self.register_buffer("kernel_scales", scales.to(torch.bfloat16), persistent=False)
        self.register_buffer("bias", bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        q, scales = quantize_per_channel(linear.weight)
        bias = None if linear.bias is None else linear.bias.detach().clone()
        return cls(q, scales.to(linear.weight.device), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)  # [M, K]
        if _has_int8pack_kernel(x.device):
            act = flat.to(torch.bfloat16)
            y = torch._weight_int8pack_mm(act, self.weight, self.kernel_scales)
        else:
            y = (flat @ self.weight.T.to(flat.dtype)) * self.scales.to(flat.dtype)
        y = y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias.to(y.dtype)


class Int8Embedding(nn.Module):
    """Row lookup in an int8 table (shared with a tied `Int8Linear` head)."""

    def __init__(self, head: Int8Linear, dtype: torch.dtype) -> None:
        super().__init__()
        self.head = [head]  # a list, so the head is not registered twice as a submodule
        self.dtype = dtype

    @property
    def weight(self) -> torch.Tensor:
        """The int8 table (modules that read the embedding's device see the right one)."""
        return self.head[0].weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        head = self.head[0]
        rows = head.weight[ids].to(self.dtype)  # [..., K]
        return rows * head.scales[ids].to(self.dtype)[..., None]


def quantize_model(model: nn.Module, mode: str = "int8") -> nn.Module:
    """Replace every `nn.Linear` of ``model`` by an `Int8Linear`, in place; returns ``model``.

    An `nn.Embedding` whose weight is tied to a linear layer's weight becomes an
    `Int8Embedding` reading that layer's int8 table, so the float table can be freed.
    """
    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantization mode {mode!r}; expected one of {QUANT_MODES}")
    tied: dict[int, Int8Linear] = {}
    for parent, name, child in list(_children(model)):
        if isinstance(child, nn.Linear):
            quantized = Int8Linear.from_linear(child)
            tied[child.weight.data_ptr()] = quantized
            setattr(parent, name, quantized)
    for parent, name, child in list(_children(model)):
        if isinstance(child, nn.Embedding) and child.weight.data_ptr() in tied:
            head = tied[child.weight.data_ptr()]
            setattr(parent, name, Int8Embedding(head, child.weight.dtype))
    return model


def _children(model: nn.Module) -> Iterator[tuple[nn.Module, str, nn.Module]]:
    for parent in model.modules():
        for name, child in parent.named_children():
            yield parent, name, child
