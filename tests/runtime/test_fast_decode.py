"""The decoding step in C, layer by layer and all layers at once, against the modules."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

torch = pytest.importorskip("torch")

from quant_fixtures import (  # noqa: E402
    GEMMA,
    LLAMA,
    MANY_HEADS,
    ODD_HEADS,
    WIDE_HEADS,
    Chars,
    coded_sources,
    tiny_model,
)

from marshalike_runtime import (  # noqa: E402
    cpu_kernels,
    fast_decode,
    quant_codes,
    quant_head,
    quant_linear,
)
from marshalike_runtime.engine import Engine  # noqa: E402
from marshalike_runtime.fast_decode import without_fast_decode  # noqa: E402
from marshalike_runtime.model import KVCache, ModelArgs  # noqa: E402
from marshalike_runtime.quant import quantize_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def decode_steps(engine: Engine, modules: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Each step's logits; with `modules`, also what the torch modules give at each step from
    the cache the step read (appended there).

    The cache holds fp16 keys and values. Where the C side's float key differs from the
    modules' in its last bits, the two may round it to neighbouring fp16 values, and in these
    tiny random models one such key moves a logit by 0.01. So the modules are run on the
    cache as the C step left it, writing nothing, and what each side writes is compared on
    its own: one fp16 step apart at most (or 1e-4 near zero, where float sums that cancel
    differ by more than their size suggests)."""
    logits, prompt = [], [1, 5, 9]
    model = engine.model
    with torch.inference_mode():
        engine._ensure_caches(3, 32)
        engine._prefill(prompt, 3)
        tokens = torch.tensor([4, 17, 250])
        for step in range(9):
            if step in (5, 7):  # rows finish: three, then two, then one
                keep = [0, 2] if step == 5 else [1]
                engine._compact(keep, len(prompt) + step)
                tokens = tokens[keep]
            before = _cache(model)
            logits.append(engine._decode(tokens, len(prompt) + step).clone())
            if modules is not None:
                after = _cache(model)
                with without_fast_decode(model), _reading_only():
                    modules.append(engine._decode(tokens, len(prompt) + step).clone())
                _restore(model, before)
                with without_fast_decode(model):
                    engine._decode(tokens, len(prompt) + step)
                for ours, theirs in zip(after, _cache(model), strict=True):  # a step apart
                    torch.testing.assert_close(ours.float(), theirs.float(), rtol=2**-10, atol=1e-4)
                _restore(model, after)
            tokens = (tokens * 7 + 3) % 320
    return logits


def _cache(model) -> list[torch.Tensor]:
    return [t.clone() for c in model.caches() for t in (c.k_cache, c.v_cache)]


def _restore(model, saved: list[torch.Tensor]) -> None:
    buffers = [t for c in model.caches() for t in (c.k_cache, c.v_cache)]
    for buffer, value in zip(buffers, saved, strict=True):
        buffer.copy_(value)


@contextmanager
def _reading_only() -> Iterator[None]:
    """The KV caches' writes left out: the modules read what is there."""

    def read(self: KVCache, _positions: object, k: torch.Tensor, _v: object, kv_len: int):
        batch = k.shape[0]
        return self.k_cache[:batch, :, :kv_len], self.v_cache[:batch, :, :kv_len]

    saved = KVCache.update, KVCache.update_rows
    KVCache.update = KVCache.update_rows = read  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        KVCache.update, KVCache.update_rows = saved  # type: ignore[method-assign]


@pytest.mark.parametrize("build", ["native", "plain"])
@pytest.mark.parametrize(
    "args",
    [LLAMA, GEMMA, WIDE_HEADS, MANY_HEADS, ODD_HEADS],
    ids=["llama", "gemma", "wide-heads", "six-heads", "odd-heads"],
)
def test_the_c_decoding_step_computes_what_the_torch_layers_compute(
    args: ModelArgs, build: str, request, monkeypatch
) -> None:
    """Each decoded position's logits, through `decode_layers` (every layer in one call),
    `decode_layer` (one call a layer) and the modules, for three rows, past the sliding
    window, and with rows dropped midway (a compacted cache) down to a single one."""
    if cpu_kernels.kernels() is None:
        pytest.skip("no C compiler here: the kernels are not built")
    if build == "plain":  # the loops for CPUs without AVX2
        plain = request.getfixturevalue("both_builds")[1]
        for module in (quant_codes, quant_linear, quant_head, fast_decode):
            monkeypatch.setattr(module, "kernels", lambda: plain)
    model = tiny_model(args=args)
    quantize_model(model, "int4", coded_sources(model))
    assert all(layer.fast_decode is not None for layer in model.layers)
    assert model.fast_step is not None and model.kv_dtype == torch.float16
    engine = Engine(model, Chars(), model_name="tiny")
    modules: list[torch.Tensor] = []
    stacked = decode_steps(engine, modules)
    with monkeypatch.context() as patch:
        patch.setattr(model, "fast_step", None)
        layer_by_layer = decode_steps(engine)
    assert model.fast_step is not None
    assert model.layers[0].attention.kv_cache.k_cache.dtype == torch.float16
    for one_call, per_layer, torch_layers in zip(stacked, layer_by_layer, modules, strict=True):
        assert torch.equal(one_call, per_layer)  # the same C code, in the same order
        torch.testing.assert_close(per_layer, torch_layers, rtol=1e-4, atol=1e-4)
