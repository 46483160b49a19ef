"""The checkpoint's own tokenizer, built from its metadata.

Two vocabularies are supported, from GGUF metadata or a Hugging Face `tokenizer.json`:

- SentencePiece BPE (`tokenizer.ggml.model == "llama"`, Gemma): spaces become "▁", no
  leading-space prefix (unless the file asks for one), byte fallback, merges ranked by score.
  GGUF keeps the pieces, scores and types of the original `tokenizer.model` but not the file,
  so we rebuild that model proto (`model_proto`) and hand it to the `sentencepiece`
  library. It needs no merge list: sentencepiece merges any adjacent pair whose concatenation
  is a piece, best score first. (Deriving the ~515k merges this implies, every two-part split
  of a normal or user-defined token ranked by id, for the `tokenizers` library gives the same
  ids on our corpus but costs 2.5 s of CPU for Gemma's 262k vocabulary; this costs 0.5 s.)
- GPT-2 byte-level BPE (`tokenizer.ggml.model == "gpt2"`, SmolLM2, Qwen2): merges stored,
  encoded with the `tokenizers` library.

Special tokens. Control tokens (`<bos>`, `<start_of_turn>`, `<|im_start|>` ...) are never
matched in raw text: `encode("<eos>")` spells the characters, as sentencepiece and llama.cpp
do. Chat prompts, whose templates write control tokens as text, are encoded with
`encode(prompt, allow_special=True)`, which turns each control token's exact text into its id.
User-defined tokens (Gemma's runs of newlines, tabs and spaces, which GGUF stores with real
spaces) are always matched whole, longest first, like sentencepiece's user-defined symbols.

Decoding is our own: each id maps to the bytes it stands for, so decoding is a join and a
UTF-8 decode, and `StreamDecoder` can hold back a character split across byte-fallback ids.
"""

from __future__ import annotations

import codecs
import json
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from sentencepiece import SentencePieceProcessor
from tokenizers import AddedToken, Regex, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

# GGUF token types (sentencepiece's numbering).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
SPACE = "\u2581"  # sentencepiece's visible space
_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")

Encoder = Callable[[str], list[int]]  # plain text (no special tokens) -> ids

# Chat models end a turn with one of these instead of (or besides) their EOS; generation must
# stop on them too, so they join `eos_ids` when the vocabulary has them as control tokens.
END_OF_TURN_TOKENS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>")

# Split rules of byte-level vocabularies, by GGUF `tokenizer.ggml.pre` (llama.cpp's names).
_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = _LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")
_BYTE_LEVEL_SPLITS = {
    "default": [_GPT2_SPLIT],
    "gpt-2": [_GPT2_SPLIT],
    # SmolLM2's tokenizer.json: every digit alone (`Digits(individual_digits=True)`), then GPT-2.
    "smollm": [r"\p{N}", _GPT2_SPLIT],
    "llama-bpe": [_LLAMA3_SPLIT],
    "llama3": [_LLAMA3_SPLIT],
    "qwen2": [_QWEN2_SPLIT],
}


class TokenizerError(ValueError):
    """The checkpoint describes a tokenizer this runtime cannot build."""


@cache
def byte_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in character for each byte, reversed: character -> byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0x100)]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + extra)] = byte
            extra += 1
    return chars


