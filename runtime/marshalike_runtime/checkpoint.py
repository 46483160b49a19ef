"""Load a checkpoint into a `Transformer`: a GGUF file or a Hugging Face safetensors folder.

GGUF weights are dequantized once to float32 (with `gguf.quants`), renamed to the module
names of `model.py`, and cast to the requested dtype. Llama-architecture GGUFs store Q and
K with rows permuted for interleaved RoPE; that is undone here because the model rotates
halves. Hugging Face Gemma norms store `w - 1`; the loader adds the 1 back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import init

from marshalike_runtime.errors import ModelFileError

from .gguf_file import GGUFFile, LazyMetadata
from .model import CONFIGS, ModelArgs, Transformer, gemma3_global_layers

StateDict = dict[str, Tensor]


class CheckpointError(ModelFileError):
    """The checkpoint is missing, malformed, or of an unsupported architecture."""


def load_checkpoint(
    path: str | Path,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    progress: bool = False,
    write_cache: bool = True,
) -> tuple[Transformer, Mapping[str, Any]]:
    """The model and the checkpoint's metadata (GGUF key/values, or config.json).

    `progress` reports on stderr when a GGUF is dequantized into the weight cache.
    `write_cache=False` reads the embedded model's float cache where there is one but never
    writes it: a caller that keeps only a quantized copy (quant_load.py) has no use for
    the float32 file, which is over 1 GB for the embedded model.
    """
    path = Path(path)
    metadata: Mapping[str, Any]
    if path.is_dir():
        args, state, metadata = read_safetensors_folder(path)
    elif path.suffix == ".gguf" and path.is_file():
        args, state, metadata = read_gguf_cached(path, progress=progress, write=write_cache)
    else:
        raise CheckpointError(
            f"{path}: not a .gguf file or a folder with config.json and *.safetensors"
        )
    return build_model(args, state, dtype=dtype, device=device), metadata


def build_model(
    args: ModelArgs, state: StateDict, *, dtype: torch.dtype, device: str | torch.device
) -> Transformer:
    """A `Transformer` holding `state`, without initialising weights it would overwrite."""
    model = empty_model(args)
    expected = set(model.state_dict())
    if args.tie_embeddings:
        state = {**state, "output.weight": state["tok_embeddings.weight"]}
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint does not fit the model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    state = {k: v.to(device=device, dtype=dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    if args.tie_embeddings:
        model.output.weight = model.tok_embeddings.weight
    return model.eval()


def empty_model(args: ModelArgs) -> Transformer:
    """A `Transformer` of shapes only (meta device), for `load_state_dict(assign=True)`.

    Initialisers are skipped: there is nothing to initialise, and on the meta device torch
    runs `normal_` (the embedding's) through a Python path that imports `torch._dynamo`,
    which alone took 3.3 s of a 4.3 s load here.
    """
    saved = init.normal_
    init.normal_ = _no_init
    try:
        with torch.device("meta"):
            return Transformer(args)
    finally:
        init.normal_ = saved


def _no_init(tensor: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return tensor


# --- GGUF -------------------------------------------------------------------------------

_GGUF_LAYER_NAMES = {
    "attn_q": "attention.wq",
    "attn_k": "attention.wk",
    "attn_v": "attention.wv",
    "attn_output": "attention.wo",
    "attn_q_norm": "attention.q_norm",
    "attn_k_norm": "attention.k_norm",
    "attn_norm": "attention_norm",
    "ffn_norm": "ffn_norm",
    "post_attention_norm": "post_attention_norm",
    "post_ffw_norm": "post_ffw_norm",
    "ffn_gate": "feed_forward.w1",
    "ffn_up": "feed_forward.w3",
    "ffn_down": "feed_forward.w2",
}
_GGUF_TOP_NAMES = {
    "token_embd": "tok_embeddings",
    "output_norm": "norm",
    "output": "output",
}
_GGUF_LAYER_RE = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
# Tensors llama.cpp stores that this model computes itself.
_GGUF_SKIPPED = {"rope_freqs.weight"}
_SUPPORTED_GGUF_ARCHS = ("gemma3", "llama", "qwen2")


def gguf_tensor_name(name: str) -> str:
    """`blk.3.attn_q.weight` -> `layers.3.attention.wq.weight`."""
    if m := _GGUF_LAYER_RE.fullmatch(name):
        layer, part, kind = m.groups()
        if part in _GGUF_LAYER_NAMES:
            return f"layers.{layer}.{_GGUF_LAYER_NAMES[part]}.{kind}"
    else:
        stem, _, kind = name.rpartition(".")
        if stem in _GGUF_TOP_NAMES:
            return f"{_GGUF_TOP_NAMES[stem]}.{kind}"
    raise CheckpointError(f"unknown GGUF tensor {name!r}")


def read_gguf_cached(
    path: Path, *, progress: bool, write: bool = True
) -> tuple[ModelArgs, StateDict, Mapping[str, Any]]:
    """`read_gguf`, through the dequantized-weight cache when the file has one; `write`:
    create that cache when it is missing."""
    from . import embedded

    cache = embedded.weights_cache_path(path)
    if cache is None:
        return read_gguf(path)
    if cache.is_file():
        state, saved = embedded.load_weights(cache)
        try:  # the GGUF is read only if its metadata is asked for
            args = ModelArgs.from_json(saved["args"]) if "args" in saved else None
        except ValueError:
            args = None  # written by another version: the GGUF says
        if args is not None:
            return args, state, LazyMetadata(path)
        with GGUFFile(path) as gguf:  # a cache without the model's arguments in it
            return gguf_model_args(gguf), state, dict(gguf.metadata)
    if not write:
        return read_gguf(path)
    if progress:
        embedded.announce(f"dequantizing {path.name} once (cached in {cache.parent})")
    args, state, metadata = read_gguf(path)
    embedded.save_weights(state, cache, metadata={"args": args.to_json()})
    return args, state, metadata


def read_gguf(path: Path) -> tuple[ModelArgs, StateDict, dict[str, Any]]:
    with GGUFFile(path) as gguf:
        args = gguf_model_args(gguf)
        unpermute = unpermute_fn(args) if gguf.architecture == "llama" else None
        state = {}
        for name in gguf.tensors:
            if name in _GGUF_SKIPPED:
                continue
            ours = gguf_tensor_name(name)
            weight = gguf.dequantize(name)
            if unpermute is not None and re.search(r"attention\.w[qk]\.", ours):
                weight = unpermute(weight, ".wq." in ours)
            state[ours] = torch.from_numpy(np.ascontiguousarray(weight))
        return args, state, dict(gguf.metadata)


def unpermute_fn(args: ModelArgs) -> Callable[[np.ndarray, bool], np.ndarray]:
    """Undo llama.cpp's Q/K row permutation (interleaved pairs -> rotate-half halves)."""

    def unpermute(w: np.ndarray, is_q: bool) -> np.ndarray:
        heads = args.n_heads if is_q else args.n_kv_heads
        rest = w.shape[1:]
        w = w.reshape(heads, args.head_dim // 2, 2, *rest)  # [H, D/2, 2, ...]
        return w.swapaxes(1, 2).reshape(heads * args.head_dim, *rest)

    return unpermute


def gguf_model_args(gguf: GGUFFile) -> ModelArgs:
    """ModelArgs from GGUF metadata; what the file does not store comes from the family."""
    arch = gguf.architecture
    if arch not in _SUPPORTED_GGUF_ARCHS:
        raise CheckpointError(
            f"{gguf.path}: unsupported architecture {arch!r} "
            f"(supported: {', '.join(_SUPPORTED_GGUF_ARCHS)})"
        )

    def meta(key: str, default: Any = None) -> Any:
        return gguf.get(f"{arch}.{key}", default)

    tokens: list[str] = gguf.get("tokenizer.ggml.tokens", [])
    dim, n_heads = int(meta("embedding_length")), int(meta("attention.head_count"))
    n_layers = int(meta("block_count"))
    common = dict(
        vocab_size=gguf.tensors["token_embd.weight"].shape[0],
        dim=dim,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=int(meta("attention.head_count_kv", n_heads)),
        head_dim=int(meta("attention.key_length", dim // n_heads)),
        intermediate_size=int(meta("feed_forward_length")),
        norm_eps=float(meta("attention.layer_norm_rms_epsilon", 1e-6)),
        max_seq_len=int(meta("context_length", 8192)),
        tie_embeddings="output.weight" not in gguf.tensors,
        qkv_bias="blk.0.attn_q.bias" in gguf.tensors,
        bos_id=gguf.get("tokenizer.ggml.bos_token_id"),
        eos_ids=_eos_ids(gguf.get("tokenizer.ggml.eos_token_id"), tokens),
    )
    if arch == "gemma3":
        base = replace(CONFIGS["gemma3-270m"], **common)
        return replace(
            base,
            rope_theta=float(meta("rope.freq_base", base.rope_theta)),
            sliding_window=int(meta("attention.sliding_window", base.sliding_window)),
            global_layers=gemma3_global_layers(n_layers),
            query_scale=base.head_dim**-0.5,
        )
    return ModelArgs(arch="llama", rope_theta=float(meta("rope.freq_base", 10_000.0)), **common)


_END_TOKENS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>")


def _eos_ids(eos: int | None, tokens: list[str]) -> tuple[int, ...]:
    """The declared EOS plus the chat end-of-turn tokens the vocabulary has."""
    ids = [] if eos is None else [int(eos)]
    for text in _END_TOKENS:
        if text in tokens and (i := tokens.index(text)) not in ids:
            ids.append(i)
    return tuple(ids)


# --- Hugging Face safetensors ----------------------------------------------------------

_HF_LAYER_NAMES = {
    "self_attn.q_proj": "attention.wq",
    "self_attn.k_proj": "attention.wk",
    "self_attn.v_proj": "attention.wv",
    "self_attn.o_proj": "attention.wo",
    "self_attn.q_norm": "attention.q_norm",
    "self_attn.k_norm": "attention.k_norm",
    "input_layernorm": "attention_norm",
    "mlp.gate_proj": "feed_forward.w1",
    "mlp.up_proj": "feed_forward.w3",
    "mlp.down_proj": "feed_forward.w2",
}
# Llama's "post_attention_layernorm" is the norm before the MLP; Gemma's is a sandwich norm.
_HF_NORMS = {
    "llama": {"post_attention_layernorm": "ffn_norm"},
    "gemma3": {
        "post_attention_layernorm": "post_attention_norm",
        "pre_feedforward_layernorm": "ffn_norm",
        "post_feedforward_layernorm": "post_ffw_norm",
    },
}
_HF_TOP_NAMES = {"model.embed_tokens": "tok_embeddings", "model.norm": "norm", "lm_head": "output"}
_HF_LAYER_RE = re.compile(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)")
_HF_ARCHS = {"llama": "llama", "qwen2": "llama", "mistral": "llama", "gemma3_text": "gemma3"}


def hf_tensor_name(name: str, arch: str) -> str:
    """`model.layers.3.self_attn.q_proj.weight` -> `layers.3.attention.wq.weight`."""
    names = {**_HF_LAYER_NAMES, **_HF_NORMS[arch]}
    if m := _HF_LAYER_RE.fullmatch(name):
        layer, part, kind = m.groups()
        if part in names:
            return f"layers.{layer}.{names[part]}.{kind}"
    else:
        stem, _, kind = name.rpartition(".")
        if stem in _HF_TOP_NAMES:
            return f"{_HF_TOP_NAMES[stem]}.{kind}"
    raise CheckpointError(f"unknown tensor {name!r} for a {arch} checkpoint")


def read_safetensors_folder(path: Path) -> tuple[ModelArgs, StateDict, dict[str, Any]]:
    from safetensors.torch import load_file

    config_path = path / "config.json"
    files = sorted(path.glob("*.safetensors"))
    if not config_path.is_file() or not files:
        raise CheckpointError(f"{path}: expected config.json and *.safetensors")
    config = json.loads(config_path.read_text())
    args = hf_model_args(config, path)
    state: StateDict = {}
    for file in files:
        for name, tensor in load_file(file).items():
            state[hf_tensor_name(name, args.arch)] = tensor.float()
    if args.arch == "gemma3":
        for name in _norm_names(state):
            state[name] = state[name] + 1.0
    if args.tie_embeddings:
        state.pop("output.weight", None)
    return args, state, config


def _norm_names(state: Iterable[str]) -> list[str]:
    return [n for n in state if n.endswith("norm.weight")]


def hf_model_args(config: dict[str, Any], path: Path) -> ModelArgs:
    model_type = config.get("model_type", "")
    if model_type not in _HF_ARCHS:
        raise CheckpointError(
            f"{path}: unsupported model_type {model_type!r} "
            f"(supported: {', '.join(sorted(_HF_ARCHS))})"
        )
    arch = _HF_ARCHS[model_type]
    dim, n_heads = config["hidden_size"], config["num_attention_heads"]
    common = dict(
        vocab_size=config["vocab_size"],
        dim=dim,
        n_layers=config["num_hidden_layers"],
        n_heads=n_heads,
        n_kv_heads=config.get("num_key_value_heads") or n_heads,
        head_dim=config.get("head_dim") or dim // n_heads,
        intermediate_size=config["intermediate_size"],
        norm_eps=config.get("rms_norm_eps", 1e-6),
        max_seq_len=config.get("max_position_embeddings", 8192),
        tie_embeddings=bool(config.get("tie_word_embeddings", arch == "gemma3")),
        bos_id=config.get("bos_token_id"),
        eos_ids=_hf_eos(config.get("eos_token_id")),
    )
    if arch == "gemma3":
        return _hf_gemma3_args(config, common)
    return ModelArgs(
        arch="llama",
        rope_theta=_rope_theta(config, "full_attention", 10_000.0),
        qkv_bias=bool(config.get("attention_bias", model_type == "qwen2")),
        **common,
    )


def _hf_gemma3_args(config: dict[str, Any], common: dict[str, Any]) -> ModelArgs:
    n_layers = common["n_layers"]
    layer_types = config.get("layer_types")
    if layer_types:
        global_layers = tuple(i for i, t in enumerate(layer_types) if t == "full_attention")
    else:
        global_layers = gemma3_global_layers(n_layers, config.get("sliding_window_pattern", 6))
    return replace(
        CONFIGS["gemma3-270m"],
        **common,
        rope_theta=_rope_theta(config, "full_attention", 1_000_000.0),
        rope_local_theta=_rope_theta(config, "sliding_attention", 10_000.0),
        sliding_window=config.get("sliding_window", 512),
        global_layers=global_layers,
        query_scale=config.get("query_pre_attn_scalar", common["head_dim"]) ** -0.5,
    )


def _rope_theta(config: dict[str, Any], layer_type: str, default: float) -> float:
    """RoPE base from either the flat (transformers 4) or nested (5) config layout."""
    params = config.get("rope_parameters") or {}
    if layer_type in params:
        params = params[layer_type]
    if "rope_theta" in params:
        return float(params["rope_theta"])
    if layer_type == "sliding_attention":
        return float(config.get("rope_local_base_freq", default))
    return float(config.get("rope_theta", default))


def _hf_eos(eos: int | list[int] | None) -> tuple[int, ...]:
    if eos is None:
        return ()
    return tuple(eos) if isinstance(eos, list) else (int(eos),)
