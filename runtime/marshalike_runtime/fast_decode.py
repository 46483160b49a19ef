"""A quantized model's decoding step in C: each layer in one call (`FastDecode`), or every
layer in one call (`FastStack`) where they all qualify.

A layer qualifies when its four products (the fused query/key/value and gate/up ones, the
attention output and the down projection) are `GroupLinear`s; the C side (`decode_layer`
and `decode_layers` in csrc/decode.c) then computes what the torch modules compute for one new
token per row, without a trip through Python between products or layers. Where a step does
not apply (no kernels, a prompt, no KV cache) it returns None and the modules run.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from .cpu_kernels import LayerDesc, QLinear, kernels
from .model import KVCache, RMSNorm, StepContext, Transformer, TransformerBlock
from .quant_linear import GroupLinear


class FastDecode:
    """A layer's decoding step (one new token per row) as one call to `decode_layer` in
    csrc/decode.c, for a layer whose four products are `GroupLinear`s; it computes what
    `TransformerBlock.forward` computes (tests/runtime/test_fast_decode.py compares them).

    Not an `nn.Module`: it holds no state of its own, only raw pointers into the layer's
    buffers, rebuilt whenever the KV cache (or a weight) has moved."""

    def __init__(self, block: TransformerBlock) -> None:
        self._block = [block]  # a list: no module registered inside itself
        self._desc: LayerDesc | None = None
        self._key: tuple[int, ...] = ()

    def __call__(self, x: Tensor, rope: tuple[Tensor, Tensor], ctx: StepContext) -> Tensor | None:
        k = kernels()
        if k is None or not _one_float_row(x) or (desc := self.current()) is None:
            return None
        out = x.reshape(x.shape[0], -1).contiguous().clone()
        k.decode_layer(desc, out, _positions(ctx, x.shape[0]), *_rows(rope, x.shape[0]))
        return out.view_as(x)

    @property
    def local(self) -> bool:
        """Whether the layer attends over a sliding window (and takes the local RoPE table)."""
        return self._block[0].attention.local

    def current(self) -> LayerDesc | None:
        """The layer's description as its buffers are now (None without an fp16 KV cache)."""
        block = self._block[0]
        cache = block.attention.kv_cache
        if cache is None or cache.k_cache.dtype != torch.float16:
            return None  # the C side reads fp16 keys and values (`Transformer.kv_dtype`)
        key = (cache.k_cache.data_ptr(), cache.v_cache.data_ptr(), *cache.k_cache.shape,
               _group_linear(block.attention.wqkv).codes.data_ptr())  # fmt: skip
        if key != self._key:
            self._desc, self._key = self._describe(block, cache), key
        return self._desc

    @staticmethod
    def applies_to(block: TransformerBlock) -> bool:
        att, ff = block.attention, block.feed_forward
        layers = (att.wqkv, att.wo, ff.w13, ff.w2)
        return all(isinstance(m, GroupLinear) for m in layers) and att.args.head_dim % 2 == 0

    @staticmethod
    def _describe(block: TransformerBlock, cache: KVCache) -> LayerDesc:
        att, ff, a = block.attention, block.feed_forward, block.attention.args
        sandwich = block.sandwich

        def ptr(t: Tensor | None) -> int | None:
            return None if t is None else t.data_ptr()

        def norm(module: RMSNorm | None) -> int | None:
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
    """Every layer's decoding step in one call to `decode_layers` (csrc/decode.c), for a model
    whose layers all have a `FastDecode` (``layers``, in order): it computes what the
    layers' own calls compute, without a trip through Python between them."""

    def __init__(self, layers: list[FastDecode]) -> None:
        self._layers = layers
        self._local = (ctypes.c_uint8 * len(layers))(*(int(layer.local) for layer in layers))
        self._descs: list[LayerDesc] = []
        self._array: ctypes.Array[LayerDesc] | None = None

    def __call__(
        self, x: Tensor, rope_global: tuple[Tensor, Tensor], rope_local: tuple[Tensor, Tensor],
        ctx: StepContext,
    ) -> Tensor | None:  # fmt: skip
        k = kernels()
        if k is None or not _one_float_row(x):
            return None
        descs: list[LayerDesc] = []
        for layer in self._layers:
            if (desc := layer.current()) is None:
                return None
            descs.append(desc)
        # The old descriptions are held until replaced, so `is` cannot mistake a new one.
        array = self._array
        if array is None or any(a is not b for a, b in zip(descs, self._descs, strict=True)):
            array = (LayerDesc * len(descs))(*descs)
            self._descs, self._array = descs, array
        out = x.reshape(x.shape[0], -1).contiguous().clone()
        rows = x.shape[0]
        k.decode_layers(array, self._local, out, _positions(ctx, rows), _rows(rope_global, rows),
                        _rows(rope_local, rows))  # fmt: skip
        return out.view_as(x)


