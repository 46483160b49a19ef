"""A small GGUF reader: header, metadata, tensor infos, and memory-mapped tensor data.

The `gguf` package's `GGUFReader` builds a numpy view per array element, which takes ~19 s
on a 262k-entry vocabulary; this reader walks the header once with `struct` and decodes
string arrays in one Python loop, and numeric arrays with a single `np.frombuffer`.
Dequantization itself is delegated to `gguf.quants.dequantize`.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from marshalike_runtime.errors import ModelFileError

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# GGUF metadata value types (gguf spec numbering).
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL = range(8)
_STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(8, 13)

_SCALAR_DTYPES: dict[int, np.dtype[Any]] = {
    _UINT8: np.dtype("<u1"),
    _INT8: np.dtype("<i1"),
    _UINT16: np.dtype("<u2"),
    _INT16: np.dtype("<i2"),
    _UINT32: np.dtype("<u4"),
    _INT32: np.dtype("<i4"),
    _FLOAT32: np.dtype("<f4"),
    _BOOL: np.dtype("<u1"),
    _UINT64: np.dtype("<u8"),
    _INT64: np.dtype("<i8"),
    _FLOAT64: np.dtype("<f8"),
}

# struct's standard sizes, not numpy's native chars ("L" is 8 bytes to numpy, 4 to struct).
_STRUCT_FORMATS = {
    _UINT8: "<B",
    _INT8: "<b",
    _UINT16: "<H",
    _INT16: "<h",
    _UINT32: "<I",
    _INT32: "<i",
    _FLOAT32: "<f",
    _BOOL: "<B",
    _UINT64: "<Q",
    _INT64: "<q",
    _FLOAT64: "<d",
}

# ggml tensor types stored unquantized: read straight into these numpy dtypes.
_PLAIN_TENSOR_DTYPES: dict[int, np.dtype[Any]] = {
    0: np.dtype("<f4"),  # F32
    1: np.dtype("<f2"),  # F16
    24: np.dtype("<i1"),  # I8
    25: np.dtype("<i2"),  # I16
    26: np.dtype("<i4"),  # I32
    27: np.dtype("<i8"),  # I64
    28: np.dtype("<f8"),  # F64
}
_BF16 = 30


class GGUFFormatError(ModelFileError):
    """The file is not a GGUF file this reader understands."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives in the file. `shape` is numpy order (slowest axis first)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # absolute byte offset in the file
    n_bytes: int

    @property
    def type_name(self) -> str:
        from gguf import GGMLQuantizationType

        return GGMLQuantizationType(self.ggml_type).name


