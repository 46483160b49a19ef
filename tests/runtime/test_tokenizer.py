"""The runtime tokenizer: small hand-made vocabularies for the rules, and the real Gemma 3 and
SmolLM2 vocabularies against reference ids from independent tokenizers (slow).

The reference fixture (`fixtures/tokenizer/reference.json.gz`) and the script that made it are
described in `fixtures/tokenizer/make_fixture.py`.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("sentencepiece")

from marshalike_runtime.tokenizer import (  # noqa: E402
    StreamDecoder,
    Tokenizer,
    TokenizerError,
    byte_alphabet,
)

REFERENCE = Path(__file__).parent / "fixtures" / "tokenizer" / "reference.json.gz"
CONTROL = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
# GGUF stores user-defined whitespace tokens with real spaces.
USER = ["\n", "\n\n", "  ", "   "]
NORMAL = ["▁", "a", "b", "c", "e", "o", "s", "<", ">", "ab", "abc", "▁a", "▁ab", "bc"]


def sentencepiece_meta(**overrides: Any) -> dict[str, Any]:
    """A tiny Gemma-shaped vocabulary: control, byte, user-defined and normal tokens."""
    tokens = CONTROL + [f"<0x{b:02X}>" for b in range(256)] + USER + NORMAL
    types = [3] * len(CONTROL) + [6] * 256 + [4] * len(USER) + [1] * len(NORMAL)
    scores = [-1000.0] * len(CONTROL) + [0.0] * 256 + [-1000.0] * len(USER)
    scores += [-float(rank) for rank in range(len(NORMAL))]
    meta = {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.bos_token_id": 2,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.unknown_token_id": 3,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_space_prefix": False,
    }
    return meta | overrides


@pytest.fixture(scope="module")
def spm() -> Tokenizer:
    return Tokenizer.from_gguf_metadata(sentencepiece_meta())


def pieces(tok: Tokenizer, ids: list[int]) -> list[str]:
    return [tok.token_text(i) for i in ids]


def test_sentencepiece_merges_best_score_first(spm: Tokenizer) -> None:
    assert pieces(spm, spm.encode("abc", add_bos=False)) == ["abc"]
    assert pieces(spm, spm.encode(" ab c", add_bos=False)) == ["▁ab", "▁", "c"]


def test_bos_follows_the_checkpoint_unless_asked(spm: Tokenizer) -> None:
    assert spm.encode("a") == [2, spm.encode("a", add_bos=False)[0]]
    assert spm.encode("a", add_bos=False) == [NORMAL.index("a") + 266]


def test_control_tokens_are_not_matched_in_raw_text(spm: Tokenizer) -> None:
    assert pieces(spm, spm.encode("<eos>", add_bos=False)) == ["<", "e", "o", "s", ">"]
    assert spm.encode("<eos>a", add_bos=False, allow_special=True) == [1, 266 + 1]
    ids = spm.encode("<start_of_turn>ab<end_of_turn>", add_bos=False, allow_special=True)
    assert pieces(spm, ids) == ["<start_of_turn>", "ab", "<end_of_turn>"]


def test_user_defined_whitespace_is_matched_longest_first(spm: Tokenizer) -> None:
    assert pieces(spm, spm.encode("a     b\n\n\n", add_bos=False)) == [
        "a",
        "   ",
        "  ",
        "b",
        "\n\n",
        "\n",
    ]


def test_unknown_characters_fall_back_to_bytes(spm: Tokenizer) -> None:
    assert pieces(spm, spm.encode("é", add_bos=False)) == ["<0xC3>", "<0xA9>"]
    assert spm.decode(spm.encode("aé  b\n")) == "<bos>aé  b\n"
    assert spm.decode(spm.encode("aé", allow_special=True), skip_special=True) == "aé"


def test_end_of_turn_tokens_stop_generation_too(spm: Tokenizer) -> None:
    assert spm.eos_ids == frozenset({1, 5})
    assert (spm.bos_id, spm.vocab_size, spm.token_bytes(266)) == (2, 280, b" ")


def test_stream_decoder_holds_back_split_characters(spm: Tokenizer) -> None:
    ids = spm.encode("é😀a", add_bos=False)
    stream = StreamDecoder(spm)
    assert [stream.push(i) for i in ids] == ["", "é", "", "", "", "😀", "a"]
    assert stream.flush() == ""


def test_stream_decoder_flushes_a_cut_character(spm: Tokenizer) -> None:
    stream = StreamDecoder(spm, skip_special=True)
    assert [stream.push(i) for i in [1, 266 + 1, 6 + 0xF0, 6 + 0x9F]] == ["", "a", "", ""]
    assert stream.flush() == "\ufffd"


def test_unsupported_tokenizer_models_are_named() -> None:
    with pytest.raises(TokenizerError) as err:
        Tokenizer.from_gguf_metadata(sentencepiece_meta(**{"tokenizer.ggml.model": "bert"}))
    assert str(err.value) == "unsupported GGUF tokenizer model 'bert' (need llama or gpt2)"


def test_token_type_count_must_match() -> None:
    meta = sentencepiece_meta(**{"tokenizer.ggml.token_type": [1, 1]})
    with pytest.raises(TokenizerError) as err:
        Tokenizer.from_gguf_metadata(meta)
    assert str(err.value) == "280 tokens but 2 token types"


def byte_level_meta(pre: str) -> dict[str, Any]:
    """A tiny GPT-2 vocabulary: the 256 byte characters, a few merges, two control tokens."""
    alphabet = list(byte_alphabet())
    merges = ["Ġ Ġ", "Ġ 1", "a b"]
    tokens = ["<|endoftext|>", "<|im_end|>", *alphabet, "ĠĠ", "Ġ1", "ab"]
    return {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": pre,
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [3, 3] + [1] * (len(tokens) - 2),
        "tokenizer.ggml.merges": merges,
        "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.add_bos_token": False,
    }


def test_smollm_splits_every_digit_first() -> None:
    smollm = Tokenizer.from_gguf_metadata(byte_level_meta("smollm"))
    gpt2 = Tokenizer.from_gguf_metadata(byte_level_meta("default"))
    assert pieces(smollm, smollm.encode("ab  1")) == ["ab", "ĠĠ", "1"]
    assert pieces(gpt2, gpt2.encode("ab  1")) == ["ab", "Ġ", "Ġ1"]
    assert smollm.decode(smollm.encode("ab  1 é")) == "ab  1 é"
    assert smollm.eos_ids == frozenset({0, 1})


def test_byte_level_control_tokens_need_allow_special() -> None:
    tok = Tokenizer.from_gguf_metadata(byte_level_meta("smollm"))
    assert len(tok.encode("<|im_end|>")) == 10
    assert tok.encode("ab<|im_end|>", allow_special=True) == [260, 1]


def test_unknown_pre_tokenizer_is_named() -> None:
    with pytest.raises(TokenizerError) as err:
        Tokenizer.from_gguf_metadata(byte_level_meta("falcon"))
    assert str(err.value) == (
        "unsupported byte-level pre-tokenizer 'falcon' "
        "(known: default, gpt-2, llama-bpe, llama3, qwen2, smollm)"
    )


def test_tokenizer_json_with_its_config(tmp_path: Path) -> None:
    from tokenizers import AddedToken, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    vocab = {c: i for i, c in enumerate(byte_alphabet())} | {"ab": 256}
    hf = HFTokenizer(models.BPE(vocab, [("a", "b")]))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken("<|im_end|>", special=True)])
    hf.save(str(tmp_path / "tokenizer.json"))
    config = {"eos_token": "<|im_end|>", "bos_token": None, "chat_template": "{{ 1 }}"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))

    tok = Tokenizer.from_tokenizer_json(tmp_path / "tokenizer.json")
    assert tok.encode("ab<|im_end|>", allow_special=True) == [256, 257]
    assert len(tok.encode("<|im_end|>")) == 10
    assert tok.decode([256, 257, 0xC3, 0xA9]) == "ab<|im_end|>é"
    assert (tok.eos_ids, tok.bos_id, tok.add_bos, tok.chat_template) == (
        frozenset({257}),
        None,
        False,
        "{{ 1 }}",
    )


# --- the real vocabularies, against the reference fixture ---------------------------------


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def gemma(embedded_gguf: Path) -> Tokenizer:
    from marshalike_runtime.gguf_file import GGUFFile

    with GGUFFile(embedded_gguf) as gguf:
        return Tokenizer.from_gguf_metadata(gguf.metadata)


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf: Path) -> Tokenizer:
    from marshalike_runtime.gguf_file import GGUFFile

    with GGUFFile(smollm2_gguf) as gguf:
        return Tokenizer.from_gguf_metadata(gguf.metadata)


def expected_ids(reference: dict[str, Any], model: str) -> list[list[int]]:
    """transformers' ids, except where the fixture documents a better reference."""
    ref = reference[model]
    fixes = ref.get("sentencepiece_ids", {}) | ref.get("corrected_ids", {})
    return [fixes.get(str(i), ids) for i, ids in enumerate(ref["ids"])]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gemma", "smollm2"])