class Tokenizer:
    """Text to ids and back, for one checkpoint. Build with `from_gguf_metadata` or
    `from_tokenizer_json`."""

    def __init__(
        self,
        encoder: Encoder,
        tokens: Sequence[str],
        pieces: Sequence[bytes],
        special: dict[str, int],
        *,
        bos_id: int | None,
        eos_ids: frozenset[int],
        add_bos: bool,
        chat_template: str | None = None,
        proto: bytes | None = None,
    ) -> None:
        self._encoder = encoder
        self._tokens = tokens
        self._pieces = pieces
        self.special = special
        self.bos_id = bos_id
        self.eos_ids = eos_ids
        self.add_bos = add_bos
        self.chat_template = chat_template
        # A sentencepiece vocabulary's model proto: all `from_proto` needs to rebuild the
        # encoder (tokenizer_cache.py saves it). None for other vocabularies.
        self.proto = proto
        self._special_ids = frozenset(special.values())

    @cached_property
    def _special_split(self) -> re.Pattern[str]:
        # Compiled on first use: Gemma has 6k control tokens (0.15 s), most prompts need none.
        longest_first = sorted(self.special, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, longest_first)) or "(?!)")

    @classmethod
    def from_gguf_metadata(cls, meta: Mapping[str, Any]) -> Tokenizer:
        """The tokenizer a GGUF file's `tokenizer.*` metadata describes."""
        kind = meta.get("tokenizer.ggml.model")
        builders = {"llama": _sentencepiece_bpe, "gpt2": _byte_level_bpe}
        if kind not in builders:
            raise TokenizerError(f"unsupported GGUF tokenizer model {kind!r} (need llama or gpt2)")
        tokens = list(meta["tokenizer.ggml.tokens"])
        types = _as_list(meta.get("tokenizer.ggml.token_type")) or [NORMAL] * len(tokens)
        if len(types) != len(tokens):
            raise TokenizerError(f"{len(tokens)} tokens but {len(types)} token types")
        encoder, pieces, proto = builders[kind](meta, tokens, types)
        special = {t: i for i, (t, k) in enumerate(zip(tokens, types, strict=True)) if k == CONTROL}
        bos = meta.get("tokenizer.ggml.bos_token_id")
        eos = [meta.get(f"tokenizer.ggml.{key}_token_id") for key in ("eos", "eot", "eom")]
        return cls(
            encoder,
            tokens,
            pieces,
            special,
            bos_id=None if bos is None else int(bos),
            eos_ids=_eos_ids(eos, special),
            add_bos=bool(meta.get("tokenizer.ggml.add_bos_token", bos is not None)),
            chat_template=meta.get("tokenizer.chat_template"),
            proto=proto,
        )

    @classmethod
    def from_proto(
        cls,
        proto: bytes,
        tokens: Sequence[str],
        pieces: Sequence[bytes],
        special: dict[str, int],
        **settings: Any,
    ) -> Tokenizer:
        """A sentencepiece tokenizer from its model proto and what `from_gguf_metadata`
        derived beside it; `settings` are the constructor's keywords."""
        return cls(_sentencepiece_encoder(proto), tokens, pieces, special, proto=proto, **settings)

    @classmethod
    def from_tokenizer_json(cls, path: str | Path) -> Tokenizer:
        """A Hugging Face `tokenizer.json`, with `tokenizer_config.json` and
        `generation_config.json` beside it when present (BOS, EOS, chat template)."""
        return _from_tokenizer_json(cls, Path(path))

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def token_text(self, token_id: int) -> str:
        """The token as the vocabulary spells it (e.g. "▁the", "<0x0A>", "<eos>")."""
        return self._tokens[token_id]

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes the token stands for in decoded text."""
        return self._pieces[token_id]

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special_ids

    def encode(
        self, text: str, *, add_bos: bool | None = None, allow_special: bool = False
    ) -> list[int]:
        """Token ids for `text`. `add_bos` defaults to the checkpoint's own setting;
        `allow_special` makes control tokens written in the text count as those tokens."""
        add = self.add_bos if add_bos is None else add_bos
        ids = [self.bos_id] if add and self.bos_id is not None else []
        if not allow_special:
            return ids + self._encode_plain(text)
        start = 0
        for match in self._special_split.finditer(text):
            ids += self._encode_plain(text[start : match.start()])
            ids.append(self.special[match.group()])
            start = match.end()
        return ids + self._encode_plain(text[start:])

    def _encode_plain(self, text: str) -> list[int]:
        return self._encoder(text) if text else []

    def decode(self, ids: Iterable[int], *, skip_special: bool = False) -> str:
        """The text of `ids`; bytes that are not valid UTF-8 become U+FFFD."""
        if skip_special:
            ids = (i for i in ids if i not in self._special_ids)
        return b"".join(self._pieces[i] for i in ids).decode("utf-8", errors="replace")


class StreamDecoder:
    """Decodes ids one at a time. A character whose bytes are split across ids (byte
    fallback, or byte-level BPE) is held back until it is complete, so no replacement
    character appears mid-character; the pieces always join up to `Tokenizer.decode`."""

    def __init__(self, tokenizer: Tokenizer, *, skip_special: bool = False) -> None:
        self._tokenizer = tokenizer
        self._skip_special = skip_special
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        """The text that `token_id` completes (often "", while a character is pending)."""
        if self._skip_special and self._tokenizer.is_special(token_id):
            return ""
        return self._utf8.decode(self._tokenizer.token_bytes(token_id))

    def flush(self) -> str:
        """What is still held back, at the end of the stream (U+FFFD for a cut character)."""
        return self._utf8.decode(b"", final=True)


def _as_list(values: Any) -> list[Any]:
    """GGUF arrays come back as numpy arrays from our reader and as lists from others."""
    if values is None:
        return []
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _eos_ids(declared: Iterable[Any], special: dict[str, int]) -> frozenset[int]:
    ids = {int(i) for i in declared if i is not None}
    return frozenset(ids | {special[t] for t in END_OF_TURN_TOKENS if t in special})


def byte_piece(token: str) -> bytes:
    """What a sentencepiece byte token decodes to: `<0x41>` is the byte 0x41."""
    if match := _BYTE_TOKEN.fullmatch(token):
        return bytes([int(match.group(1), 16)])
    return _spaced(token)


def _spaced(token: str) -> bytes:
    """What any other sentencepiece token decodes to: "▁" is a space."""
    return token.replace(SPACE, " ").encode()


def byte_level_piece(token: str) -> bytes:
    """What a GPT-2 byte-level token decodes to; control tokens are spelled as themselves."""
    alphabet = byte_alphabet()
    if all(c in alphabet for c in token):
        return bytes(alphabet[c] for c in token)
    return token.encode()


def _sentencepiece_bpe(
    meta: Mapping[str, Any], tokens: list[str], types: list[int]
) -> tuple[Encoder, list[bytes], bytes]:
    scores = _as_list(meta.get("tokenizer.ggml.scores")) or [0.0] * len(tokens)
    unk = meta.get("tokenizer.ggml.unknown_token_id")
    if unk is None:
        raise TokenizerError("sentencepiece vocabulary without tokenizer.ggml.unknown_token_id")
    proto = model_proto(
        tokens,
        scores,
        types,
        unk_id=int(unk),
        add_space_prefix=bool(meta.get("tokenizer.ggml.add_space_prefix", False)),
    )
    kinds = zip(tokens, types, strict=True)
    pieces = [byte_piece(t) if k == BYTE else _spaced(t) for t, k in kinds]
    return _sentencepiece_encoder(proto), pieces, proto


def _sentencepiece_encoder(proto: bytes) -> Encoder:
    processor = SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(proto)
    except (RuntimeError, OSError) as exc:
        raise TokenizerError(f"sentencepiece rejected the vocabulary: {exc}") from None
    return processor.encode


def _byte_level_bpe(
    meta: Mapping[str, Any], tokens: list[str], types: list[int]
) -> tuple[Encoder, list[bytes], None]:
    pre = meta.get("tokenizer.ggml.pre", "default")
    if pre not in _BYTE_LEVEL_SPLITS:
        known = ", ".join(sorted(_BYTE_LEVEL_SPLITS))
        raise TokenizerError(f"unsupported byte-level pre-tokenizer {pre!r} (known: {known})")
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    encoder = HFTokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    splits = [pre_tokenizers.Split(Regex(r), behavior="isolated") for r in _BYTE_LEVEL_SPLITS[pre]]
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    encoder.pre_tokenizer = pre_tokenizers.Sequence([*splits, byte_level])
    user = [t for t, k in zip(tokens, types, strict=True) if k == USER_DEFINED]
    encoder.add_tokens([AddedToken(t, normalized=False, special=False) for t in user])
    kinds = zip(tokens, types, strict=True)
    pieces = [t.encode() if k == CONTROL else byte_level_piece(t) for t, k in kinds]
    return _plain_ids(encoder), pieces, None


def _plain_ids(encoder: HFTokenizer) -> Encoder:
    """The `tokenizers` encoder as an `Encoder`: its own special-token handling stays off."""
    return lambda text: encoder.encode(text, add_special_tokens=False).ids


def _from_tokenizer_json(cls: type[Tokenizer], path: Path) -> Tokenizer:
    encoder = HFTokenizer.from_file(str(path))
    # Control tokens are split off by `Tokenizer.encode` itself, only when allowed.
    encoder.encode_special_tokens = True
    vocab = encoder.get_vocab(with_added_tokens=True)
    tokens = [""] * (max(vocab.values()) + 1)
    for token, index in vocab.items():
        tokens[index] = token
    added = encoder.get_added_tokens_decoder()
    special = {t.content: i for i, t in added.items() if t.special}
    decoder = json.dumps(json.loads(path.read_text(encoding="utf-8")).get("decoder"))
    piece = byte_level_piece if '"ByteLevel"' in decoder else byte_piece
    pieces = [t.encode() if i in added else piece(t) for i, t in enumerate(tokens)]
    config = _json_beside(path, "tokenizer_config.json")
    generation = _json_beside(path, "generation_config.json")
    bos = _config_token_id(config.get("bos_token"), vocab, generation.get("bos_token_id"))
    eos = _config_token_id(config.get("eos_token"), vocab, None)
    declared = generation.get("eos_token_id")
    declared = declared if isinstance(declared, list) else [declared]
    add_bos = config.get("add_bos_token")
    if add_bos is None:  # the post-processor says whether the model expects a BOS
        add_bos = bos is not None and encoder.encode("a").ids[:1] == [bos]
    return cls(
        _plain_ids(encoder),
        tokens,
        pieces,
        special,
        bos_id=bos,
        eos_ids=_eos_ids([eos, *declared], special),
        add_bos=bool(add_bos),
        chat_template=config.get("chat_template"),
    )


def _json_beside(path: Path, name: str) -> dict[str, Any]:
    other = path.with_name(name)
    return json.loads(other.read_text(encoding="utf-8")) if other.is_file() else {}


def _config_token_id(token: Any, vocab: dict[str, int], fallback: Any) -> int | None:
    """A token named in tokenizer_config.json (a string or {"content": ...}) as an id."""
    if isinstance(token, dict):
        token = token.get("content")
    if isinstance(token, str) and token in vocab:
        return vocab[token]
    return None if fallback is None else int(fallback)


# --- sentencepiece's ModelProto, written by hand (protobuf wire format) -------------------
# Only the fields encoding reads: pieces (1: piece, 2: score, 3: type), trainer_spec
# (3: model_type, 35: byte_fallback, 40: unk_id) and normalizer_spec (1: name,
# 3: add_dummy_prefix, 4: remove_extra_whitespaces, 5: escape_whitespaces).
_BPE_MODEL_TYPE = 2


def model_proto(
    tokens: Sequence[str],
    scores: Sequence[float],
    types: Sequence[int],
    *,
    unk_id: int,
    add_space_prefix: bool,
) -> bytes:
    """A serialized sentencepiece BPE model with these pieces (GGUF types are sentencepiece's)."""
    if not len(tokens) == len(scores) == len(types):
        raise TokenizerError(f"{len(tokens)} tokens, {len(scores)} scores, {len(types)} types")
    packed = struct.pack(f"<{len(scores)}f", *scores)
    parts = []
    for index, (token, kind) in enumerate(zip(tokens, types, strict=True)):
        # llama.cpp's converter wrote user-defined "▁" runs with real spaces; undo that.
        text = (token.replace(" ", SPACE) if kind == USER_DEFINED else token).encode()
        kind = UNKNOWN if index == unk_id else kind
        score = packed[4 * index : 4 * index + 4]
        piece = b"\x0a" + _varint(len(text)) + text + b"\x15" + score + b"\x18" + _varint(kind)
        parts.append(b"\x0a" + _varint(len(piece)) + piece)
    trainer = b"\x18%b\x98\x02%b\xc0\x02%b" % (
        _varint(_BPE_MODEL_TYPE),
        _varint(int(BYTE in types)),
        _varint(unk_id),
    )
    normalizer = b"\x0a\x08identity\x18%b\x20\x00\x28\x01" % _varint(int(add_space_prefix))
    parts.append(b"\x12" + _varint(len(trainer)) + trainer)
    parts.append(b"\x1a" + _varint(len(normalizer)) + normalizer)
    return b"".join(parts)


_ONE_BYTE_VARINTS = [bytes([n]) for n in range(0x80)]


def _varint(value: int) -> bytes:
    if value < 0x80:  # nearly every length and type: skip the loop
        return _ONE_BYTE_VARINTS[value]
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
