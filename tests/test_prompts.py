"""Golden tests of the rendered prompts. To update after an intended change:

    MARSHALIKE_UPDATE_GOLDEN=1 python -m pytest tests/test_prompts.py

then review the diff of tests/golden/prompts/ like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from marshalike.language.parse import parse
from marshalike.language.spec import Module
from marshalike.sandbox.verify import ExampleResult
from marshalike.synth import prompts
from marshalike.synth.prompts import UnitContext

GOLDEN = Path(__file__).parent / "golden" / "prompts"
UPDATE = os.environ.get("MARSHALIKE_UPDATE_GOLDEN") == "1"
DEPENDENCY = "def oldest(people):\n    return max(people, key=lambda p: p.age)\n"


def module() -> Module:
    result = parse((GOLDEN / "people.mrsh").read_text(encoding="utf-8"), "people.mrsh")
    assert result.module is not None, result.diagnostics
    return result.module


def contexts() -> dict[str, UnitContext]:
    mod = module()
    first, second = mod.funcs
    return {
        "oldest": UnitContext(mod, first, {}),
        "names_by_age": UnitContext(mod, second, {"oldest": DEPENDENCY}),
    }


def rendered() -> dict[str, str]:
    ctx = contexts()
    chat = prompts.first_prompt(ctx["oldest"], "chat")
    failures = [
        prompts.describe_failure(ExampleResult("test_oldest_1", "fail", "Person(name='Alice', "
                                 "age=31)", "Person(name='Bob', age=27)"), ctx["oldest"].func, 10),
        prompts.describe_failure(ExampleResult("test_oldest_2", "error", error_type="Failed",
                                 message="DID NOT RAISE"), ctx["oldest"].func, 10),
    ]  # fmt: skip
    repair = prompts.repair_prompt(
        ctx["oldest"], chat, code="def oldest(people):\n    return min(people)\n",
        problems=(), failures=[f for f in failures if f], total=2,
    )  # fmt: skip
    probed = prompts.repair_prompt(
        ctx["oldest"], chat, code="def oldest(people):\n    return people[0]\n",
        problems=(), failures=(), total=2,
        probe_failure="oldest([]) raised IndexError: list index out of range",
    )  # fmt: skip
    completion = prompts.first_prompt(ctx["names_by_age"], "completion")
    return {
        "chat.txt": _messages(chat.messages),
        "repair.txt": _messages(repair.messages),
        "repair_probe.txt": _messages(probed.messages),
        "completion.txt": completion.text,
        "completion_dependent_chat.txt": _messages(
            prompts.first_prompt(ctx["names_by_age"], "chat").messages
        ),
    }


def _messages(messages: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"=== {role}\n{content.rstrip()}\n" for role, content in messages)


@pytest.mark.parametrize("name", sorted(rendered()))
def test_prompt_matches_golden(name: str) -> None:
    text = rendered()[name]
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_failure_descriptions() -> None:
    func = contexts()["oldest"].func
    timeout = ExampleResult("test_oldest_1", "timeout")
    error = ExampleResult("test_oldest_1", "error", error_type="KeyError", message="'age'")
    assert prompts.describe_failure(timeout, func, 2.5) == (
        "oldest([Person('Alice', 31), Person('Bob', 27)]) did not finish within 2.5 s"
    )
    assert prompts.describe_failure(error, func, 10) == (
        "oldest([Person('Alice', 31), Person('Bob', 27)]) raised KeyError: 'age'"
    )
    assert prompts.describe_failure(ExampleResult("test_oldest_1", "pass"), func, 10) is None


def test_template_version_is_stable_and_hashed() -> None:
    version = prompts.template_version()
    assert version.startswith("sha256:") and len(version) == 23
    assert prompts.template_version() == version


def test_completion_prompt_ends_with_the_stub_and_stops_at_top_level() -> None:
    text = prompts.first_prompt(contexts()["oldest"], "completion").text
    assert text.rstrip().endswith('"""')
    assert "raise NotImplementedError" not in text
    assert prompts.stops("completion")[:4] == ("\ndef ", "\nclass ", "\n\n\n", "\n#")
    assert prompts.stops("chat") == ()


def test_a_completion_repair_notes_the_probe_failure() -> None:
    ctx = contexts()["oldest"]
    first = prompts.first_prompt(ctx, "completion")
    repair = prompts.repair_prompt(ctx, first, code="", problems=(), failures=(), total=2,
                                   probe_failure="oldest([]) raised IndexError: boom")  # fmt: skip
    note = "# An earlier version of oldest was wrong:\n#   oldest([]) raised IndexError: boom\n"
    assert note in repair.text
