"""The built tokenizer saved beside the weights cache: what is read back is the same
tokenizer, an unreadable file is rebuilt, and only sentencepiece tokenizers are saved."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sentencepiece")
pytest.importorskip("safetensors")
pytest.importorskip("torch")

from test_tokenizer import byte_level_meta, sentencepiece_meta  # noqa: E402

from marshalike_runtime import tokenizer_cache  # noqa: E402
from marshalike_runtime.tokenizer import Tokenizer  # noqa: E402

TEXTS = ["abc ab", "<eos> and <bos>", "\n\n  a\tb", "é ☃ 日本", "", "abcabcabc\n"]


def same_tokenizer(a: Tokenizer, b: Tokenizer, texts: list[str]) -> None:
    ids = range(a.vocab_size)
    assert b.vocab_size == a.vocab_size
    assert [b.token_text(i) for i in ids] == [a.token_text(i) for i in ids]
    assert [b.token_bytes(i) for i in ids] == [a.token_bytes(i) for i in ids]
    assert (b.special, b.bos_id, b.eos_ids, b.add_bos, b.chat_template) == (
        a.special, a.bos_id, a.eos_ids, a.add_bos, a.chat_template
    )  # fmt: skip
    for special in (False, True):
        assert [b.encode(t, allow_special=special) for t in texts] == [
            a.encode(t, allow_special=special) for t in texts
        ]


def test_what_is_read_back_is_the_same_tokenizer(tmp_path: Path) -> None:
    built = Tokenizer.from_gguf_metadata(sentencepiece_meta(**{"tokenizer.chat_template": "{x}"}))
    tokenizer_cache.write(built, tmp_path / "tok.safetensors")
    same_tokenizer(built, tokenizer_cache.read(tmp_path / "tok.safetensors"), TEXTS)
    assert built.token_bytes(6 + 0x80) == b"\x80"  # a byte token: not UTF-8 on its own


@pytest.fixture
def cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "weights" / "f.tokenizer-v1.safetensors"
    monkeypatch.setattr(tokenizer_cache.embedded, "weights_cache_path", lambda path, variant: file)
    return file


def test_built_once_then_read(cache_file: Path) -> None:
    builds: list[Tokenizer] = []

    def build() -> Tokenizer:
        builds.append(Tokenizer.from_gguf_metadata(sentencepiece_meta()))
        return builds[-1]

    first = tokenizer_cache.cached(Path("model.gguf"), build)
    assert cache_file.is_file() and len(builds) == 1
    second = tokenizer_cache.cached(Path("model.gguf"), build)
    assert len(builds) == 1 and second is not first
    same_tokenizer(first, second, TEXTS)


def test_an_unreadable_file_is_rebuilt(cache_file: Path) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"not a safetensors file")
    built = Tokenizer.from_gguf_metadata(sentencepiece_meta())
    assert tokenizer_cache.cached(Path("model.gguf"), lambda: built) is built
    same_tokenizer(built, tokenizer_cache.read(cache_file), TEXTS)


def test_other_tokenizers_and_other_checkpoints_are_not_saved(
    cache_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    byte_level = Tokenizer.from_gguf_metadata(byte_level_meta("default"))
    assert tokenizer_cache.cached(Path("model.gguf"), lambda: byte_level) is byte_level
    assert not cache_file.exists()
    with pytest.raises(ValueError, match="only a sentencepiece tokenizer"):
        tokenizer_cache.write(byte_level, cache_file)
    monkeypatch.setattr(tokenizer_cache.embedded, "weights_cache_path", lambda path, variant: None)
    built = Tokenizer.from_gguf_metadata(sentencepiece_meta())
    assert tokenizer_cache.cached(Path("other.gguf"), lambda: built) is built
    assert not cache_file.exists()


def test_a_cache_that_cannot_be_written_does_not_stop_the_load(
    cache_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tokenizer_cache.embedded, "save_weights", refuse)
    built = Tokenizer.from_gguf_metadata(sentencepiece_meta())
    assert tokenizer_cache.cached(Path("model.gguf"), lambda: built) is built
    assert not cache_file.exists()
    assert capsys.readouterr().err == (
        f"marshalike: could not save the tokenizer in {cache_file.parent}: "
        "[Errno 13] Permission denied\n"
    )
