"""Chat templates: SmolLM2's own template against transformers' rendering (recorded in the
tokenizer fixture), the plain template for base models, and the Jinja features HF templates
use."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tokenizers")

from marshalike_runtime.chat import (  # noqa: E402
    PLAIN_STOP,
    PLAIN_TEMPLATE,
    ChatTemplate,
    ChatTemplateError,
)

REFERENCE = Path(__file__).parent / "fixtures" / "tokenizer" / "reference.json.gz"


def smollm2_reference() -> dict[str, Any]:
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as fh:
        return json.load(fh)["smollm2"]


SMOLLM2 = smollm2_reference()


@pytest.mark.parametrize("case", SMOLLM2["chat"], ids=lambda c: str(len(c["messages"])))
def test_smollm2_template_renders_as_transformers_does(case: dict[str, Any]) -> None:
    template = ChatTemplate(SMOLLM2["chat_template"])
    messages = [tuple(m) for m in case["messages"]]
    rendered = template.render(messages, add_generation_prompt=case["add_generation_prompt"])
    assert rendered == case["text"]


def test_smollm2_reference_text() -> None:
    template = ChatTemplate(SMOLLM2["chat_template"])
    assert template.render([{"role": "user", "content": "Hi"}]) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


class FakeTokenizer:
    """Just what `ChatTemplate.for_tokenizer` reads, recording `encode` calls."""

    def __init__(self, chat_template: str | None) -> None:
        self.chat_template = chat_template
        self.bos_id = 2
        self.eos_ids = frozenset({106, 1})
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def token_text(self, token_id: int) -> str:
        return {1: "<eos>", 2: "<bos>", 106: "<end_of_turn>"}[token_id]

    def encode(self, text: str, **options: Any) -> list[int]:
        self.calls.append((text, options))
        return [len(text)]


def test_base_models_get_the_plain_template() -> None:
    template = ChatTemplate.for_tokenizer(FakeTokenizer(None))
    messages = [("system", "You write Python."), ("user", "  Write add(a, b).\n")]
    assert template.is_plain
    assert template.render(messages) == (
        "<bos>System: You write Python.\n\nUser: Write add(a, b).\n\nAssistant:"
    )
    assert template.render(messages[:1], add_generation_prompt=False) == (
        "<bos>System: You write Python.\n\n"
    )
    assert PLAIN_STOP == ("\nUser:", "\nSystem:")


def test_checkpoint_templates_see_the_special_tokens() -> None:
    tokenizer = FakeTokenizer("{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}")
    template = ChatTemplate.for_tokenizer(tokenizer)
    assert not template.is_plain
    assert template.render([]) == "<bos>|<eos>|True"


def test_encode_lets_the_template_place_bos_and_control_tokens() -> None:
    tokenizer = FakeTokenizer("{{ bos_token }}<start_of_turn>{{ messages[0].content }}")
    assert ChatTemplate.for_tokenizer(tokenizer).encode([("user", "hi")]) == [22]
    assert tokenizer.calls == [
        ("<bos><start_of_turn>hi", {"add_bos": False, "allow_special": True})
    ]


def test_encode_needs_a_tokenizer() -> None:
    with pytest.raises(ChatTemplateError) as err:
        ChatTemplate(PLAIN_TEMPLATE).encode([])
    assert str(err.value) == "this chat template has no tokenizer to encode with"


def test_raise_exception_becomes_a_chat_template_error() -> None:
    source = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
    )
    with pytest.raises(ChatTemplateError) as err:
        ChatTemplate(source).render([("system", "x")])
    assert str(err.value) == "chat template: no system role"


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(ChatTemplateError) as err:
        ChatTemplate("ok\n{% for %}")
    assert (
        str(err.value)
        == "chat template line 2: Expected an expression, got 'end of statement block'"
    )


def test_the_sandbox_forbids_mutation() -> None:
    with pytest.raises(ChatTemplateError) as err:
        ChatTemplate("{{ messages.append(1) }}").render([])
    assert str(err.value) == (
        "chat template failed: access to attribute 'append' of 'list' object is unsafe."
    )


def test_hugging_face_template_features() -> None:
    source = (
        "{% set ns = namespace(users=0) %}"
        "{% for m in messages %}\n"
        "  {% if m.role == 'skip' %}{% continue %}{% endif %}\n"
        "  {% if m.role == 'user' %}{% set ns.users = ns.users + 1 %}{% endif %}\n"
        "  [{{ loop.index }}{{ '!' if loop.last }}]{{ m.content | trim }}\n"
        "{% endfor %}"
        "{% generation %}{{ ns.users }}{% endgeneration %}|{{ messages[0] | tojson }}"
    )
    messages = [("user", " héllo "), ("skip", "x"), ("user", "b")]
    assert ChatTemplate(source).render(messages) == (
        '  [1]héllo\n  [3!]b\n2|{"role": "user", "content": " héllo "}'
    )


def test_strftime_now_is_today() -> None:
    assert ChatTemplate("{{ strftime_now('%Y') }}").render([]) == str(datetime.now().year)


@pytest.mark.slow
def test_smollm2_gguf_carries_the_recorded_template(smollm2_gguf: Path) -> None:
    from marshalike_runtime.gguf_file import GGUFFile

    with GGUFFile(smollm2_gguf) as gguf:
        assert gguf.get("tokenizer.chat_template") == SMOLLM2["chat_template"]