class _Cursor:
    """Sequential little-endian reads over a buffer."""

    def __init__(self, buf: mmap.mmap | bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def unpack(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        raw = self.buf[self.pos : self.pos + length]
        self.pos += length
        # surrogateescape keeps byte-level tokens that are not valid UTF-8 lossless.
        return raw.decode("utf-8", "surrogateescape")

    def string_array(self, count: int) -> list[str]:
        buf, pos = self.buf, self.pos
        out: list[str] = []
        unpack_len = struct.Struct("<Q").unpack_from
        append = out.append
        for _ in range(count):
            (length,) = unpack_len(buf, pos)
            pos += 8
            append(buf[pos : pos + length].decode("utf-8", "surrogateescape"))
            pos += length
        self.pos = pos
        return out

    def numeric_array(self, dtype: np.dtype[Any], count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos).copy()
        self.pos += dtype.itemsize * count
        return arr

    def value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array()
        if vtype not in _SCALAR_DTYPES:
            raise GGUFFormatError(f"unknown metadata value type {vtype} at byte {self.pos}")
        value = self.unpack(_STRUCT_FORMATS[vtype])
        return bool(value) if vtype == _BOOL else value

    def array(self) -> list[Any] | np.ndarray:
        elem_type = self.unpack("<I")
        count = self.unpack("<Q")
        if elem_type == _STRING:
            return self.string_array(count)
        if elem_type == _ARRAY:
            return [self.array() for _ in range(count)]
        if elem_type not in _SCALAR_DTYPES:
            raise GGUFFormatError(f"unknown array element type {elem_type} at byte {self.pos}")
        arr = self.numeric_array(_SCALAR_DTYPES[elem_type], count)
        return arr.astype(bool) if elem_type == _BOOL else arr


class GGUFFile:
    """A parsed GGUF file: `metadata` (key -> value), `tensors` (name -> TensorInfo).

    Scalars come back as Python values, numeric arrays as numpy arrays, string arrays as
    lists of str. Tensor data is memory-mapped, so opening costs only the header walk.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self.path.open("rb") as fh:
            if self.path.stat().st_size < 24:
                raise GGUFFormatError(f"{self.path}: not a GGUF file (too short)")
            self._mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self._parse()
        except GGUFFormatError:
            self._mmap.close()
            raise
        except (struct.error, ValueError) as exc:
            self._mmap.close()
            raise GGUFFormatError(f"{self.path}: truncated or corrupt GGUF file ({exc})") from None

    def _parse(self) -> None:
        cursor = _Cursor(self._mmap)
        self.version, n_tensors, n_kv = self._read_header(cursor)
        self.metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = cursor.string()
            self.metadata[key] = cursor.value(cursor.unpack("<I"))
        raw_infos = [self._read_tensor_info(cursor) for _ in range(n_tensors)]
        alignment = int(self.metadata.get("general.alignment", DEFAULT_ALIGNMENT))
        self.data_offset = -(-cursor.pos // alignment) * alignment
        self.tensors: dict[str, TensorInfo] = {
            name: self._tensor_info(name, dims, ggml_type, offset)
            for name, dims, ggml_type, offset in raw_infos
        }

    def _read_header(self, cursor: _Cursor) -> tuple[int, int, int]:
        if self._mmap[:4] != GGUF_MAGIC:
            raise GGUFFormatError(f"{self.path}: not a GGUF file (bad magic)")
        cursor.pos = 4
        version = cursor.unpack("<I")
        if version not in (2, 3):
            raise GGUFFormatError(f"{self.path}: unsupported GGUF version {version}")
        return version, cursor.unpack("<Q"), cursor.unpack("<Q")

    @staticmethod
    def _read_tensor_info(cursor: _Cursor) -> tuple[str, tuple[int, ...], int, int]:
        name = cursor.string()
        n_dims = cursor.unpack("<I")
        dims = tuple(cursor.unpack("<Q") for _ in range(n_dims))
        ggml_type = cursor.unpack("<I")
        return name, dims, ggml_type, cursor.unpack("<Q")

    def _tensor_info(
        self, name: str, dims: tuple[int, ...], ggml_type: int, offset: int
    ) -> TensorInfo:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
        n_elements = int(np.prod(dims, dtype=np.int64))
        n_bytes = n_elements * type_size // block_size
        # ggml lists dims fastest-first; numpy wants slowest-first.
        shape = tuple(reversed(dims))
        return TensorInfo(name, shape, ggml_type, self.data_offset + offset, n_bytes)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    @cached_property
    def architecture(self) -> str:
        return str(self.metadata["general.architecture"])

    def raw(self, name: str) -> np.ndarray:
        """The tensor's bytes as a read-only view: typed for plain types, uint8 rows for quants."""
        info = self.tensors[name]
        if info.ggml_type in _PLAIN_TENSOR_DTYPES:
            dtype = _PLAIN_TENSOR_DTYPES[info.ggml_type]
            return np.frombuffer(self._mmap, dtype, int(np.prod(info.shape)), info.offset).reshape(
                info.shape
            )
        if info.ggml_type == _BF16:
            count = int(np.prod(info.shape))
            return np.frombuffer(self._mmap, "<u2", count, info.offset).reshape(info.shape)
        row_bytes = info.n_bytes // int(np.prod(info.shape[:-1], dtype=np.int64))
        flat = np.frombuffer(self._mmap, np.uint8, info.n_bytes, info.offset)
        return flat.reshape(*info.shape[:-1], row_bytes)

    def dequantize(self, name: str) -> np.ndarray:
        """The tensor as float32, shaped like `tensors[name].shape`."""
        info = self.tensors[name]
        data = self.raw(name)
        if info.ggml_type == _BF16:
            return (data.astype(np.uint32) << 16).view(np.float32)
        if info.ggml_type in _PLAIN_TENSOR_DTYPES:
            return data.astype(np.float32)
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize

        out = dequantize(data, GGMLQuantizationType(info.ggml_type))
        return out.reshape(info.shape)

    def close(self) -> None:
        try:
            self._mmap.close()
        except BufferError:
            # Arrays from raw() still view the map; it closes when the last one is freed.
            pass

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LazyMetadata(Mapping[str, Any]):
    """A GGUF file's metadata, read from the file on first access: a load that finds all
    it needs in caches never walks a header holding a 262k-entry vocabulary."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._data: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any]:
        if self._data is None:
            with GGUFFile(self._path) as gguf:
                self._data = dict(gguf.metadata)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())