def _positions(ctx: StepContext, rows: int) -> Tensor:
    """Each row's position, contiguous int64 [B]: its own (`Transformer.decode_rows`), or the
    one position every row is at."""
    if ctx.row_pos is not None:
        return ctx.row_pos.to(torch.int64).contiguous()
    return torch.full((rows,), ctx.kv_len - 1, dtype=torch.int64)


def _rows(rope: tuple[Tensor, Tensor], rows: int) -> tuple[Tensor, Tensor]:
    """cos and sin as the C side reads them: contiguous float32 [B, head_dim], row b's
    position in row b (the table's rows of one shared position, or of each row's own)."""
    cos, sin = (t.reshape(-1, t.shape[-1]) for t in rope)
    if cos.shape[0] != rows:
        cos, sin = cos.expand(rows, -1), sin.expand(rows, -1)
    return cos.contiguous(), sin.contiguous()


def _one_float_row(x: Tensor) -> bool:
    """Whether ``x`` [B, S, dim] is one float32 position per row (a decoding step)."""
    return x.shape[1] == 1 and x.dtype == torch.float32


def _group_linear(module: nn.Module | None) -> GroupLinear:
    """``module``, one of the four products `FastDecode.applies_to` found to be `GroupLinear`s."""
    if not isinstance(module, GroupLinear):
        raise TypeError(
            f"a decoding step in C needs GroupLinear products, not {type(module).__name__}"
        )
    return module


def _qlinear(module: nn.Module | None) -> QLinear:
    m = _group_linear(module)
    return QLinear(
        codes=m.codes.data_ptr(), high=None if m.high is None else m.high.data_ptr(),
        scale=m.scale.data_ptr(),
        low=None if m.low is None else m.low.data_ptr(),
        bias=None if m.bias is None else m.bias.data_ptr(),
        n=m.out_features, k=m.in_features, group=m.group, packed=int(m.packed),
        half_scales=int(m.scale.dtype == torch.float16),
    )  # fmt: skip


@contextmanager
def without_fast_decode(model: Transformer) -> Iterator[None]:
    """Decode through the torch modules for a while (to compare the two)."""
    saved, stack = [block.fast_decode for block in model.blocks()], model.fast_step
    for block in model.blocks():
        block.fast_decode = None
    model.fast_step = None
    try:
        yield
    finally:
        for block, fast in zip(model.blocks(), saved, strict=True):
            block.fast_decode = fast
        model.fast_step = stack


def enable_fast_decode(model: Transformer) -> None:
    """Give every layer that qualifies its `FastDecode`, the model a `FastStack` where they
    all do, and an fp16 KV cache where any does and the kernels are built."""
    layers = [FastDecode(b) if FastDecode.applies_to(b) else None for b in model.blocks()]
    for block, layer in zip(model.blocks(), layers, strict=True):
        block.fast_decode = layer
    every = [layer for layer in layers if layer is not None]
    model.fast_step = FastStack(every) if len(every) == len(layers) else None
    # What `decode_layer` reads; where no kernels were built the modules decode, and an
    # fp16 cache would only make them widen it at every step.
    model.kv_dtype = torch.float16 if every and kernels() is not None else None
