"""Our GGUF reader against files written by, and read by, the `gguf` package."""

from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")

from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf import GGUFValueType as VT  # noqa: E402

from marshalike_runtime.gguf_file import GGUFFile, GGUFFormatError, LazyMetadata  # noqa: E402

SCALARS = {
    "t.u8": (200, VT.UINT8),
    "t.i8": (-100, VT.INT8),
    "t.u16": (60000, VT.UINT16),
    "t.i16": (-30000, VT.INT16),
    "t.u32": (4_000_000_000, VT.UINT32),
    "t.i32": (-2_000_000_000, VT.INT32),
    "t.f32": (0.5, VT.FLOAT32),
    "t.bool": (True, VT.BOOL),
    "t.str": ("héllo ▁wörld", VT.STRING),
    "t.u64": (2**63 + 5, VT.UINT64),
    "t.i64": (-(2**62), VT.INT64),
    "t.f64": (1e-300, VT.FLOAT64),
}


def write_tiny_gguf(path: Path) -> dict[str, np.ndarray]:
    """A GGUF with metadata of every type and tensors in plain and quantized formats."""
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(path, "llama")
    for key, (value, vtype) in SCALARS.items():
        writer.add_key_value(key, value, vtype)
    writer.add_array("t.strings", ["", "a", "▁the", "<0x0A>", "日本"] * 3)
    writer.add_array("t.ints", [1, -2, 3])
    writer.add_array("t.floats", [0.25, -1.5])
    writer.add_array("t.bools", [True, False, True])
    tensors = {
        "f32": rng.normal(size=(3, 5)).astype(np.float32),
        "f16": rng.normal(size=(4, 8)).astype(np.float16),
        "q8_0": rng.normal(size=(2, 64)).astype(np.float32),
        "q4_1": rng.normal(size=(3, 32)).astype(np.float32),
        "vec": rng.normal(size=(7,)).astype(np.float32),
    }
    for name, data in tensors.items():
        qtype = {"q8_0": QT.Q8_0, "q4_1": QT.Q4_1}.get(name)
        if qtype is None:
            writer.add_tensor(name, data)
        else:
            writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return tensors


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    return path, write_tiny_gguf(path)


def test_scalar_metadata_round_trips(tiny) -> None:
    with GGUFFile(tiny[0]) as f:
        assert f.version == 3
        assert f.architecture == "llama"
        for key, (value, _) in SCALARS.items():
            assert f.metadata[key] == value, key
        assert f.metadata["t.bool"] is True


def test_array_metadata_round_trips(tiny) -> None:
    with GGUFFile(tiny[0]) as f:
        assert f.metadata["t.strings"] == ["", "a", "▁the", "<0x0A>", "日本"] * 3
        assert f.metadata["t.ints"].tolist() == [1, -2, 3]
        assert f.metadata["t.floats"].tolist() == [0.25, -1.5]
        assert f.metadata["t.bools"].tolist() == [True, False, True]


def test_lazy_metadata_reads_the_file_on_first_access(tiny, tmp_path: Path) -> None:
    path = tmp_path / "later.gguf"
    lazy = LazyMetadata(path)  # no file yet: nothing is read
    path.write_bytes(tiny[0].read_bytes())
    with GGUFFile(path) as f:
        assert list(lazy) == list(f.metadata) and len(lazy) == len(f.metadata)
    assert lazy["t.strings"][2] == "▁the" and lazy["t.ints"].tolist() == [1, -2, 3]
    with pytest.raises(FileNotFoundError):
        LazyMetadata(tmp_path / "missing.gguf")["general.architecture"]


def test_tensor_infos_and_data(tiny) -> None:
    path, tensors = tiny
    with GGUFFile(path) as f:
        assert list(f.tensors) == list(tensors)
        assert {n: t.shape for n, t in f.tensors.items()} == {
            n: a.shape for n, a in tensors.items()
        }
        assert [t.type_name for t in f.tensors.values()] == ["F32", "F16", "Q8_0", "Q4_1", "F32"]
        for name in ("f32", "f16", "vec"):
            np.testing.assert_array_equal(f.dequantize(name), tensors[name].astype(np.float32))
        # Quantized tensors equal the gguf package's own dequantization of the same bytes.
        for name, qtype in (("q8_0", QT.Q8_0), ("q4_1", QT.Q4_1)):
            expected = gguf.quants.dequantize(gguf.quants.quantize(tensors[name], qtype), qtype)
            np.testing.assert_array_equal(f.dequantize(name), expected)
            np.testing.assert_allclose(f.dequantize(name), tensors[name], atol=0.3)


def test_tensor_data_matches_gguf_reader(tiny) -> None:
    reader = gguf.GGUFReader(tiny[0])
    with GGUFFile(tiny[0]) as f:
        for t in reader.tensors:
            assert f.tensors[t.name].offset == int(t.data_offset)
            np.testing.assert_array_equal(f.raw(t.name).reshape(-1), np.asarray(t.data).reshape(-1))


def test_not_a_gguf_file(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"GGML" + bytes(40))
    with pytest.raises(GGUFFormatError) as err:
        GGUFFile(path)
    assert str(err.value) == f"{path}: not a GGUF file (bad magic)"


def test_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"GGUF" + (1).to_bytes(4, "little") + bytes(40))
    with pytest.raises(GGUFFormatError) as err:
        GGUFFile(path)
    assert str(err.value) == f"{path}: unsupported GGUF version 1"


def test_truncated_file(tiny, tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny[0].read_bytes()[:100])
    with pytest.raises(GGUFFormatError) as err:
        GGUFFile(path)
    assert str(err.value) == (
        f"{path}: truncated or corrupt GGUF file (unpack_from requires a buffer of at least "
        "102 bytes for unpacking 4 bytes at offset 98 (actual buffer size is 100))"
    )


@pytest.mark.slow
def test_embedded_metadata_matches_gguf_reader(embedded_gguf: Path) -> None:
    reader = gguf.GGUFReader(embedded_gguf)
    with GGUFFile(embedded_gguf) as f:
        for key in ("general.architecture", "gemma3.block_count", "gemma3.rope.freq_base"):
            assert f.metadata[key] == reader.fields[key].contents()
        # Element-wise contents() of all 262k tokens takes minutes: compare spread slices.
        tokens = reader.fields["tokenizer.ggml.tokens"]
        for sl in (slice(0, 300), slice(100_000, 100_300), slice(262_000, 262_144)):
            assert f.metadata["tokenizer.ggml.tokens"][sl] == tokens.contents(sl)
        assert len(f.metadata["tokenizer.ggml.tokens"]) == len(tokens.data) == 262_144
        scores = reader.fields["tokenizer.ggml.scores"].contents()
        np.testing.assert_array_equal(f.metadata["tokenizer.ggml.scores"], scores)
        assert len(f.tensors) == len(reader.tensors)
        for t in reader.tensors:
            info = f.tensors[t.name]
            assert (info.ggml_type, info.n_bytes) == (int(t.tensor_type), int(t.n_bytes))
            assert info.offset == int(t.data_offset)