def test_ids_equal_the_reference_on_the_whole_corpus(
    request: pytest.FixtureRequest, reference: dict[str, Any], model: str
) -> None:
    tok = request.getfixturevalue(model)
    corpus = reference["corpus"]
    ours = [tok.encode(text, add_bos=False) for text in corpus]
    want = expected_ids(reference, model)
    wrong = [text for text, got, ids in zip(corpus, ours, want, strict=True) if got != ids]
    assert (len(corpus), wrong) == (1091, [])


@pytest.mark.slow
def test_gemma_references_differ_only_on_runs_of_32_spaces(reference: dict[str, Any]) -> None:
    """transformers encodes space runs with BPE merges; sentencepiece and llama.cpp match the
    user-defined run tokens (at most 31 spaces) longest first. Only longer runs can differ."""
    differing = [reference["corpus"][int(i)] for i in reference["gemma"]["sentencepiece_ids"]]
    assert len(differing) == 6
    assert all(re.search(" {32}", text) for text in differing)


@pytest.mark.slow
def test_smollm2_reference_fix_is_whitespace_before_a_digit(reference: dict[str, Any]) -> None:
    differing = [reference["corpus"][int(i)] for i in reference["smollm2"]["corrected_ids"]]
    assert len(differing) == 9
    assert all(re.search(r"\s\s\d", text) for text in differing)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gemma", "smollm2"])
