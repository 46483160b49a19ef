"""Decoder Transformers for Gemma 3 and the Llama family (Llama, SmolLM2, Qwen2).

Only `nn.Module`s and their configuration live here; loading weights is `checkpoint.py`'s
job. Norm weights are always used as plain multipliers: checkpoints whose norms store
`w - 1` (Hugging Face Gemma) are shifted by the loader.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Activation = Literal["gelu_tanh", "silu"]


@dataclass(frozen=True)
class ModelArgs:
    """Everything the modules need to know about one architecture instance."""

    arch: Literal["gemma3", "llama"]
    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    intermediate_size: int
    norm_eps: float = 1e-6
    rope_theta: float = 10_000.0
    # Gemma 3 alternates local (sliding-window) and global layers with their own RoPE base.
    rope_local_theta: float = 10_000.0
    sliding_window: int | None = None
    global_layers: tuple[int, ...] | None = None  # None: every layer is global
    max_seq_len: int = 8192
    query_scale: float | None = None  # None: head_dim ** -0.5
    activation: Activation = "silu"
    qkv_bias: bool = False
    qk_norm: bool = False
    sandwich_norm: bool = False  # Gemma's extra norms after attention and after the MLP
    embed_scale: bool = False  # Gemma multiplies embeddings by sqrt(dim)
    tie_embeddings: bool = True
    bos_id: int | None = None
    eos_ids: tuple[int, ...] = field(default_factory=tuple)

    def is_local(self, layer: int) -> bool:
        return self.global_layers is not None and layer not in self.global_layers

    @property
    def attn_scale(self) -> float:
        return self.query_scale if self.query_scale is not None else self.head_dim**-0.5

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ModelArgs:
        """The inverse of `to_json` (JSON has lists where the fields hold tuples); ValueError
        for text another version wrote, with fields this one does not have or lacks."""
        saved = json.loads(text)
        known = {f.name for f in fields(cls)}
        if not isinstance(saved, dict) or set(saved) - known:
            raise ValueError(f"not the model arguments of this version: {text[:200]}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()
        }
        try:
            return cls(**values)
        except TypeError as exc:  # a field without a default is missing
            raise ValueError(f"incomplete model arguments: {exc}") from None

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> ModelArgs:
        if name not in CONFIGS:
            known = ", ".join(sorted(CONFIGS))
            raise KeyError(f"unknown model config {name!r} (known: {known})")
        return replace(CONFIGS[name], **overrides)


def gemma3_global_layers(n_layers: int, pattern: int = 6) -> tuple[int, ...]:
    """Gemma 3 makes every `pattern`-th layer global (5, 11, 17 for 18 layers)."""
    return tuple(i for i in range(n_layers) if (i + 1) % pattern == 0)


CONFIGS: dict[str, ModelArgs] = {
    "gemma3-270m": ModelArgs(
        arch="gemma3",
        vocab_size=262_144,
        dim=640,
        n_layers=18,
        n_heads=4,
        n_kv_heads=1,
        head_dim=256,
        intermediate_size=2048,
        norm_eps=1e-6,
        rope_theta=1_000_000.0,
        rope_local_theta=10_000.0,
        sliding_window=512,
        global_layers=gemma3_global_layers(18),
        max_seq_len=32_768,
        query_scale=256**-0.5,  # query_pre_attn_scalar = 256
        activation="gelu_tanh",
        qk_norm=True,
        sandwich_norm=True,
        embed_scale=True,
        tie_embeddings=True,
        bos_id=2,
        eos_ids=(1, 106),  # <eos>, <end_of_turn>
    ),
    "smollm2-135m": ModelArgs(
        arch="llama",
        vocab_size=49_152,
        dim=576,
        n_layers=30,
        n_heads=9,
        n_kv_heads=3,
        head_dim=64,
        intermediate_size=1536,
        norm_eps=1e-5,
        rope_theta=100_000.0,
        max_seq_len=8192,
        tie_embeddings=True,
        bos_id=1,
        eos_ids=(2,),
    ),
}


class KVCache(nn.Module):
    """Preallocated keys and values of one layer: `[B, H_kv, S_max, D]` each."""

    k_cache: Tensor  # buffers, declared for the type checker
    v_cache: Tensor

    def __init__(
        self, batch: int, n_kv_heads: int, max_seq_len: int, head_dim: int, dtype: torch.dtype
    ) -> None:
        super().__init__()
        shape = (batch, n_kv_heads, max_seq_len, head_dim)
        self.register_buffer("k_cache", torch.zeros(shape, dtype=dtype), persistent=False)
        self.register_buffer("v_cache", torch.zeros(shape, dtype=dtype), persistent=False)

    def update(self, input_pos: Tensor, k: Tensor, v: Tensor, kv_len: int) -> tuple[Tensor, Tensor]:
        """Write `k`, `v` ([B, H_kv, S, D]) at `input_pos`; return the first `kv_len` slots."""
        batch = k.shape[0]
        self.k_cache[:batch, :, input_pos] = k.to(self.k_cache.dtype)
        self.v_cache[:batch, :, input_pos] = v.to(self.v_cache.dtype)
        return self.k_cache[:batch, :, :kv_len], self.v_cache[:batch, :, :kv_len]

    def rows(self, start: int, stop: int) -> KVCache:
        """A cache of rows ``start..stop-1`` of this one: views, so writes land here."""
        view = KVCache.__new__(KVCache)
        nn.Module.__init__(view)
        view.register_buffer("k_cache", self.k_cache[start:stop], persistent=False)
        view.register_buffer("v_cache", self.v_cache[start:stop], persistent=False)
        return view

    def update_rows(
        self, positions: Tensor, k: Tensor, v: Tensor, kv_len: int
    ) -> tuple[Tensor, Tensor]:
        """Write one position per row (``k``, ``v`` [B, H_kv, 1, D], row b at
        ``positions[b]``); return the first `kv_len` slots of rows 0..B-1."""
        batch = k.shape[0]
        rows = torch.arange(batch, device=k.device)
        self.k_cache[rows, :, positions] = k[:, :, 0].to(self.k_cache.dtype)
        self.v_cache[rows, :, positions] = v[:, :, 0].to(self.v_cache.dtype)
        return self.k_cache[:batch, :, :kv_len], self.v_cache[:batch, :, :kv_len]


class RMSNorm(nn.Module):
    """RMSNorm computed in fp32, whatever the activations' dtype."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight.float()).type_as(x)


