"""The decoding step in C, layer by layer and all layers at once, against the modules."""

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
from marshalike_runtime.model import ModelArgs  # noqa: E402
from marshalike_runtime.quant import quantize_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def decode_steps(engine: Engine) -> list[torch.Tensor]:
    logits, prompt = [], [1, 5, 9]
    with torch.inference_mode():
        engine._ensure_caches(3, 32)
        engine._prefill(prompt, 3)
        tokens = torch.tensor([4, 17, 250])
        for step in range(9):
            if step in (5, 7):  # rows finish: three, then two, then one
                keep = [0, 2] if step == 5 else [1]
                engine._compact(keep, len(prompt) + step)
                tokens = tokens[keep]
            logits.append(engine._decode(tokens, len(prompt) + step).clone())
            tokens = (tokens * 7 + 3) % 320
    return logits


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
    assert model.fast_step is not None
    engine = Engine(model, Chars(), model_name="tiny")
    stacked = decode_steps(engine)
    with monkeypatch.context() as patch:
        patch.setattr(model, "fast_step", None)
        layer_by_layer = decode_steps(engine)
    with without_fast_decode(model):
        assert model.fast_step is None
        modules = decode_steps(engine)
    assert model.fast_step is not None
    for one_call, per_layer, torch_layers in zip(stacked, layer_by_layer, modules, strict=True):
        assert torch.equal(one_call, per_layer)  # the same C code, in the same order
        torch.testing.assert_close(per_layer, torch_layers, rtol=1e-4, atol=1e-4)
