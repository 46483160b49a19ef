"""Checkpoint loading, checked against logits recorded with Hugging Face transformers.

Fixtures (scripts beside them in tests/runtime/fixtures/):
- tiny_{llama,qwen2,gemma3}/: random-weight safetensors checkpoints + full reference logits
  (make_tiny_checkpoints.py). Tolerance 1e-4 absolute: both sides run fp32 with the same
  weights, so only summation order differs (observed ~5e-7).
- gemma3_270m_reference.json, smollm2_135m_reference.json: top-10 logits and a 64-id
  vocabulary slice at every prompt position, plus 24 greedy tokens, from transformers'
  GGUF loader in fp32 (make_reference_logits.py). Tolerance: see REAL_ATOL.
"""

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
gguf = pytest.importorskip("gguf")

from marshalike_runtime.checkpoint import (  # noqa: E402
    CheckpointError,
    gguf_tensor_name,
    hf_tensor_name,
    load_checkpoint,
)
from marshalike_runtime.errors import ModelFileError  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
TINY_ATOL = 1e-4
# Real models: transformers and we dequantize the same blocks to the same fp32 weights, so
# only summation order differs; observed max |diff| 6e-6 on Gemma 3 270M logits of magnitude
# up to 34 (the fixture rounds to 5 decimals). 1e-4 leaves room for other BLAS builds.
REAL_ATOL = 1e-4