def rope_tables(inv_freq: Tensor, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """cos and sin for rotate-half RoPE: `[S, D]` each."""
    freqs = positions.float()[:, None] * inv_freq[None, :]  # [S, D/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [S, D]
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate-half RoPE on `x` [B, H, S, D] (Hugging Face layout, not interleaved pairs)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, args: ModelArgs, layer: int) -> None:
        super().__init__()
        self.args = args
        self.local = args.is_local(layer)
        q_dim, kv_dim = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
        self.wq = nn.Linear(args.dim, q_dim, bias=args.qkv_bias)
        self.wk = nn.Linear(args.dim, kv_dim, bias=args.qkv_bias)
        self.wv = nn.Linear(args.dim, kv_dim, bias=args.qkv_bias)
        self.wo = nn.Linear(q_dim, args.dim, bias=False)
        if args.qk_norm:
            self.q_norm = RMSNorm(args.head_dim, args.norm_eps)
            self.k_norm = RMSNorm(args.head_dim, args.norm_eps)
        # A quantized model may replace wq, wk and wv by one product (quant.py).
        self.wqkv: nn.Module | None = None
        self.kv_cache: KVCache | None = None

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor], ctx: StepContext, last_only: bool = False
    ) -> Tensor:
        """Keys and values of every position written to the cache; the output of every
        position, or (``last_only``) of the last one alone."""
        bsz, seqlen, _ = x.shape
        a = self.args
        q_dim, kv_dim = a.n_heads * a.head_dim, a.n_kv_heads * a.head_dim
        if self.wqkv is not None:
            q, k, v = self.wqkv(x).split((q_dim, kv_dim, kv_dim), dim=-1)
        else:
            q, k, v = self.wq(x), self.wk(x), self.wv(x)
        q = q.unflatten(-1, (a.n_heads, a.head_dim))
        k = k.unflatten(-1, (a.n_kv_heads, a.head_dim))
        v = v.unflatten(-1, (a.n_kv_heads, a.head_dim))
        if a.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, S, D]
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if self.kv_cache is not None and ctx.row_pos is not None:
            k, v = self.kv_cache.update_rows(ctx.row_pos, k, v, ctx.kv_len)
        elif self.kv_cache is not None:
            k, v = self.kv_cache.update(ctx.input_pos, k, v, ctx.kv_len)  # [B, H_kv, L, D]
        if k.dtype != q.dtype:  # an fp16 cache (`Transformer.kv_dtype`)
            k, v = k.to(q.dtype), v.to(q.dtype)
        mask = ctx.local_mask if self.local else ctx.causal_mask
        if last_only and seqlen > 1:
            q, seqlen = q[:, :, -1:], 1
            mask = None if mask is None else mask[-1:]
        if seqlen == 1 and x.device.type == "cpu":
            out = _decode_attention(q, k, v, mask, a.attn_scale)
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, scale=a.attn_scale, enable_gqa=a.n_kv_heads != a.n_heads
            )  # [B, H, S, D]
        return self.wo(out.transpose(1, 2).reshape(bsz, seqlen, a.n_heads * a.head_dim))


