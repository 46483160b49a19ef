"""Loading a model in a quantized mode: the checkpoint's own codes, and a cache of the result.

Quantizing the embedded model takes a few seconds and needs its float32 weights in memory
(over 1 GB); the quantized state is a third of that. So the first load quantizes and writes
the result to the weights cache (`<sha256>.<mode>-v4.safetensors`, with the module plan
and the model's arguments in the file's metadata), and later loads read only that file into
a model built on the meta device: no float32 copy is ever made, and the GGUF is not opened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from . import embedded
from .blocks import (
    Q4_1,
    Q4_K,
    Q5_0,
    Q6_K,
    Q8_0,
    Groups,
    q4_1_groups,
    q4_k_groups,
    q5_0_groups,
    q6_k_groups,
    q8_0_groups,
)
from .checkpoint import (
    empty_model,
    gguf_tensor_name,
    load_checkpoint,
    unpermute_fn,
)
from .cpu_kernels import kernels
from .gguf_file import GGUFFile, LazyMetadata
from .model import ModelArgs, Transformer
from .quant import apply_plan, check_supported, quantize_model

# Bumped when the cached layout changes, so an old cache is ignored rather than misread (a
# cache without a key `_from_cache` reads is replaced too, as one that cannot be read).
CACHE_FORMAT = "v4"
_READERS = {
    Q4_1: q4_1_groups,
    Q4_K: q4_k_groups,
    Q5_0: q5_0_groups,
    Q6_K: q6_k_groups,
    Q8_0: q8_0_groups,
}


def load_quantized(
    path: Path, mode: str, *, device: torch.device, progress: bool = False
) -> tuple[Transformer, Mapping[str, Any]]:
    """The model at ``path`` in quantization ``mode``, and the checkpoint's metadata."""
    check_supported(mode, device)
    if kernels() is None:
        embedded.announce(
            f"quant {mode}: no C compiler could build the quantized kernels here "
            "(set CC to one); decoding runs in torch instead, slower than fp32"
        )
    is_gguf = path.suffix == ".gguf" and path.is_file()
    cache = embedded.weights_cache_path(path, variant=f"{mode}-{CACHE_FORMAT}") if is_gguf else None
    if cache is not None and cache.is_file():
        from safetensors import SafetensorError

        try:
            return _from_cache(path, cache)
        except (SafetensorError, KeyError, ValueError, RuntimeError, OSError):
            # Unreadable or from an older layout: quantize again and replace it.
            cache.unlink(missing_ok=True)
    # The float32 weights are needed only to build the quantized copy, which is cached:
    # writing them too would leave a second, larger file nothing reads.
    model, metadata = load_checkpoint(path, device=device, progress=progress, write_cache=False)
    sources = gguf_sources(path, model.args) if is_gguf else {}
    plan = quantize_model(model, mode, sources)
    if cache is not None:
        saved = {"plan": json.dumps(plan), "args": model.args.to_json()}
        embedded.save_weights(model.state_dict(), cache, metadata=saved)
    return model, metadata


def gguf_sources(path: Path, args: ModelArgs) -> dict[str, Groups]:
    """The integer codes of every weight matrix a GGUF stores in a block type we read
    (`blocks.py`), by our names."""
    out: dict[str, Groups] = {}
    with GGUFFile(path) as gguf:
        unpermute = unpermute_fn(args) if gguf.architecture == "llama" else None
        for name, info in gguf.tensors.items():
            read = _READERS.get(info.ggml_type)
            if read is None or len(info.shape) != 2:
                continue
            groups = read(gguf.raw(name))
            ours = gguf_tensor_name(name)
            if unpermute is not None and re.search(r"attention\.w[qk]\.", ours):
                is_q = ".wq." in ours
                low = None if groups.low is None else unpermute(groups.low, is_q)
                groups = Groups(
                    unpermute(groups.codes, is_q), unpermute(groups.scale, is_q), low, groups.group
                )
            out[ours] = groups
    return out


def _from_cache(path: Path, cache: Path) -> tuple[Transformer, Mapping[str, Any]]:
    """The model from its cache alone: the GGUF's metadata is read only if asked for (the
    tokenizer has a cache of its own)."""
    state, saved = embedded.load_weights(cache)
    plan, args = json.loads(saved["plan"]), ModelArgs.from_json(saved["args"])
    metadata = LazyMetadata(path)
    model = empty_model(args)
    apply_plan(model, plan)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval(), metadata
