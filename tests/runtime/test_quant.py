import os

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from marshalike_runtime import quant  # noqa: E402
from marshalike_runtime.engine import Engine  # noqa: E402
from marshalike_runtime.model import ModelArgs, Transformer  # noqa: E402
from marshalike_runtime.quant import (  # noqa: E402
    Int8Embedding,
    Int8Linear,
    quantize_model,
    quantize_per_channel,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matmuls gain nothing from threads, and lose a lot when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# benchmarks/gpu_check.sh runs these tests with MARSHALIKE_TEST_DEVICE=cuda.
DEVICE = os.environ.get("MARSHALIKE_TEST_DEVICE", "cpu")


def tiny_model(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    args = ModelArgs(
        arch="llama",
        vocab_size=300,
        dim=64,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        head_dim=16,
        intermediate_size=128,
        max_seq_len=64,
        qkv_bias=True,
    )
    model = Transformer(args).eval().requires_grad_(False).to(DEVICE)
    with torch.no_grad():
        model.tok_embeddings.weight.mul_(0.1)
    return model


def test_per_channel_round_trip_is_within_half_a_step() -> None:
    torch.manual_seed(0)
    w = torch.randn(50, 33) * torch.linspace(0.01, 10, 50)[:, None]
    q, scales = quantize_per_channel(w, chunk_rows=7)
    assert q.dtype == torch.int8 and scales.shape == (50,)
    assert int(q.abs().amax(dim=1).min()) == 127  # every row uses its full range
    error = (q.float() * scales[:, None] - w).abs()
    assert bool((error <= scales[:, None] / 2 + 1e-6).all())


@pytest.mark.parametrize("kernel", [True, False])
def test_int8_linear_matches_the_float_layer(kernel: bool, monkeypatch) -> None:
    monkeypatch.setattr(quant, "_has_int8pack_kernel", lambda device: kernel)
    torch.manual_seed(1)
    linear = nn.Linear(64, 48, bias=True).to(DEVICE)
    x = torch.randn(3, 5, 64, device=DEVICE)
    with torch.no_grad():
        out = Int8Linear.from_linear(linear)(x)
        expected = linear(x)
    assert out.shape == (3, 5, 48) and out.dtype == torch.float32
    relative = (out - expected).norm() / expected.norm()
    assert float(relative) < (0.02 if kernel else 0.01)  # the kernel multiplies in bf16


def test_quantize_model_replaces_linears_and_shares_the_tied_table() -> None:
    model = quantize_model(tiny_model())
    assert isinstance(model.output, Int8Linear)
    assert isinstance(model.layers[0].attention.wq, Int8Linear)
    assert isinstance(model.layers[1].feed_forward.w2, Int8Linear)
    assert isinstance(model.tok_embeddings, Int8Embedding)
    assert model.tok_embeddings.weight is model.output.weight
    assert not any(isinstance(m, nn.Linear) for m in model.modules())


def test_int8_embedding_dequantizes_rows() -> None:
    float_model = tiny_model()
    ids = torch.tensor([[0, 5, 299]], device=DEVICE)
    expected = float_model.tok_embeddings(ids)
    rows = quantize_model(tiny_model()).tok_embeddings(ids)
    assert rows.shape == (1, 3, 64) and rows.dtype == torch.float32
    assert float((rows - expected).abs().max()) <= float(expected.abs().max()) / 127


def test_quantized_logits_stay_close_to_float() -> None:
    tokens = torch.tensor([[1, 7, 42, 9, 250]], device=DEVICE)
    pos = torch.arange(5, device=DEVICE)
    expected = tiny_model()(tokens, pos)
    out = quantize_model(tiny_model())(tokens, pos)
    assert out.dtype == torch.float32
    assert float((out - expected).norm() / expected.norm()) < 0.05


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError) as err:
        quantize_model(tiny_model(), "int3")
    assert str(err.value) == "unknown quantization mode 'int3'; expected one of ('int8',)"


class Chars:
    eos_ids = frozenset()

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(65 + i % 26) for i in ids)


def test_engine_runs_a_quantized_model_with_float_caches() -> None:
    engine = Engine(quantize_model(tiny_model()), Chars(), model_name="tiny-int8")
    out = engine.generate([1, 2, 3], n=3, max_tokens=6)
    assert [len(g.token_ids) for g in out] == [6, 6, 6]
    assert all(c.k_cache.dtype == torch.float32 for c in engine.model.caches())
    # Decoding with the cache picks what a full forward of the quantized model picks.
    seq = torch.tensor([[1, 2, 3, *out[0].token_ids[:5]]], device=DEVICE)
    logits = engine.model(seq, torch.arange(seq.shape[1], device=DEVICE))[
        0, 2:
    ]  # no cache: fresh forward
    assert logits.argmax(-1).tolist() == out[0].token_ids