def _decode_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, scale: float) -> Tensor:
    """Attention of one new token per row (`q` [B, H, 1, D]) over the cache (`k`, `v`
    [B, H_kv, L, D]) as two batched products: on a CPU this costs a fraction of SDPA's
    kernel, whose setup dominates when there is one query. Each group of H / H_kv query heads
    shares its key/value head, as in SDPA's `enable_gqa`."""
    bsz, heads, _, dim = q.shape
    kv_heads = k.shape[1]
    grouped = q.reshape(bsz, kv_heads, heads // kv_heads, dim)  # [B, H_kv, G, D]
    scores = torch.matmul(grouped, k.transpose(-1, -2)) * scale  # [B, H_kv, G, L]
    if mask is not None:
        # [S, L]: the last query's row; [B, 1, 1, L]: each row's own (`decode_rows`)
        scores = scores.masked_fill(~(mask[-1] if mask.dim() == 2 else mask), float("-inf"))
    weights = torch.softmax(scores.float(), dim=-1).to(v.dtype)
    return torch.matmul(weights, v).reshape(bsz, heads, 1, dim)


class FeedForward(nn.Module):
    """Gated MLP: GeGLU (tanh GELU) for Gemma, SwiGLU for Llama."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.w1 = nn.Linear(args.dim, args.intermediate_size, bias=False)  # gate
        self.w3 = nn.Linear(args.dim, args.intermediate_size, bias=False)  # up
        self.w2 = nn.Linear(args.intermediate_size, args.dim, bias=False)  # down
        self.w13: nn.Module | None = None  # gate and up as one product (quant.py)
        self.gelu = args.activation == "gelu_tanh"

    def forward(self, x: Tensor) -> Tensor:
        if self.w13 is not None:
            gate, up = self.w13(x).chunk(2, dim=-1)
        else:
            gate, up = self.w1(x), self.w3(x)
        gate = F.gelu(gate, approximate="tanh") if self.gelu else F.silu(gate)
        return self.w2(gate * up)


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs, layer: int) -> None:
        super().__init__()
        self.attention = Attention(args, layer)
        self.feed_forward = FeedForward(args)
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)
        self.sandwich = args.sandwich_norm
        if self.sandwich:
            self.post_attention_norm = RMSNorm(args.dim, args.norm_eps)
            self.post_ffw_norm = RMSNorm(args.dim, args.norm_eps)
        # A quantized model's whole decoding step in one call (fast_decode.FastDecode); it
        # returns None where it does not apply, and this forward runs instead.
        self.fast_decode: LayerStep | None = None

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor], ctx: StepContext, last_only: bool = False
    ) -> Tensor:
        if self.fast_decode is not None and (out := self.fast_decode(x, rope, ctx)) is not None:
            return out
        attn = self.attention(self.attention_norm(x), rope, ctx, last_only)
        if last_only:
            x = x[:, -1:]
        h = x + (self.post_attention_norm(attn) if self.sandwich else attn)
        mlp = self.feed_forward(self.ffn_norm(h))
        return h + (self.post_ffw_norm(mlp) if self.sandwich else mlp)


@dataclass(frozen=True)
class StepContext:
    """Per-forward values shared by all layers: positions and attention masks."""

    input_pos: Tensor
    kv_len: int
    causal_mask: Tensor  # [S, L] bool, True where attention is allowed ([B, 1, 1, L] per row)
    local_mask: Tensor | None
    row_pos: Tensor | None = None  # [B]: one new token per row, each at its own position


# A decoding step through one layer (x, its RoPE cos and sin, the context) or through every
# layer (x, the global and the local RoPE tables, the context) in one call: the output, or
# None where the step does not apply and the modules must run.
LayerStep = Callable[[Tensor, tuple[Tensor, Tensor], StepContext], Tensor | None]
StackStep = Callable[
    [Tensor, tuple[Tensor, Tensor], tuple[Tensor, Tensor], StepContext], Tensor | None
]


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        # The quantized mode replaces the head and a tied embedding by its own modules (quant.py).
        self.tok_embeddings: nn.Module = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(TransformerBlock(args, i) for i in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output: nn.Module = nn.Linear(args.dim, args.vocab_size, bias=False)
        if args.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        self.max_seq_len = 0
        self._rope_cache: dict[tuple[Any, ...], tuple[Tensor, Tensor]] = {}
        # A quantized model's decoding step through every layer in one call
        # (fast_decode.FastStack); it returns None where it does not apply, and the layers run.
        self.fast_step: StackStep | None = None
        # The KV cache's dtype where it is not the activations' (None): fp16 for a model
        # that decodes in C (fast_decode.enable_fast_decode), since reading the keys and
        # values is what bounds attention's time there, and half the bytes take about half
        # of it. Its torch modules read the same values, widened.
        self.kv_dtype: torch.dtype | None = None

    def blocks(self) -> Iterator[TransformerBlock]:
        """The layers in order, as what they are (a `ModuleList` yields plain modules)."""
        return cast("Iterator[TransformerBlock]", iter(self.layers))

    def _inv_freq(self, theta: float, device: torch.device) -> Tensor:
        # Recomputed per forward (head_dim / 2 values): no buffer to lose when the model is
        # built on the meta device and its weights are assigned afterwards.
        exponents = torch.arange(0, self.args.head_dim, 2, device=device).float()
        return 1.0 / (theta ** (exponents / self.args.head_dim))

    def _rope(self, theta: float, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """cos and sin at ``positions``, looked up in a table of every position so far: each
        decoding step would otherwise compute them anew (a millisecond per token on a CPU).
        The table's rows are the same elementwise values `rope_tables` gives."""
        key = (theta, dtype, positions.device)
        table = self._rope_cache.get(key)
        needed = int(positions.max()) + 1
        if table is None or table[0].shape[0] < needed:
            length = max(needed, 2 * table[0].shape[0] if table is not None else 1024)
            steps = torch.arange(length, device=positions.device)
            table = rope_tables(self._inv_freq(theta, positions.device), steps, dtype)
            self._rope_cache[key] = table
        return table[0][positions], table[1][positions]

    def setup_caches(self, max_batch_size: int, max_seq_len: int) -> None:
        """Preallocate every layer's KV cache on the model's device, in `kv_dtype` or the
        activations' dtype."""
        # The final norm's weight has the activations' dtype in every mode (a quantized
        # model's embedding table is int8).
        dtype, device = self.norm.weight.dtype, self.norm.weight.device
        a = self.args
        kv = self.kv_dtype or dtype
        for layer in self.blocks():
            cache = KVCache(max_batch_size, a.n_kv_heads, max_seq_len, a.head_dim, kv)
            layer.attention.kv_cache = cache.to(device)
        self.max_seq_len = max_seq_len

    def release_caches(self) -> None:
        """Drop the KV caches: later forwards see only the tokens they are given."""
        for layer in self.blocks():
            layer.attention.kv_cache = None
        self.max_seq_len = 0

    def caches(self) -> list[KVCache]:
        return [c for layer in self.blocks() if (c := layer.attention.kv_cache) is not None]

    def forward(self, tokens: Tensor, input_pos: Tensor, *, last_only: bool = False) -> Tensor:
        """Logits (float32) for `tokens` [B, S] at positions `input_pos` [S].

        With caches set up, K/V are written at `input_pos` and queries attend over every
        cached position up to their own; without caches, `tokens` is the whole sequence.
        """
        a = self.args
        x = self.tok_embeddings(tokens)  # [B, S, dim]
        if a.embed_scale:
            # Gemma rounds the scale to the activation dtype before multiplying.
            x = x * torch.tensor(math.sqrt(a.dim), dtype=x.dtype)
        ctx = self._context(input_pos)
        rope_global = self._rope(a.rope_theta, input_pos, x.dtype)
        rope_local = self._rope(a.rope_local_theta, input_pos, x.dtype)
        # With `last_only`, nothing reads the other positions' outputs of the last layer: it
        # writes their keys and values, and computes the rest for the last position alone
        # (4-5% of a prompt's work for an 18-layer model).
        fast = self.fast_step
        if fast is not None and (out := fast(x, rope_global, rope_local, ctx)) is not None:
            x = out
        else:
            last = len(self.layers) - 1
            for i, layer in enumerate(self.blocks()):
                rope = rope_local if layer.attention.local else rope_global
                x = layer(x, rope, ctx, last_only and i == last)
        if last_only:
            x = x[:, -1:]
        return self.output(self.norm(x)).float()  # [B, S, V]

    def decode_rows(self, tokens: Tensor, positions: Tensor) -> Tensor:
        """Logits ``[B, V]`` of one new token per row, ``tokens [B]`` at ``positions [B]``,
        each row of the KV cache a sequence of its own length (a batch that sequences join
        and leave); each row attends over its own positions only."""
        a = self.args
        x = self.tok_embeddings(tokens.view(-1, 1))  # [B, 1, dim]
        if a.embed_scale:
            x = x * torch.tensor(math.sqrt(a.dim), dtype=x.dtype)
        kv_len = int(positions.max()) + 1
        if kv_len > self.max_seq_len:
            raise ValueError(f"position {kv_len - 1} is past the KV cache ({self.max_seq_len})")
        delta = positions[:, None] - torch.arange(kv_len, device=positions.device)  # [B, L]
        causal = (delta >= 0)[:, None, None, :]
        local = None
        if a.sliding_window is not None and a.global_layers is not None:
            local = causal & (delta < a.sliding_window)[:, None, None, :]
        ctx = StepContext(positions[-1:], kv_len, causal, local, row_pos=positions)
        rope_global = self._row_rope(a.rope_theta, positions, x.dtype)
        rope_local = self._row_rope(a.rope_local_theta, positions, x.dtype)
        fast = self.fast_step
        if fast is not None and (out := fast(x, rope_global, rope_local, ctx)) is not None:
            x = out
        else:
            for layer in self.blocks():
                x = layer(x, rope_local if layer.attention.local else rope_global, ctx)
        return self.output(self.norm(x)).float()[:, -1]

    def _row_rope(
        self, theta: float, positions: Tensor, dtype: torch.dtype
    ) -> tuple[Tensor, Tensor]:
        """cos and sin of each row's own position, ``[B, 1, 1, D]`` (rows of `_rope`)."""
        cos, sin = self._rope(theta, positions, dtype)
        return cos[:, None, None, :], sin[:, None, None, :]

    def _context(self, input_pos: Tensor) -> StepContext:
        if self.max_seq_len:
            # Attend only over the filled prefix of the cache: decoding cost grows with the
            # sequence, not with the preallocated length.
            kv_len = int(input_pos[-1]) + 1
            if kv_len > self.max_seq_len:
                raise ValueError(
                    f"position {kv_len - 1} is past the KV cache ({self.max_seq_len} positions)"
                )
            kv_pos = torch.arange(kv_len, device=input_pos.device)
        else:
            kv_len, kv_pos = input_pos.numel(), input_pos
        delta = input_pos[:, None] - kv_pos[None, :]  # [S, L]
        causal = delta >= 0
        local = None
        if self.args.sliding_window is not None and self.args.global_layers is not None:
            local = causal & (delta < self.args.sliding_window)
        return StepContext(input_pos, kv_len, causal, local)
