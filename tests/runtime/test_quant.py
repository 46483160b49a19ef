"""The quantized mode on whole models: what it replaces, its saved plan, its accuracy."""

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from quant_fixtures import GEMMA, LLAMA, Chars, coded_sources, random_groups, tiny_model  # noqa: E402
from torch import nn  # noqa: E402

from marshalike_runtime import quant  # noqa: E402
from marshalike_runtime.engine import Engine  # noqa: E402
from marshalike_runtime.model import ModelArgs, Transformer  # noqa: E402
from marshalike_runtime.quant import (  # noqa: E402
    QuantError,
    apply_plan,
    check_supported,
    quantize_model,
)
from marshalike_runtime.quant_head import TiedEmbedding  # noqa: E402
from marshalike_runtime.quant_linear import GroupLinear, HalfLinear  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_quantize_model_keeps_codes_fuses_projections_and_ties_the_head() -> None:
    model = tiny_model()
    sources = coded_sources(model)
    del sources["layers.1.attention.wk.weight"]  # a float layer: no fusion in layer 1
    plan = quantize_model(model, "int4", sources)
    att0, att1 = model.layers[0].attention, model.layers[1].attention
    assert isinstance(att0.wqkv, GroupLinear) and att0.wq is None and att0.wv is None
    assert plan["layers.0.attention.wqkv"]["replaces"] == ["wq", "wk", "wv"]
    assert att0.wqkv.out_features == 64 + 32 + 32
    assert att1.wqkv is None and isinstance(att1.wk, HalfLinear)
    assert isinstance(model.layers[0].feed_forward.w13, GroupLinear)
    w2 = model.layers[0].feed_forward.w2
    assert isinstance(w2, GroupLinear) and w2.group == 16 and not w2.packed
    wo = att0.wo
    expected = torch.from_numpy(sources["layers.0.attention.wo.weight"].dequantize())
    assert wo.packed and torch.equal(wo.weight(), expected)
    assert plan["output"]["kind"] == "head" and plan["tok_embeddings"] == {"kind": "tied"}
    assert isinstance(model.tok_embeddings, TiedEmbedding)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    # One table in the state, read by both the embedding and the head.
    assert "output.table.codes" in model.state_dict()
    assert not any(k.startswith("tok_embeddings") for k in model.state_dict())
    assert model.layers[0].fast_decode is not None and model.layers[1].fast_decode is None
    assert model.fast_step is None  # not every layer can decode in C: the layers run


def test_fusing_layers_of_different_layouts_widens_them_to_int8() -> None:
    """Gemma's GGUF stores queries and keys in Q5_0 and some values in Q8_0: fused, losslessly."""
    q = GroupLinear.from_groups(random_groups(24, 64, codes="u5", affine=False, half=True))
    v = GroupLinear.from_groups(random_groups(8, 64, codes="i8", affine=False, half=True, seed=3))
    attention = nn.Module()
    attention.wq, attention.wk, attention.wv = q, q, v
    fused = quant._fuse(attention, ("wq", "wk", "wv"))
    assert fused is not None and not fused.packed and fused.scale.dtype == torch.float32
    assert attention.wq is None and attention.wv is None
    torch.testing.assert_close(
        fused.weight(), torch.cat([q.weight(), q.weight(), v.weight()]), rtol=0, atol=0
    )
    other_group = GroupLinear.from_groups(random_groups(8, 64, group=16, codes="i8", affine=False))
    attention.wq, attention.wk = q, other_group
    assert quant._fuse(attention, ("wq", "wk")) is None  # another group size: kept apart


@pytest.mark.parametrize("args", [LLAMA, GEMMA], ids=["llama", "gemma"])
def test_a_saved_quantized_state_rebuilds_the_same_model_from_its_plan(args: ModelArgs) -> None:
    model = tiny_model(args=args)
    plan = quantize_model(model, "int4", coded_sources(model))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.device("meta"):
        rebuilt = Transformer(model.args)
    apply_plan(rebuilt, plan)
    rebuilt.load_state_dict(state, strict=True, assign=True)
    tokens, pos = torch.tensor([[1, 7, 42, 9, 250]]), torch.arange(5)
    torch.testing.assert_close(rebuilt.eval()(tokens, pos), model(tokens, pos))
    sampling = {"n": 2, "max_tokens": 8, "seed": 3, "temperature": 1.0}
    first = Engine(model, Chars(), model_name="tiny").generate([1, 2, 3], **sampling)
    again = Engine(rebuilt, Chars(), model_name="tiny").generate([1, 2, 3], **sampling)
    assert [g.token_ids for g in first] == [g.token_ids for g in again]


def test_quantized_logits_stay_close_to_float() -> None:
    tokens, pos = torch.tensor([[1, 7, 42, 9, 250]]), torch.arange(5)
    expected = tiny_model()(tokens, pos)
    model = tiny_model()
    quantize_model(model)  # no codes: fp16 layers, and the screened head
    out = model(tokens, pos)
    assert out.dtype == torch.float32
    # The head's approximate logits (tokens outside its candidates) are 4-bit; the best
    # tokens are exact, so the choice agrees.
    assert float((out - expected).norm() / expected.norm()) < 0.1
    assert out.argmax(-1).tolist() == expected.argmax(-1).tolist()


def test_a_width_the_head_screen_cannot_group_is_refused_with_the_reason() -> None:
    model = tiny_model(args=dataclasses.replace(LLAMA, dim=96, n_heads=6))
    with pytest.raises(QuantError, match="multiple of 64 .* this model's is 96"):
        quantize_model(model)


def test_unknown_mode_and_other_devices_are_refused() -> None:
    with pytest.raises(QuantError) as err:
        check_supported("int3", torch.device("cpu"))
    assert str(err.value) == "unknown quantization mode 'int3'; expected one of ('int4',)"
    with pytest.raises(QuantError) as err:
        check_supported("int4", torch.device("cuda"))
    assert str(err.value) == "quantization mode 'int4' runs on CPU; on a GPU the model runs in bf16"


def test_engine_runs_a_quantized_model_with_float_caches() -> None:
    model = tiny_model()
    quantize_model(model)
    engine = Engine(model, Chars(), model_name="tiny-int4")
    out = engine.generate([1, 2, 3], n=3, max_tokens=6)
    assert [len(g.token_ids) for g in out] == [6, 6, 6]
    assert all(c.k_cache.dtype == torch.float32 for c in engine.model.caches())
