"""Descriptions a model writes where a function has no docstring: asked of the model
`compile` would use (here a scripted OpenAI-compatible server), cut to plain prose and
labelled; never asked where every function has a docstring; a model that cannot answer
leaves the "no docstring" text and says why in the report, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from test_decompile import run_cli

from marshalike.decompile.describe import WRITTEN, from_settings, plain_prose, prompt
from marshalike.decompile.module import Aids, decompile_source
from marshalike.decompile.reading import read_module
from marshalike.language.load import load_spec
from marshalike.sandbox.isolation import Limits

LIMITS = Limits(timeout_s=2.0, startup_s=20.0)
MODULE = '''def shout(text: str) -> str:
    return text.upper() + "!"


def whisper(text: str) -> str:
    return text.lower()


def clamp(n: int) -> int:
    """n, at most 10."""
    return min(n, 10)
'''
ANSWER = (
    "Here is what it does:\n```python\nshout('a')\n```\n# Heading\n* shout(x) = y\n"
    "It turns the text to capitals and adds an exclamation mark. Empty text gives '!'. "
    "It never fails. A fourth sentence is cut."
)
SAID = (
    "It turns the text to capitals and adds an exclamation mark. Empty text gives '!'. It "
    "never fails."
)


def flags(server: FakeOpenAI, **more: str) -> dict[str, str]:
    return {"backend": "openai", "base_url": server.base_url, "model": "fake-model", **more}


def decompiled(server: FakeOpenAI, source: str = MODULE, **options: object):
    aids = Aids(describer=from_settings(flags(server)))
    return decompile_source(source, filename="loud.py", limits=LIMITS, aids=aids, **options)


@pytest.fixture(autouse=True)
def no_project_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no pyproject.toml of this repository's


def test_the_answer_is_cut_to_plain_prose_of_three_sentences() -> None:
    said = plain_prose(ANSWER)
    assert " ".join(said.split()) == SAID and max(len(line) for line in said.splitlines()) <= 88
    assert plain_prose("<think>\n# plan\n</think>\nDescription: Adds one.") == "Adds one."
    assert plain_prose("```\nonly code\n```") == ""
    long = "Word " * 30 + "and a #hash."
    assert all(not line.startswith("#") for line in plain_prose(long).splitlines())


def test_the_prompt_shows_the_source_and_asks_for_plain_english() -> None:
    shout = read_module(MODULE, "loud.py").functions[0]
    chat = prompt(shout, "chat")
    user = chat.messages[-1][1]
    assert 'return text.upper() + "!"' in user and "no code, no examples" in user
    completion = prompt(shout, "completion")
    assert completion.text.endswith("In plain English, `shout`")
    assert "def shout(text: str) -> str:" in completion.text


def test_the_model_writes_what_has_no_docstring_labelled_for_a_human() -> None:
    with FakeOpenAI(script=lambda request: ANSWER) as server:
        done = decompiled(server)
        asked = [r.prompt_text for r in server.requests if r.path.endswith("completions")]
    assert len(asked) == 2
    assert "def shout(" in asked[0] and "def whisper(" in asked[1]
    assert all("def clamp(" not in text for text in asked)
    label = "(Description written by a model, fake-model; check it.)"
    assert done.spec.count(label) == 2
    section = done.spec.split("# func shout(")[1].split("# func whisper(")[0]
    assert "It turns the text to capitals" in section and label in section
    assert "n, at most 10." in done.spec and "no docstring" not in done.spec
    lines = {f.name: f.line() for f in done.functions}
    assert lines["shout"].endswith(f"; {WRITTEN}")
    assert not lines["clamp"].endswith(WRITTEN)


def test_the_spec_with_a_model_description_loads_clean(tmp_path: Path) -> None:
    with FakeOpenAI(script=lambda request: ANSWER) as server:
        done = decompiled(server)
    (tmp_path / "loud.mrsh").write_text(done.spec, encoding="utf-8")
    loaded = load_spec(tmp_path / "loud.mrsh")
    assert [d for d in loaded.diagnostics if d.is_error] == []
    assert loaded.module is not None
    shout = next(f for f in loaded.module.funcs if f.name == "shout")
    assert "capitals" in shout.description and len(shout.examples) >= 3


def test_a_base_model_continues_the_description_from_the_function_name() -> None:
    with FakeOpenAI(script=lambda request: " turns text to capitals.") as server:
        aids = Aids(describer=from_settings(flags(server, api="completions")))
        done = decompile_source(
            MODULE, filename="loud.py", limits=LIMITS, aids=aids, functions=["shout"]
        )
        [request] = server.requests
    assert request.path.endswith("/completions") and "messages" not in request.body
    assert request.body["prompt"].endswith("In plain English, `shout`")
    assert request.body["temperature"] == 0.0 and "\n\n" in request.body["stop"]
    assert "\n\n`shout` turns text to capitals.\n\n(Description written by a model" in done.spec


def test_a_module_whose_functions_all_have_docstrings_never_asks_the_model() -> None:
    with FakeOpenAI(script=lambda request: ANSWER) as server:
        done = decompiled(server, functions=["clamp"])
        assert server.requests == []
    assert "n, at most 10." in done.spec


def test_a_model_that_fails_leaves_the_no_docstring_text_and_is_not_asked_again() -> None:
    with FakeOpenAI(script=lambda request: Reply.error(500)) as server:
        done = decompiled(server)
        asked = [r.prompt_text for r in server.requests if r.path.endswith("completions")]
    assert asked and all("def shout(" in text for text in asked)
    assert "no docstring: say here what `shout` does" in done.spec
    assert "no docstring: say here what `whisper` does" in done.spec
    lines = {f.name: f.line() for f in done.functions}
    assert "; no description: the model could not write it (" in lines["shout"]
    assert "500" in lines["shout"]
    assert lines["whisper"].split("; ", 1)[1] == lines["shout"].split("; ", 1)[1]


def test_the_command_asks_the_model_compile_would_unless_told_not_to(tmp_path: Path) -> None:
    (tmp_path / "loud.py").write_text(MODULE, encoding="utf-8")
    with FakeOpenAI(script=lambda request: ANSWER) as server:
        options = [f"--{k.replace('_', '-')}={v}" for k, v in flags(server).items()]
        done = run_cli("loud.py", "--functions", "shout", *options, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert server.count == 1
        spec = (tmp_path / "loud.mrsh").read_text(encoding="utf-8")
        assert "(Description written by a model, fake-model; check it.)" in spec
        assert "shout: 3 examples" in done.stdout and f"; {WRITTEN}\n" in done.stdout
        plain = run_cli("loud.py", "--functions", "shout", "--force", "--no-model", *options,
                        cwd=tmp_path)  # fmt: skip
        assert plain.returncode == 0, plain.stderr
        assert server.count == 1
    spec = (tmp_path / "loud.mrsh").read_text(encoding="utf-8")
    assert "no docstring: say here what `shout` does" in spec
    assert "description" not in plain.stdout


def test_a_model_that_cannot_be_started_is_a_report_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "loud.py").write_text(MODULE, encoding="utf-8")
    with FakeOpenAI(models=[]) as server:
        done = run_cli("loud.py", "--backend", "openai", "--base-url", server.base_url,
                       cwd=tmp_path)  # fmt: skip
        assert server.count == 0
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    [shout] = [line for line in done.stdout.splitlines() if line.startswith("  shout: ")]
    assert "; no description: the model could not write it (" in shout
    assert "pass --model)" in shout


@pytest.mark.parametrize(
    "item",
    [
        "* square.__call__(2) = __import__('os').getpid() * 0 + 4",
        "* ｓquare(2) = 4",
        "1. square(2) = 4",
        "+ square(2) = 4",
    ],
)
def test_a_description_never_adds_an_example(tmp_path: Path, item: str) -> None:
    """A model's description is prose: a list item wrapped to the start of a line (after
    an 87-character sentence) would be read as an example bullet, and its expression
    would run wherever the tests run."""
    answer = "A" * 85 + " b. " + item
    text = plain_prose(answer)
    spec = tmp_path / "sq.mrsh"
    spec.write_text(
        f"# func square(an integer): an integer\n\n{text}\n\n* square(2) = 4\n* square(-3) = 9\n"
        "* square(0) = 0\n",
        encoding="utf-8",
    )
    examples = load_spec(spec).module.funcs[0].examples
    assert [e.call for e in examples] == ["square(2)", "square(-3)", "square(0)"], text
