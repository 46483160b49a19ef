"""`marshalike serve` against the real `openai` client: the requests it serves, with
`FakeEngine` in place of a model, the compiler's backend against it, and the embedded model
through it.

FakeEngine continues a prompt with the prompt reversed ("hello" -> "olleh"), one token per
character, 64 tokens of context; the chat template is `role:content` lines. See
fake_engine.py; the shared server and its fixtures are in conftest.py and serving.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from fake_engine import FakeEngine
from serving import MODEL, open_client, running

from marshalike_runtime.server import OpenAIServer


def test_models_lists_the_served_model(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [(m.id, m.object, m.owned_by) for m in models.data] == [(MODEL, "model", "marshalike")]
    assert client.models.retrieve(MODEL).id == MODEL


def test_completion(client: openai.OpenAI) -> None:
    result = client.completions.create(model=MODEL, prompt="hello", temperature=0)
    assert result.id.startswith("cmpl-")
    assert (result.object, result.model) == ("text_completion", MODEL)
    assert [(c.index, c.text, c.finish_reason) for c in result.choices] == [(0, "olleh", "stop")]
    usage = result.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (5, 5, 10)


def test_completion_cut_by_max_tokens(client: openai.OpenAI, fake_engine: FakeEngine) -> None:
    result = client.completions.create(model=MODEL, prompt="hello", max_tokens=3, temperature=0)
    assert [(c.text, c.finish_reason) for c in result.choices] == [("oll", "length")]
    assert result.usage is not None and result.usage.completion_tokens == 3


def test_completion_default_max_tokens_is_openais_16(
    client: openai.OpenAI, fake_engine: FakeEngine
) -> None:
    client.completions.create(model=MODEL, prompt="<eos>" * 4, temperature=0)
    assert fake_engine.calls[-1]["max_tokens"] == 16
    # control tokens written in a raw prompt stay plain text
    assert fake_engine.tokenizer.allow_special[-1] is False


def test_chat(client: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "system", "content": "be"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "ab"}, {"type": "text", "text": "c"}],
        },
    ]
    result = client.chat.completions.create(model=MODEL, messages=messages, temperature=0)
    assert result.id.startswith("chatcmpl-")
    assert result.object == "chat.completion"
    choice = result.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "cba:resu\neb:metsys")
    assert choice.finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (18, 18)


def test_chat_defaults_to_what_the_context_has_left(
    client: openai.OpenAI, fake_engine: FakeEngine
) -> None:
    messages: Any = [{"role": "developer", "content": "d"}, {"role": "user", "content": "u"}]
    client.chat.completions.create(model=MODEL, messages=messages)
    assert fake_engine.calls[-1]["prompt"] == "system:d\nuser:u"
    assert fake_engine.tokenizer.allow_special[-1] is True
    assert fake_engine.calls[-1]["max_tokens"] == 64 - 15


def test_chat_adds_the_engines_chat_stops(client: openai.OpenAI, fake_engine: FakeEngine) -> None:
    messages: Any = [{"role": "user", "content": "abc"}]
    client.chat.completions.create(model=MODEL, messages=messages, stop=["q", "\nuser:"])
    assert fake_engine.calls[-1]["stop"] == ("q", "\nuser:")
    client.chat.completions.create(model=MODEL, messages=messages, stop="q")
    assert fake_engine.calls[-1]["stop"] == ("q", "\nuser:")
    client.completions.create(model=MODEL, prompt="abc", stop="q")
    assert fake_engine.calls[-1]["stop"] == ("q",)


def test_chat_max_completion_tokens(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "abc"}]
    result = client.chat.completions.create(
        model=MODEL, messages=messages, max_completion_tokens=2, temperature=0
    )
    assert [(c.message.content, c.finish_reason) for c in result.choices] == [("cb", "length")]


def test_sampling_parameters_reach_the_engine(
    client: openai.OpenAI, fake_engine: FakeEngine
) -> None:
    client.completions.create(
        model=MODEL,
        prompt="abc",
        n=2,
        max_tokens=5,
        temperature=0.5,
        top_p=0.9,
        stop=["x", "y"],
        seed=11,
        extra_body={"top_k": 40},
    )
    assert fake_engine.calls == [
        {
            "prompt": "abc",
            "stream": True,  # every request runs on engine.stream, so a cancel can stop it
            "n": 2,
            "max_tokens": 5,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 40,
            "stop": ("x", "y"),
            "seed": 11,
        }
    ]


def test_n_candidates_with_a_seed_repeat(client: openai.OpenAI) -> None:
    def sample() -> list[str]:
        result = client.completions.create(
            model=MODEL, prompt="abcdefgh", n=4, temperature=1.0, seed=3
        )
        assert [c.index for c in result.choices] == [0, 1, 2, 3]
        assert result.usage is not None and result.usage.completion_tokens == 32
        return [c.text for c in result.choices]

    first = sample()
    assert first == sample()
    rotations = {"hgfedcba"[i:] + "hgfedcba"[:i] for i in range(8)}
    assert set(first) <= rotations


def test_stop_string(client: openai.OpenAI) -> None:
    result = client.completions.create(model=MODEL, prompt="hello world", stop="o", temperature=0)
    assert [(c.text, c.finish_reason) for c in result.choices] == [("dlr", "stop")]
    # the stop string's token was generated, so it counts
    assert result.usage is not None and result.usage.completion_tokens == 4


def test_stop_list_cuts_at_the_earliest(client: openai.OpenAI) -> None:
    result = client.completions.create(
        model=MODEL, prompt="hello world", stop=["l", "r"], temperature=0
    )
    assert [c.text for c in result.choices] == ["d"]


def test_several_prompts_number_their_choices_in_order(client: openai.OpenAI) -> None:
    result = client.completions.create(model=MODEL, prompt=["ab", "xyz"], n=2, temperature=0)
    assert [(c.index, c.text) for c in result.choices] == [
        (0, "ba"),
        (1, "ba"),
        (2, "zyx"),
        (3, "zyx"),
    ]
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (5, 10)


# --- the compiler's side ---------------------------------------------------------------------


def test_the_compilers_openai_backend_works_against_the_server(server: OpenAIServer) -> None:
    from marshalike.backends.base import Completion, Prompt, Sampling
    from marshalike.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model=MODEL, base_url=server.base_url, max_retries=0, timeout=10)
    sampling = Sampling(n=2, temperature=0.0, top_p=1.0, max_tokens=20, stop=("\n\n",))
    chat = Prompt("chat", messages=(("system", "s"), ("user", "fn")))
    text = Prompt("completion", text="def f():")
    assert backend.generate(chat, sampling) == [Completion("nf:resu\ns:metsys", 8, 16, "stop")] * 2
    assert backend.generate(text, sampling) == [Completion(":)(f fed", 4, 8, "stop")] * 2


def test_the_openai_backend_gives_the_servers_choices_as_they_finish(server: OpenAIServer) -> None:
    from marshalike.backends.base import Prompt, Sampling
    from marshalike.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model=MODEL, base_url=server.base_url, max_retries=0, timeout=10)
    sampling = Sampling(n=3, temperature=0.8, top_p=1.0, max_tokens=20, seed=4)
    prompt = Prompt("completion", text="def f(x):")
    whole = backend.generate(prompt, sampling)
    given = sorted(backend.generate_each(prompt, sampling), key=lambda pair: pair[0])
    assert [c.text for _, c in given] == [c.text for c in whole]
    # The server streams a token a chunk: the counts add up to what it reports.
    assert sum(c.completion_tokens for _, c in given) == sum(c.completion_tokens for c in whole)
    assert sum(c.prompt_tokens for _, c in given) == sum(c.prompt_tokens for c in whole)


# --- the real engine -----------------------------------------------------------------------


@pytest.mark.slow
def test_the_embedded_model_through_the_server(embedded_gguf: Path) -> None:
    """What the server returns is what the engine generates, token for token."""
    from marshalike_runtime.engine import Engine

    engine = Engine.load(embedded_gguf, progress=False)
    prompt = 'def add(a, b):\n    """Return the sum of a and b."""\n'
    ids = engine.tokenizer.encode(prompt)
    (direct,) = engine.generate(ids, max_tokens=12, temperature=0.0)
    messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    chat_text = engine.render_chat(messages)
    chat_ids = engine.tokenizer.encode(chat_text, add_bos=False, allow_special=True)
    chat_stop = getattr(engine, "chat_stop", ())
    (direct_chat,) = engine.generate(chat_ids, max_tokens=8, temperature=0.0, stop=chat_stop)
    with running(engine) as server:
        client = open_client(server, "k", timeout=300)  # 2 shared cores can be slow
        (card,) = client.models.list().data
        options: Any = {"model": card.id, "max_tokens": 12, "temperature": 0}
        result = client.completions.create(prompt=prompt, n=2, **options)
        assert [c.text for c in result.choices] == [direct.text, direct.text]
        assert result.usage is not None
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (len(ids), 24)
        chunks = client.completions.create(prompt=prompt, stream=True, **options)
        assert "".join(chunk.choices[0].text for chunk in chunks) == direct.text
        chat = client.chat.completions.create(
            model=card.id,
            messages=messages,
            max_tokens=8,
            temperature=0,  # type: ignore[arg-type]
        )
        assert chat.choices[0].message.content == direct_chat.text


ADD = """\
# func add(a: integer, b: integer): integer

The sum of a and b.

* add(1, 2) = 3
* add(-4, 4) = 0
* add(10, 5) = 15
"""


@pytest.mark.slow
def test_compile_through_serve_with_default_settings_and_no_model(tmp_path: Path) -> None:
    """What a user does first with a server: `marshalike serve` as it starts by default
    (the embedded model, the default quant), then `compile --backend openai --base-url`
    with no model and no key, and `--api completions`, which the README gives for base
    models: the one model the server lists is taken. (Through chat prompts this base model
    compiles `add` on some CPUs and not on others.)"""
    from click.testing import CliRunner

    from marshalike.backends.local import resolve_quant
    from marshalike.cli.main import cli
    from marshalike.cli.serve_cmd import load_engine

    (tmp_path / "add.mrsh").write_text(ADD, encoding="utf-8")
    with running(load_engine(None, resolve_quant("auto"))) as server:
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url]
        argv += ["--api", "completions"]
        result = CliRunner().invoke(cli, argv, env={"OPENAI_API_KEY": None})  # none needed
    assert result.exit_code == 0, result.output
    assert "using model " in result.stderr and "the only one" in result.stderr
    assert "add.mrsh: ok" in result.stdout
    assert (tmp_path / "add.py").is_file()
