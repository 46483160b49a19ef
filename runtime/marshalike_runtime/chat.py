"""Chat prompts, rendered with the checkpoint's own chat template.

Instruct checkpoints carry a Jinja template (`tokenizer.chat_template` in GGUF, `chat_template`
in tokenizer_config.json) written for Hugging Face's renderer; we render it the same way: a
sandboxed, immutable Jinja environment with `trim_blocks` and `lstrip_blocks`, the
`loopcontrols` extension, `raise_exception`, `strftime_now`, a `tojson` that keeps non-ASCII
text, the `{% generation %}` block (rendered as its body), and the variables `messages`,
`add_generation_prompt`, `bos_token`, `eos_token`, `tools` and `documents`.

Base checkpoints (the embedded Gemma 3 270M) have no template. For them we use
`PLAIN_TEMPLATE`, a transcript a base model continues naturally:

    <bos>System: You write Python.

    User: Write add(a, b).

    Assistant:

(roles capitalized, contents trimmed), with no space after the final colon, so the model's
first token can carry its own leading space. A base model does not know where its turn ends,
so callers stop on `PLAIN_STOP`.

The rendered prompt spells control tokens as text (`<|im_start|>`, `<bos>`); encode it with
`ChatTemplate.encode` (or `tokenizer.encode(prompt, allow_special=True, add_bos=False)`): the
template itself decides whether a BOS comes first, as in Hugging Face's `apply_chat_template`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn, Protocol

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

PLAIN_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] | trim }}\n\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
PLAIN_STOP = ("\nUser:", "\nSystem:")

Message = Mapping[str, Any] | tuple[str, str]


class ChatTemplateError(ValueError):
    """A chat template failed to compile or render, or rejected the conversation."""


class ChatTokenizer(Protocol):
    """What a template needs of `marshalike_runtime.tokenizer.Tokenizer`."""

    chat_template: str | None
    bos_id: int | None
    eos_ids: frozenset[int]

    def token_text(self, token_id: int) -> str: ...
    def encode(
        self, text: str, *, add_bos: bool | None = None, allow_special: bool = False
    ) -> list[int]: ...


class _GenerationBlock(Extension):
    """Hugging Face's `{% generation %}...{% endgeneration %}`, which marks the assistant's
    part for training masks; for rendering it is just its body."""

    tags = {"generation"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _raise_exception(message: str) -> NoReturn:
    raise ChatTemplateError(f"chat template: {message}")


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, sort_keys: bool = False
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.loopcontrols", _GenerationBlock],
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


class ChatTemplate:
    """One compiled chat template and the special-token texts it may refer to."""

    def __init__(
        self,
        source: str,
        *,
        bos_token: str = "",
        eos_token: str = "",
        tokenizer: ChatTokenizer | None = None,
    ) -> None:
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        self._tokenizer = tokenizer
        try:
            self._template = _environment().from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ChatTemplateError(f"chat template line {exc.lineno}: {exc.message}") from None

    @classmethod
    def for_tokenizer(cls, tokenizer: ChatTokenizer) -> ChatTemplate:
        """The checkpoint's template, or `PLAIN_TEMPLATE` when it has none."""
        bos = "" if tokenizer.bos_id is None else tokenizer.token_text(tokenizer.bos_id)
        eos = min(tokenizer.eos_ids, default=None)
        return cls(
            tokenizer.chat_template or PLAIN_TEMPLATE,
            bos_token=bos,
            eos_token="" if eos is None else tokenizer.token_text(eos),
            tokenizer=tokenizer,
        )

    @property
    def is_plain(self) -> bool:
        return self.source == PLAIN_TEMPLATE

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        """The prompt for `messages`: dicts with "role" and "content", or (role, content)."""
        try:
            return self._template.render(
                messages=[_as_dict(m) for m in messages],
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                tools=None,
                documents=None,
            )
        except ChatTemplateError:
            raise
        except (jinja2.TemplateError, TypeError, ValueError, KeyError) as exc:
            raise ChatTemplateError(f"chat template failed: {exc}") from None

    def encode(
        self, messages: Sequence[Message], *, add_generation_prompt: bool = True
    ) -> list[int]:
        """The prompt's token ids, control tokens included (needs `for_tokenizer`)."""
        if self._tokenizer is None:
            raise ChatTemplateError("this chat template has no tokenizer to encode with")
        text = self.render(messages, add_generation_prompt=add_generation_prompt)
        return self._tokenizer.encode(text, add_bos=False, allow_special=True)


def _as_dict(message: Message) -> dict[str, Any]:
    if isinstance(message, tuple):
        role, content = message
        return {"role": role, "content": content}
    return dict(message)
