"""Tiny models and random integer codes for the quantized mode's tests."""

import dataclasses

import numpy as np
import torch
from torch import nn

from marshalike_runtime.blocks import Groups
from marshalike_runtime.model import ModelArgs, Transformer

LLAMA = ModelArgs(
    arch="llama",
    vocab_size=320,
    dim=64,
    n_layers=2,
    n_heads=4,
    n_kv_heads=2,
    head_dim=16,
    intermediate_size=128,
    max_seq_len=64,
    qkv_bias=True,
)
# Gemma's extras, with a sliding window short enough for a test to run past it.
GEMMA = ModelArgs(
    arch="gemma3",
    vocab_size=320,
    dim=64,
    n_layers=2,
    n_heads=4,
    n_kv_heads=1,
    head_dim=32,
    intermediate_size=128,
    max_seq_len=64,
    query_scale=0.25,
    activation="gelu_tanh",
    qk_norm=True,
    sandwich_norm=True,
    embed_scale=True,
    sliding_window=5,
    global_layers=(1,),
    rope_theta=1_000_000.0,
)
# Heads wide enough for the attention kernel's 16-value blocks, with a tail (80 = 4 x 16 + 16).
WIDE_HEADS = dataclasses.replace(GEMMA, n_heads=2, head_dim=80)
# Six query heads on one key/value head (the kernel takes 4 at a time); heads of 20 values
# (a 16-value block and a tail of 4).
MANY_HEADS = dataclasses.replace(GEMMA, n_heads=6, head_dim=16)
ODD_HEADS = dataclasses.replace(GEMMA, n_heads=8, n_kv_heads=2, head_dim=20)


def tiny_model(seed: int = 0, args: ModelArgs = LLAMA) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(args).eval().requires_grad_(False)
    with torch.no_grad():
        model.tok_embeddings.weight.mul_(0.1)
    return model


# --- the file's own blocks ---------------------------------------------------------------

# Where each block type keeps its fp16 scales (byte offsets), so random blocks stay finite.
SCALE_BYTES = {"Q4_K": (0, 4), "Q4_1": (0, 4), "Q5_0": (0, 2), "Q6_K": (208, 210), "Q8_0": (0, 2)}


def random_blocks(rng: np.random.Generator, rows: int, qtype: str) -> np.ndarray:
    """Random blocks of ``qtype`` for ``rows`` rows of 512 weights, with finite scales."""
    block_bytes, per_block = {
        "Q4_K": (144, 256), "Q4_1": (20, 32), "Q5_0": (22, 32), "Q6_K": (210, 256),
        "Q8_0": (34, 32),
    }[qtype]  # fmt: skip
    n = rows * 512 // per_block
    raw = rng.integers(0, 256, size=(n, block_bytes), dtype=np.uint8)
    lo, hi = SCALE_BYTES[qtype]
    scales = rng.uniform(0.001, 0.05, size=(n, (hi - lo) // 2)).astype(np.float16)
    raw[:, lo:hi] = scales.view(np.uint8).reshape(n, hi - lo)
    return raw.reshape(rows, -1)


# --- codes as the quantized modules hold them ---------------------------------------------

LAYOUT_RANGES = {"u4": (0, 16), "u5": (-16, 16), "i8": (-32, 32)}


def random_groups(rows: int, cols: int, *, group: int = 32, codes: str, affine: bool,
                  half: bool = False, seed: int = 0) -> Groups:  # fmt: skip
    """Random codes in the range of ``codes``'s layout; ``half``: scales fp16 numbers."""
    rng = np.random.default_rng(seed)
    values = rng.integers(*LAYOUT_RANGES[codes], size=(rows, cols))
    values = values.astype(np.uint8 if codes == "u4" else np.int8)
    scale = rng.uniform(0.001, 0.02, size=(rows, cols // group)).astype(np.float32)
    low = -rng.uniform(0, 0.1, size=(rows, cols // group)).astype(np.float32) if affine else None
    if half:
        scale = scale.astype(np.float16).astype(np.float32)
        low = None if low is None else low.astype(np.float16).astype(np.float32)
    return Groups(values, scale, low, group)


def coded_sources(model: Transformer, seed: int = 0) -> dict[str, Groups]:
    """Codes for every linear layer of ``model``, in the block types the embedded GGUF uses:
    Q5_0-like for q/k/v/gate/up (Q8_0-like for layer 0's v), Q4_K-like for wo, Q6_K-like
    (groups of 16) for w2."""
    out: dict[str, Groups] = {}
    for i, (name, module) in enumerate(model.named_modules()):
        if not isinstance(module, nn.Linear) or name == "output":
            continue
        rows, cols = module.weight.shape
        if name.endswith("wo"):
            kind = {"codes": "u4", "affine": True}
        elif name.endswith("w2"):
            kind = {"group": 16, "codes": "i8", "affine": False}
        elif name == "layers.0.attention.wv":  # a Q8_0 value beside Q5_0 queries and keys
            kind = {"codes": "i8", "affine": False, "half": True}
        else:
            kind = {"codes": "u5", "affine": False, "half": True}
        out[f"{name}.weight"] = random_groups(rows, cols, seed=seed + i, **kind)
    return out


class Chars:
    eos_ids = frozenset()

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(65 + i % 26) for i in ids)