def reference(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def positions(n: int) -> torch.Tensor:
    return torch.arange(n)


@pytest.mark.parametrize("name", ["tiny_llama", "tiny_qwen2", "tiny_gemma3"])
def test_safetensors_logits_match_transformers(name: str) -> None:
    model, config = load_checkpoint(FIXTURES / name)
    ref = reference(f"{name}/reference.json")
    ids = torch.tensor([ref["ids"]])
    with torch.inference_mode():
        logits = model(ids, positions(ids.shape[1]))[0]
    assert config["model_type"] == {"tiny_llama": "llama", "tiny_qwen2": "qwen2"}.get(
        name, "gemma3_text"
    )
    torch.testing.assert_close(logits, torch.tensor(ref["logits"]), atol=TINY_ATOL, rtol=0)


def test_safetensors_args_come_from_config() -> None:
    gemma, _ = load_checkpoint(FIXTURES / "tiny_gemma3")
    args = gemma.args
    assert (args.arch, args.sliding_window, args.global_layers) == ("gemma3", 4, (1,))
    assert (args.rope_theta, args.rope_local_theta) == (10_000.0, 100.0)
    assert args.attn_scale == 24**-0.5
    llama, _ = load_checkpoint(FIXTURES / "tiny_llama")
    assert (llama.args.tie_embeddings, llama.args.qkv_bias, llama.args.rope_theta) == (
        False,
        False,
        500.0,
    )
    qwen, _ = load_checkpoint(FIXTURES / "tiny_qwen2")
    assert (qwen.args.tie_embeddings, qwen.args.qkv_bias) == (True, True)
    assert qwen.output.weight is qwen.tok_embeddings.weight


# --- a GGUF written from the tiny safetensors checkpoints, the way llama.cpp converts -----

HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def interleave_rope_rows(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's Q/K layout: within each head, row pairs (i, i + D/2) become adjacent."""
    half = w.shape[0] // heads // 2
    return w.reshape(heads, 2, half, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_name(hf: str) -> str:
    top = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
    }
    if hf in top:
        return top[hf]
    if hf == "lm_head.weight":
        return "output.weight"
    _, _, layer, rest = hf.split(".", 3)
    stem, _, kind = rest.rpartition(".")
    return f"blk.{layer}.{HF_TO_GGUF[stem]}.{kind}"


def write_gguf_from_hf(folder: Path, arch: str, out: Path) -> None:
    from safetensors.numpy import load_file

    config = json.loads((folder / "config.json").read_text())
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    writer = gguf.GGUFWriter(out, arch)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_rope_freq_base(config["rope_parameters"]["rope_theta"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    for name, tensor in load_file(folder / "model.safetensors").items():
        if arch == "llama" and ".q_proj." in name:
            tensor = interleave_rope_rows(tensor, heads)
        elif arch == "llama" and ".k_proj." in name:
            tensor = interleave_rope_rows(tensor, kv_heads)
        if name.endswith("mlp.up_proj.weight"):
            # One quantized matrix: exercises the Q8_0 path end to end.
            q8 = gguf.quants.quantize(tensor, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(gguf_name(name), q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(gguf_name(name), tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("name,arch", [("tiny_llama", "llama"), ("tiny_qwen2", "qwen2")])
def test_gguf_logits_match_transformers(name: str, arch: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.gguf"
    write_gguf_from_hf(FIXTURES / name, arch, path)
    model, metadata = load_checkpoint(path)
    assert metadata["general.architecture"] == arch
    ref = reference(f"{name}/reference.json")
    ids = torch.tensor([ref["ids"]])
    with torch.inference_mode():
        logits = model(ids, positions(ids.shape[1]))[0]
    # Q8_0 on the up projections moves logits by ~1e-3 at these magnitudes (< 1).
    torch.testing.assert_close(logits, torch.tensor(ref["logits"]), atol=1e-2, rtol=0)
    assert model.args.tie_embeddings == (arch == "qwen2")


def test_gguf_names() -> None:
    assert gguf_tensor_name("blk.12.attn_q.bias") == "layers.12.attention.wq.bias"
    assert gguf_tensor_name("blk.0.post_ffw_norm.weight") == "layers.0.post_ffw_norm.weight"
    assert gguf_tensor_name("token_embd.weight") == "tok_embeddings.weight"
    with pytest.raises(CheckpointError) as err:
        gguf_tensor_name("blk.0.ssm_conv1d.weight")
    assert str(err.value) == "unknown GGUF tensor 'blk.0.ssm_conv1d.weight'"


def test_hf_names_depend_on_the_architecture() -> None:
    name = "model.layers.2.post_attention_layernorm.weight"
    assert hf_tensor_name(name, "llama") == "layers.2.ffn_norm.weight"
    assert hf_tensor_name(name, "gemma3") == "layers.2.post_attention_norm.weight"
    with pytest.raises(CheckpointError) as err:
        hf_tensor_name("model.vision_tower.x.weight", "gemma3")
    assert str(err.value) == "unknown tensor 'model.vision_tower.x.weight' for a gemma3 checkpoint"


def test_unsupported_inputs_are_reported(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "model.bin")
    assert str(err.value) == (
        f"{tmp_path / 'model.bin'}: not a .gguf file or a folder with config.json and *.safetensors"
    )
    assert isinstance(err.value, ModelFileError)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path)
    assert str(err.value) == f"{tmp_path}: expected config.json and *.safetensors"
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path)
    assert str(err.value) == (
        f"{tmp_path}: unsupported model_type 'bert' (supported: gemma3_text, llama, mistral, qwen2)"
    )


def test_unsupported_gguf_architecture(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(path, "mamba")
    writer.add_tensor("token_embd.weight", np.zeros((4, 2), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == (
        f"{path}: unsupported architecture 'mamba' (supported: gemma3, llama, qwen2)"
    )


# --- real checkpoints (slow) ----------------------------------------------------------


def assert_matches_reference(model: Any, ref: dict[str, Any]) -> None:
    slice_ids = torch.tensor(ref["vocab_slice"])
    for case in ref["cases"]:
        ids = torch.tensor([case["ids"]])
        with torch.inference_mode():
            logits = model(ids, positions(ids.shape[1]))[0]  # [S, V]
        top_ids = torch.tensor(case["top_ids"])
        torch.testing.assert_close(
            logits.gather(1, top_ids), torch.tensor(case["top_logits"]), atol=REAL_ATOL, rtol=0
        )
        torch.testing.assert_close(
            logits[:, slice_ids], torch.tensor(case["slice_logits"]), atol=REAL_ATOL, rtol=0
        )
        assert greedy(model, case["ids"], len(case["greedy"])) == case["greedy"], case["prompt"]


def greedy(model: Any, prompt: list[int], n: int) -> list[int]:
    """Greedy tokens decoded with the KV cache (the reference used full forwards)."""
    model.setup_caches(max_batch_size=1, max_seq_len=len(prompt) + n)
    out: list[int] = []
    with torch.inference_mode():
        logits = model(torch.tensor([prompt]), positions(len(prompt)), last_only=True)
        for step in range(n):
            out.append(int(logits[0, -1].argmax()))
            pos = torch.tensor([len(prompt) + step])
            logits = model(torch.tensor([[out[-1]]]), pos)
    model.release_caches()
    return out


@pytest.mark.slow
def test_embedded_gemma_matches_transformers(gemma_model) -> None:
    model, metadata = gemma_model
    assert metadata["general.architecture"] == "gemma3"
    assert model.args.global_layers == (5, 11, 17)
    assert model.args.eos_ids == (1, 106)
    assert_matches_reference(model, reference("gemma3_270m_reference.json"))


@pytest.mark.slow
def test_smollm2_matches_transformers(smollm2_model) -> None:
    model, metadata = smollm2_model
    assert metadata["general.architecture"] == "llama"
    assert_matches_reference(model, reference("smollm2_135m_reference.json"))


@pytest.mark.slow
def test_embedded_gemma_cached_decode_equals_full_forward(gemma_model) -> None:
    model, _ = gemma_model
    ids = torch.tensor([reference("gemma3_270m_reference.json")["cases"][2]["ids"]])
    n = ids.shape[1]
    model.setup_caches(max_batch_size=1, max_seq_len=n)
    with torch.inference_mode():
        full = model(ids, positions(n))
        first = model(ids[:, :4], positions(4))
        steps = [model(ids[:, i : i + 1], torch.tensor([i])) for i in range(4, n)]
    model.release_caches()
    torch.testing.assert_close(torch.cat([first, *steps], 1), full, atol=1e-3, rtol=0)
