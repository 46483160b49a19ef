"""The embedded model's tokenizer, saved once built.

Building Gemma's tokenizer from GGUF metadata walks its 262k pieces three times in Python:
reading them from the header, writing sentencepiece's model proto (`tokenizer.model_proto`)
and working out the bytes each piece decodes to. That was most of a load that should take
under 2 s. The built state (the proto, each piece's text and bytes, the control tokens and
the settings) goes into one safetensors file beside the weights cache, keyed by the same
hash and dropped with it when the GGUF is assembled again; a later load reads it instead.
Only sentencepiece tokenizers are saved (the embedded model has one); any other checkpoint
builds its tokenizer on every load, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from . import embedded
from .tokenizer import Tokenizer, TokenizerError

# Bumped when what is saved changes, so an old file is ignored rather than misread, and
# when tokenizer.py comes to build a different tokenizer from the same metadata: a saved
# one would otherwise keep the old behaviour.
VARIANT = "tokenizer-v1"


def cached(path: Path, build: Callable[[], Tokenizer]) -> Tokenizer:
    """The tokenizer of the GGUF at `path`: from its cache when there is one, else built
    by `build` (and saved, when `path` is the embedded model's file)."""
    from safetensors import SafetensorError

    file = embedded.weights_cache_path(path, variant=VARIANT)
    if file is not None and file.is_file():
        try:
            return read(file)
        except (SafetensorError, KeyError, ValueError, TokenizerError, OSError):
            pass  # unreadable: built again below, and the file replaced
    tokenizer = build()
    if file is not None and tokenizer.proto is not None:
        try:
            write(tokenizer, file)
        except OSError as exc:  # a cache that cannot be written only slows the next load
            embedded.announce(f"could not save the tokenizer in {file.parent}: {exc}")
    return tokenizer


def write(tokenizer: Tokenizer, file: Path) -> None:
    """Save a sentencepiece tokenizer (one with a `proto`) to `file`, atomically."""
    if tokenizer.proto is None:
        raise ValueError("only a sentencepiece tokenizer (one with a model proto) is saved")
    ids = range(tokenizer.vocab_size)
    # surrogateescape: GGUF byte-level tokens that are not valid UTF-8 stay lossless.
    texts = [tokenizer.token_text(i).encode("utf-8", "surrogateescape") for i in ids]
    text, text_ends = _joined(texts)
    pieces, piece_ends = _joined([tokenizer.token_bytes(i) for i in ids])
    arrays = {
        "proto": np.frombuffer(tokenizer.proto, dtype=np.uint8),
        "text": text,
        "text_ends": text_ends,
        "pieces": pieces,
        "piece_ends": piece_ends,
        "special": np.array(sorted(tokenizer.special.values()), dtype=np.int64),
    }
    settings = {
        "bos_id": tokenizer.bos_id,
        "eos_ids": sorted(tokenizer.eos_ids),
        "add_bos": tokenizer.add_bos,
        "chat_template": tokenizer.chat_template,
    }
    state = {name: torch.from_numpy(array.copy()) for name, array in arrays.items()}
    embedded.save_weights(state, file, metadata={"settings": json.dumps(settings)})


def read(file: Path) -> Tokenizer:
    """The tokenizer `write` saved in `file`."""
    state, saved = embedded.load_weights(file)
    settings = json.loads(saved["settings"])
    arrays = {name: tensor.numpy() for name, tensor in state.items()}
    texts = _split(arrays["text"], arrays["text_ends"])
    tokens = [t.decode("utf-8", "surrogateescape") for t in texts]
    pieces = _split(arrays["pieces"], arrays["piece_ends"])
    if len(pieces) != len(tokens):
        raise ValueError(f"{len(tokens)} tokens but {len(pieces)} pieces")
    special = {tokens[i]: i for i in arrays["special"].tolist()}
    return Tokenizer.from_proto(
        arrays["proto"].tobytes(),
        tokens,
        pieces,
        special,
        bos_id=settings["bos_id"],
        eos_ids=frozenset(settings["eos_ids"]),
        add_bos=settings["add_bos"],
        chat_template=settings["chat_template"],
    )


def _joined(parts: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """All of `parts` in one byte array, and where each ends."""
    ends = np.cumsum([len(p) for p in parts], dtype=np.int64)
    return np.frombuffer(b"".join(parts) or b"\0", dtype=np.uint8), ends


def _split(joined: np.ndarray, ends: np.ndarray) -> list[bytes]:
    data = joined.tobytes()
    bounds = ends.tolist()
    if bounds and (bounds[-1] > len(data) or bool(np.any(np.diff(ends) < 0))):
        raise ValueError("the saved token bounds do not fit their bytes")
    return [data[a:b] for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]
