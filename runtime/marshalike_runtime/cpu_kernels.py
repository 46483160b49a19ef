"""Our C kernels for group-quantized matrix products (`csrc/`), built on first use.

torch has no CPU kernel that reads a checkpoint's 4-, 5-, 6- and 8-bit codes at memory
speed (its int4 kernel is compute-bound on AVX2 and knows one layout), so the quantized
mode calls a small C library of our own through ctypes. It is compiled once per machine
with the system's C compiler (`$CC`, else `cc`, `gcc` or `clang`), `-O3 -march=native`, and
OpenMP when the compiler has it, into `<cache>/kernels/`. The source is split by what each
part does, and `csrc/qmatmul.c` includes the other parts, so one compiler invocation builds
one translation unit (helpers inline across parts). The library's file name carries a hash
of every file in `csrc/`, the flags and the CPU's feature list, so an edit to any part or
another CPU builds afresh. Where no compiler works, `kernels()` is None and the callers
compute the same products with torch (slowly). `MARSHALIKE_NO_KERNELS=1` forces that, for
tests. `MARSHALIKE_KERNEL_ARCH` names another `-march` than `native`: `x86-64-v3` builds the
kernels a CPU with AVX2 and no AVX-512 runs (for one build that many machines share, or to
measure that class of CPU on a newer one).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import Tensor

from . import embedded
from .toolchain import c_compiler

CSRC = Path(__file__).with_name("csrc")
SOURCE = CSRC / "qmatmul.c"  # includes every other part of CSRC
CPUINFO = Path("/proc/cpuinfo")  # the CPU's model and features, where Linux lists them
ARCH_ENV = "MARSHALIKE_KERNEL_ARCH"
_P = ctypes.c_void_p
_I = ctypes.c_int64


class QLinear(ctypes.Structure):
    """`qlinear` in csrc/decode.c: one group-quantized layer."""

    _fields_ = [
        ("codes", _P), ("high", _P), ("scale", _P), ("low", _P), ("bias", _P),
        ("n", _I), ("k", _I),
        ("group", ctypes.c_int32), ("packed", ctypes.c_int32),
        ("half_scales", ctypes.c_int32), ("_pad", ctypes.c_int32),
    ]  # fmt: skip


class LayerDesc(ctypes.Structure):
    """`layer_desc` in csrc/decode.c: everything one decoding step of a layer reads."""

    _fields_ = [
        ("wqkv", QLinear), ("wo", QLinear), ("w13", QLinear), ("w2", QLinear),
        ("attn_norm", _P), ("ffn_norm", _P), ("post_attn_norm", _P), ("post_ffw_norm", _P),
        ("q_norm", _P), ("k_norm", _P),
        ("k_cache", _P), ("v_cache", _P),
        ("cache_len", _I), ("window", _I),
        ("dim", _I), ("n_heads", _I), ("n_kv_heads", _I), ("head_dim", _I), ("hidden", _I),
        ("eps", ctypes.c_float), ("attn_scale", ctypes.c_float),
        ("gelu", ctypes.c_int32), ("_pad", ctypes.c_int32),
    ]  # fmt: skip


class Kernels:
    """The loaded library; each product returns a new float32 tensor ``[B, N]``."""

    def __init__(self, lib: ctypes.CDLL, path: Path, flags: list[str]) -> None:
        self.path, self.flags = path, flags
        self.avx2 = bool(lib.qmm_has_avx2())
        self.vnni = bool(lib.qmm_has_vnni())
        self._i8 = {False: lib.qmm_i8_f32, True: lib.qmm_i8_f16}
        self._u4 = {False: lib.qmm_u4_f32, True: lib.qmm_u4_f16}
        for fn in self._i8.values():
            fn.argtypes = [_P, _P, _P, _I, _I, ctypes.c_int, _P, _I, _P]
            fn.restype = ctypes.c_int
        self._layer = lib.decode_layer
        self._layer.argtypes = [ctypes.POINTER(LayerDesc), _P, _I, _P, _P, _P]
        self._layer.restype = ctypes.c_int
        self._layers = lib.decode_layers
        self._layers.argtypes = [ctypes.POINTER(LayerDesc), _I, _P, _P, _I, _P, _P, _P, _P, _P]
        self._layers.restype = ctypes.c_int
        self._topk = lib.topk_rows
        self._topk.argtypes = [_P, _I, _I, ctypes.c_int, _P]
        self._topk.restype = ctypes.c_int
        self._top_lse = lib.top_logsumexp
        self._top_lse.argtypes = [_P, _I, _I, ctypes.c_int, _P, _P, _P]
        self._top_lse.restype = ctypes.c_int
        self._dequantize = lib.dequantize
        self._dequantize.argtypes = [_P, _P, _P, _P, _I, _I, ctypes.c_int, ctypes.c_int,
                                     ctypes.c_int, ctypes.c_int, _P]  # fmt: skip
        self._dequantize.restype = None
        self._rescore = lib.rescore_rows
        self._rescore.argtypes = [_P, _P, _I, _P, _I, _I, _P, _P]
        self._rescore.restype = None
        for fn in self._u4.values():
            fn.argtypes = [_P, _P, _P, _P, _I, _I, _P, _I, _P]
            fn.restype = ctypes.c_int
        self._screen = lib.qmm_screen
        self._screen.argtypes = [_P, _P, _P, _I, _I, _P, _I, _P]
        self._screen.restype = None
        self._store_half = lib.store_half
        self._store_half.argtypes = [_P, _P, _I]
        self._store_half.restype = None

    def i8(self, codes: Tensor, scale: Tensor, low: Tensor | None, group: int, x: Tensor) -> Tensor:
        """``codes`` [N, K] int8, ``scale``/``low`` [N, K/group], ``x`` [B, K] float32."""
        n, k = codes.shape
        x = x.contiguous()
        y = torch.empty(x.shape[0], n)
        fn = self._i8[scale.dtype == torch.float16]
        rc = fn(codes.data_ptr(), scale.data_ptr(), _ptr(low), n, k, group, x.data_ptr(),
                x.shape[0], y.data_ptr())  # fmt: skip
        return _product(rc, y)

    def u4(
        self,
        codes: Tensor,
        scale: Tensor,
        low: Tensor | None,
        x: Tensor,
        high: Tensor | None = None,
    ) -> Tensor:
        """``codes`` [N, K/2] uint8 (two per byte), groups of 32; with ``high`` [N, K/8]
        (their fifth bits) u5 codes -16..15; as `i8` otherwise."""
        n, k = codes.shape[0], codes.shape[1] * 2
        x = x.contiguous()
        y = torch.empty(x.shape[0], n)
        fn = self._u4[scale.dtype == torch.float16]
        rc = fn(codes.data_ptr(), _ptr(high), scale.data_ptr(), _ptr(low), n, k, x.data_ptr(),
                x.shape[0], y.data_ptr())  # fmt: skip
        return _product(rc, y)

    def to_half(self, x: Tensor) -> Tensor:
        """``x`` (float32) as the decoding step writes it to the KV cache: fp16."""
        x = x.contiguous()
        y = torch.empty(x.shape, dtype=torch.float16)
        self._store_half(y.data_ptr(), x.data_ptr(), x.numel())
        return y

    def screen(self, codes: Tensor, scale: Tensor, low: Tensor, x: Tensor) -> Tensor:
        """An output head's approximate scores (`quant_head.HeadScreen`: u4 codes in groups of
        64, fp16 ``scale`` and ``low``), ``x`` rounded to int8 per group: for screening,
        where the best rows are rescored exactly."""
        n, k = codes.shape[0], codes.shape[1] * 2
        x = x.contiguous()
        y = torch.empty(x.shape[0], n)
        self._screen(codes.data_ptr(), scale.data_ptr(), low.data_ptr(), n, k, x.data_ptr(),
                     x.shape[0], y.data_ptr())  # fmt: skip
        return y

    def decode_layer(
        self, desc: LayerDesc, x: Tensor, pos: Tensor, cos: Tensor, sin: Tensor
    ) -> None:
        """One decoding step of a layer, in place on ``x`` [B, dim] (contiguous float32);
        row b at position ``pos[b]`` (contiguous int64 [B]) with RoPE rows ``cos[b]``,
        ``sin[b]`` (contiguous float32 [B, head_dim])."""
        rc = self._layer(ctypes.byref(desc), x.data_ptr(), x.shape[0], pos.data_ptr(),
                         cos.data_ptr(), sin.data_ptr())  # fmt: skip
        if rc != 0:
            raise MemoryError("decode_layer could not allocate its scratch memory")

    def decode_layers(
        self,
        descs: ctypes.Array[LayerDesc],
        local: ctypes.Array[ctypes.c_uint8],
        x: Tensor,
        pos: Tensor,
        rope_global: tuple[Tensor, Tensor],
        rope_local: tuple[Tensor, Tensor],
    ) -> None:
        """A decoding step of every layer in ``descs``, in order, in place on ``x`` [B, dim],
        row b at position ``pos[b]``; layer i takes the local RoPE table (cos, sin:
        contiguous [B, head_dim] float32, row b's position in row b) where ``local[i]`` is
        set."""
        ropes = [t.data_ptr() for t in (*rope_global, *rope_local)]
        rc = self._layers(descs, len(descs), ctypes.addressof(local), x.data_ptr(), x.shape[0],
                          pos.data_ptr(), *ropes)  # fmt: skip
        if rc != 0:
            raise MemoryError("decode_layers could not allocate a layer's scratch memory")

    def dequantize(
        self,
        codes: Tensor,
        scale: Tensor,
        low: Tensor | None,
        group: int,
        packed: bool,
        high: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """The weight ``[N, K]`` of i8 or (``packed``) u4 codes, u5 with ``high``, in float32
        or bfloat16 (rounded from the float32 values as torch rounds them)."""
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"dequantize writes float32 or bfloat16, not {dtype}")
        n, k = codes.shape[0], codes.shape[1] * (2 if packed else 1)
        out = torch.empty(n, k, dtype=dtype)
        half, bf16 = int(scale.dtype == torch.float16), int(dtype == torch.bfloat16)
        self._dequantize(codes.data_ptr(), _ptr(high), scale.data_ptr(), _ptr(low), n, k, group,
                         int(packed), half, bf16, out.data_ptr())  # fmt: skip
        return out

    def rescore(self, codes: Tensor, scale: Tensor, ids: Tensor, x: Tensor) -> Tensor:
        """Exact scores ``[B, C]`` of the rows ``ids`` [B, C] (int64) of an int8 table
        (``codes`` [V, K], ``scale`` [V, K/32] float32) against ``x`` [B, K] float32."""
        codes, scale = codes.contiguous(), scale.contiguous()
        ids, x = ids.contiguous(), x.contiguous()
        out = torch.empty(ids.shape, dtype=torch.float32)
        self._rescore(codes.data_ptr(), scale.data_ptr(), codes.shape[1], ids.data_ptr(),
                      ids.shape[0], ids.shape[1], x.data_ptr(), out.data_ptr())  # fmt: skip
        return out

    def topk_indices(self, y: Tensor, k: int) -> Tensor | None:
        """Indices of the ``k`` largest values of each row of ``y`` [B, N] (float32), in no
        particular order; None where the kernel declines (k over 4096)."""
        y = y.contiguous()
        out = torch.empty(y.shape[0], k, dtype=torch.int64)
        if self._topk(y.data_ptr(), y.shape[0], y.shape[1], k, out.data_ptr()) != 0:
            return None
        return out

    def top_logsumexp(self, y: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor] | None:
        """The ``k`` largest values of each row of ``y`` [B, N] (float32) best first (of
        equal values the lower index first), their indices, and each row's logsumexp
        ``[B, 1]``; None where the kernel declines (k outside 1..min(N, 4096))."""
        return self._top(y, k, normaliser=True)

    def top_values(self, y: Tensor, k: int) -> tuple[Tensor, Tensor] | None:
        """As `top_logsumexp`, without the logsumexp (a pass fewer): ``k = 1`` is the
        argmax, of equal values the first."""
        found = self._top(y, k, normaliser=False)
        return None if found is None else found[:2]

    def _top(self, y: Tensor, k: int, *, normaliser: bool) -> tuple[Tensor, Tensor, Tensor] | None:
        y = y.contiguous()
        rows = y.shape[0]
        values = torch.empty(rows, k)
        ids = torch.empty(rows, k, dtype=torch.int64)
        lse = torch.empty(rows, 1)
        rc = self._top_lse(y.data_ptr(), rows, y.shape[1], k, values.data_ptr(), ids.data_ptr(),
                           lse.data_ptr() if normaliser else None)  # fmt: skip
        return None if rc != 0 else (values, ids, lse)


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


@functools.cache
def kernels() -> Kernels | None:
    """The compiled kernels, or None where they cannot be built or loaded here."""
    if os.environ.get("MARSHALIKE_NO_KERNELS"):
        return None
    try:
        return _build()
    except (OSError, subprocess.SubprocessError, AttributeError):
        return None


def _build() -> Kernels | None:
    compiler = c_compiler()
    if compiler is None:
        return None
    source = sources_digest()
    out_dir = embedded.cache_dir() / "kernels"
    for flags in flag_sets():
        key = hashlib.sha256(source + " ".join([compiler, *flags, _cpu_id()]).encode())
        target = out_dir / f"qmatmul-{key.hexdigest()[:16]}.so"
        if not target.is_file() and not _compile(compiler, flags, target):
            continue
        return Kernels(ctypes.CDLL(str(target)), target, flags)
    return None


def flag_sets() -> list[list[str]]:
    """The compiler flags to try, best first: the target CPU (`MARSHALIKE_KERNEL_ARCH`, else
    this one) with OpenMP, without, and plain."""
    arch = os.environ.get(ARCH_ENV, "").strip() or "native"
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", arch):
        print(f"marshalike: {ARCH_ENV}={arch!r} is not a CPU name -march takes; using native",
              file=sys.stderr, flush=True)  # fmt: skip
        arch = "native"
    return [["-O3", f"-march={arch}", "-fopenmp"], ["-O3", f"-march={arch}"], ["-O3"]]


def sources_digest() -> bytes:
    """A hash of every source file in `csrc/`, with its name: the build's input, whichever
    part an edit touched."""
    digest = hashlib.sha256()
    for path in sorted(CSRC.glob("*.[ch]")):
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode() + data)
    return digest.digest()


def _cpu_id() -> str:
    """The CPU's model and feature flags: `-march=native` output is only valid on them."""
    try:
        lines = CPUINFO.read_text().splitlines()
    except OSError:
        return platform.machine() + platform.processor()
    wanted = ("model name", "flags", "Features")
    return platform.machine() + "".join(sorted({ln for ln in lines if ln.startswith(wanted)}))


def _product(rc: int, y: Tensor) -> Tensor:
    if rc != 0:
        raise MemoryError("a quantized matrix product could not allocate its scratch memory")
    return y


def cpu_flags() -> set[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty where there is none)."""
    try:
        cpuinfo = CPUINFO.read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", cpuinfo, re.MULTILINE)
    return set(found.group(1).split()) if found else set()


def _compile(compiler: str, flags: list[str], target: Path) -> bool:
    """Build ``target`` atomically (a concurrent build or a crash leaves no half file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.partial")
    os.close(fd)
    shown = " ".join(flags)
    print(f"marshalike: building the CPU kernels ({compiler} {shown}), once for this CPU ...",
          file=sys.stderr, flush=True)  # fmt: skip
    start = time.monotonic()
    try:
        cmd = [compiler, *flags, "-std=c11", "-fPIC", "-shared", str(SOURCE), "-o", tmp, "-lm"]
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            print("marshalike: that build failed; trying the next flags, else plain PyTorch",
                  file=sys.stderr, flush=True)  # fmt: skip
            return False
        os.replace(tmp, target)
        print(f"marshalike: CPU kernels built in {time.monotonic() - start:.1f} s",
              file=sys.stderr, flush=True)  # fmt: skip
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)
