"""The quantized CPU mode `int4`: fewer bytes read per decoded token.

Decoding reads every weight once per step, and on a small CPU that read is the cost (fp32
Gemma 3 270M moves 1.07 GB per token, 63% of it the tied 262k-row output head). The mode
replaces a float model's modules in place (`quantize_model`):

- **Linear layers stored quantized** in the GGUF (Q4_K, Q4_1, Q5_0, Q6_K, Q8_0) become
  `quant_linear.GroupLinear`s, which keep the file's own integer codes and per-group scales
  (`blocks.py`, `quant_codes.py`): nothing is rounded a second time (re-quantizing
  quantized weights compounds two roundings). The query/key/value and the gate/up
  projections of a layer are fused into one product each, so a layer makes four products a
  step; a step runs every layer in one C call (`fast_decode.FastStack`, or one call a
  layer, `fast_decode.FastDecode`, where not every layer qualifies).
- **Other linear layers** (float checkpoints, F16/F32 tensors) are held in fp16
  (`quant_linear.HalfLinear`).
- **The output head is screened** (`quant_head.py`): a 4-bit copy scores the whole
  vocabulary, then the best rows are scored again exactly from an int8 table, which for a
  Q8_0 head is the file's own codes (lossless; the embedding looks its rows up in the same
  table).

Quantizing happens once per model file; `quant_load.py` caches the result, with the plan of
what each replaced module became (`apply_plan` rebuilds a model from it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .blocks import GROUP, Groups
from .errors import QuantError
from .fast_decode import enable_fast_decode
from .model import Transformer
from .quant_head import HeadScreen, Int8Table, ScreenedHead, TiedEmbedding
from .quant_linear import GroupLinear, HalfLinear

QUANT_MODES = ("int4",)


def check_supported(mode: str, device: torch.device) -> None:
    if mode not in QUANT_MODES:
        raise QuantError(f"unknown quantization mode {mode!r}; expected one of {QUANT_MODES}")
    if device.type != "cpu":
        raise QuantError(f"quantization mode {mode!r} runs on CPU; on a GPU the model runs in bf16")


# What each replaced module became (name -> spec); saved beside a quantized state so that
# a cached model can be rebuilt from shapes alone (`apply_plan`).
Plan = dict[str, dict[str, Any]]
_FUSED = {"attention": ("wqkv", ("wq", "wk", "wv")), "feed_forward": ("w13", ("w1", "w3"))}


def quantize_model(
    model: Transformer, mode: str = "int4", sources: Mapping[str, Groups] | None = None
) -> Plan:
    """Replace ``model``'s linear layers and head in place (see the module doc); the plan.

    ``sources`` maps a weight's name (``layers.0.attention.wo.weight``) to the codes the
    checkpoint stored it in (`blocks.Groups`); a Q8_0 head's codes become the exact table.
    Weights without a source are held in fp16.
    """
    check_supported(mode, next(model.parameters()).device)
    sources = sources or {}
    plan: Plan = {}
    tied = model.output.weight is model.tok_embeddings.weight
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and name != "output":
            _set(model, name, _linear(module, sources.get(f"{name}.weight")))
    for name, module in list(model.named_modules()):
        for kind, (fused, parts) in _FUSED.items():
            if name.endswith(kind) and (layer := _fuse(module, parts)) is not None:
                setattr(module, fused, layer)
                plan[f"{name}.{fused}"] = {**layer.spec(), "replaces": list(parts)}
    for name, module in model.named_modules():
        if isinstance(module, (GroupLinear, HalfLinear)) and name not in plan:
            plan[name] = module.spec()
    head = model.output
    if not isinstance(head, nn.Linear):
        raise ValueError("the model's output head is quantized already")
    table_source = sources.get("tok_embeddings.weight" if tied else "output.weight")
    table = _table(head.weight, table_source)
    screened = ScreenedHead(HeadScreen.from_weight(head.weight.detach()), table)
    model.output = screened
    plan["output"] = {"kind": "head", "screen": screened.approx.spec()}
    if tied:
        model.tok_embeddings = TiedEmbedding(screened)
        plan["tok_embeddings"] = {"kind": "tied"}
    enable_fast_decode(model)
    return plan


def _linear(module: nn.Linear, groups: Groups | None) -> nn.Module:
    bias = None if module.bias is None else module.bias.detach().clone()
    if groups is not None:
        return GroupLinear.from_groups(groups, bias)
    return HalfLinear(module.weight.detach(), bias)


def _fuse(module: nn.Module, parts: tuple[str, ...]) -> GroupLinear | None:
    """One product for ``parts`` (and those removed from ``module``) when their groups have
    the same size: in their own layout when they share it, else all as int8 (Gemma's Q5_0
    queries and keys with a Q8_0 value)."""
    found = [getattr(module, p, None) for p in parts]
    layers = [m for m in found if isinstance(m, GroupLinear)]
    if len(layers) < len(found):
        return None
    first = layers[0]
    if not all(first.fusable_with(m) for m in layers):
        if any((m.group, m.in_features) != (first.group, first.in_features) for m in layers):
            return None
        layers = [m.widened() for m in layers]
    for p in parts:
        setattr(module, p, None)
    return GroupLinear.cat(layers)


def _table(weight: Tensor, source: Groups | None) -> Int8Table:
    if source is not None and source.low is None and source.group == GROUP:
        codes = torch.from_numpy(source.codes).to(torch.int8)
        return Int8Table(codes, torch.from_numpy(source.scale), weight.dtype)
    return Int8Table.from_float(weight.detach())


def apply_plan(model: Transformer, plan: Plan) -> None:
    """Give a model built on the meta device the empty quantized modules of ``plan``."""
    for name, spec in plan.items():
        kind = spec["kind"]
        if kind == "group":
            _set(model, name, GroupLinear.empty(spec))
            parent = model.get_submodule(name.rpartition(".")[0])
            for part in spec.get("replaces", ()):
                setattr(parent, part, None)
        elif kind == "half":
            out_features, in_features = spec["shape"]
            _set(model, name, HalfLinear.empty(out_features, in_features, spec["bias"]))
        elif kind == "head":
            approx = HeadScreen.empty(spec["screen"])
            table = Int8Table.empty(approx.out_features, approx.in_features)
            _set(model, name, ScreenedHead(approx, table))
        elif kind != "tied":
            raise ValueError(f"unknown module kind {kind!r} in a quantized plan")
    if plan.get("tok_embeddings", {}).get("kind") == "tied":
        if not isinstance(head := model.output, ScreenedHead):
            raise ValueError("a quantized plan with a tied embedding has no screened head")
        model.tok_embeddings = TiedEmbedding(head)
    enable_fast_decode(model)


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The quantized modules of ``model`` (for tests and reports)."""
    kinds = (GroupLinear, HalfLinear, HeadScreen, ScreenedHead, TiedEmbedding)
    return ((n, m) for n, m in model.named_modules() if isinstance(m, kinds))