def test_decode_inverts_encode_where_the_reference_does(
    request: pytest.FixtureRequest, reference: dict[str, Any], model: str
) -> None:
    tok = request.getfixturevalue(model)
    corpus = reference["corpus"]
    failing = [i for i, t in enumerate(corpus) if tok.decode(tok.encode(t, add_bos=False)) != t]
    assert failing == reference[model]["no_roundtrip"]


@pytest.mark.slow
def test_streaming_the_corpus_gives_the_decoded_text(
    gemma: Tokenizer, reference: dict[str, Any]
) -> None:
    """Byte-fallback characters (emoji, rare CJK) arrive whole, never as U+FFFD."""
    for text in reference["corpus"]:
        ids = gemma.encode(text, add_bos=False)
        stream = StreamDecoder(gemma)
        chunks = [stream.push(i) for i in ids]
        assert "".join(chunks) + stream.flush() == gemma.decode(ids) == text.replace("▁", " ")
        assert "".join(chunks).count("\ufffd") == text.count("\ufffd")


@pytest.mark.slow
def test_the_saved_gemma_tokenizer_is_the_same(
    gemma: Tokenizer, reference: dict[str, Any], tmp_path: Path
) -> None:
    """What tokenizer_cache.py reads back gives the same ids, pieces and settings."""
    from marshalike_runtime import tokenizer_cache

    tokenizer_cache.write(gemma, tmp_path / "gemma.safetensors")
    saved = tokenizer_cache.read(tmp_path / "gemma.safetensors")
    ids = range(gemma.vocab_size)
    assert [saved.token_bytes(i) for i in ids] == [gemma.token_bytes(i) for i in ids]
    assert [saved.token_text(i) for i in ids] == [gemma.token_text(i) for i in ids]
    assert (saved.special, saved.bos_id, saved.eos_ids, saved.add_bos, saved.chat_template) == (
        gemma.special, gemma.bos_id, gemma.eos_ids, gemma.add_bos, gemma.chat_template
    )  # fmt: skip
    corpus = reference["corpus"]
    assert [saved.encode(t) for t in corpus] == [gemma.encode(t) for t in corpus]


@pytest.mark.slow
def test_gemma_special_tokens(gemma: Tokenizer) -> None:
    assert (gemma.vocab_size, gemma.bos_id, gemma.eos_ids) == (262144, 2, frozenset({1, 106}))
    ids = gemma.encode("<start_of_turn>user\nHi<end_of_turn>\n", allow_special=True)
    assert ids[:3] == [2, 105, gemma.encode("user", add_bos=False)[0]]
    assert ids[-2:] == [106, 107]


def test_sentencepiece_style_tokenizer_json(tmp_path: Path) -> None:
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, normalizers

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2} | {f"<0x{b:02X}>": 3 + b for b in range(256)}
    vocab |= {"▁": 259, "a": 260, "▁a": 261}
    model = models.BPE(vocab, [("▁", "a")], unk_token="<unk>", byte_fallback=True, fuse_unk=True)
    hf = HFTokenizer(model)
    hf.normalizer = normalizers.Replace(" ", "▁")
    hf.add_special_tokens(["<s>", "</s>"])
    hf.save(str(tmp_path / "tokenizer.json"))
    config = {"bos_token": "<s>", "add_bos_token": True}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 0]}))

    tok = Tokenizer.from_tokenizer_json(tmp_path / "tokenizer.json")
    assert tok.encode(" a</s>é") == [1, 261, *(3 + b for b in b"</s>"), 3 + 0xC3, 3 + 0xA9]
    assert tok.decode(tok.encode(" a</s>é", allow_special=True)) == "<s> a</s>é"
    assert (tok.bos_id, tok.eos_ids, tok.chat_template) == (1, frozenset({0, 2}), None)
