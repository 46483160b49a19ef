"""A secret of the compiler's environment that a candidate returned never reaches the
report or a repair prompt."""

from __future__ import annotations

import json

import pytest

from marshalike.build import report
from marshalike.build.results import CachedUnit, SpecReport
from marshalike.language.parse import parse
from marshalike.sandbox.verify import ExampleResult
from marshalike.synth import prompts
from marshalike.synth.prompts import UnitContext
from marshalike.synth.redact import redact

KEY = "sk-test-4f9c2a7e1b"
SPEC = "# func add(integer, integer): integer\n\nAdd them.\n\n* add(1, 2) = 3\n"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def context() -> UnitContext:
    module = parse(SPEC, "add.mrsh").module
    assert module is not None
    return UnitContext(module, module.funcs[0], {})


def leaked() -> ExampleResult:
    return ExampleResult("test_add_1", "fail", "3", repr(KEY))


def test_the_value_and_its_forms_are_replaced() -> None:
    env = {"OPENAI_API_KEY": 'sk-"quoted\\', "GH_TOKEN": "ghp_abcdef", "Db_Password": "hunter22"}
    text = f'a sk-"quoted\\ b {json.dumps(env["OPENAI_API_KEY"])} c ghp_abcdef hunter22'
    assert redact(text, env) == (
        'a [redacted OPENAI_API_KEY] b "[redacted OPENAI_API_KEY]" c [redacted GH_TOKEN] '
        "[redacted Db_Password]"
    )


def test_short_values_and_other_names_are_left_alone() -> None:
    env = {"SORT_KEY": "1", "EMPTY_TOKEN": "", "HOME": "/home/someone", "A_KEY": "   x    "}
    assert redact("1 /home/someone   x    ", env) == "1 /home/someone   x    "


def test_a_secret_inside_another_is_replaced_whole() -> None:
    env = {"SHORT_KEY": "abcdef", "LONG_KEY": "abcdef123456"}
    assert redact("abcdef123456 abcdef", env) == "[redacted LONG_KEY] [redacted SHORT_KEY]"


def test_the_failure_line_is_redacted() -> None:
    line = prompts.describe_failure(leaked(), context().func, 10)
    assert line == "add(1, 2) should return 3, but it returned '[redacted OPENAI_API_KEY]'"


@pytest.mark.parametrize("kind", ["chat", "completion"])
def test_the_repair_prompt_is_redacted(kind: prompts.PromptKind) -> None:
    ctx = context()
    failure = f"add(1, 2) should return 3, but it returned {KEY!r}"
    repaired = prompts.repair_prompt(
        ctx,
        prompts.first_prompt(ctx, kind),
        code=f"def add(a, b):\n    return {KEY!r}\n",
        problems=(),
        failures=[failure],
        total=1,
        probe_failure=f"add(0, 0) returned {KEY!r}",
    )
    sent = (repaired.text or "") if kind == "completion" else json.dumps(repaired.messages)
    assert KEY not in sent
    assert "[redacted OPENAI_API_KEY]" in sent


def test_the_report_is_redacted_as_text_and_json() -> None:
    failure = f"add(1, 2) should return 3, but it returned {KEY!r}"
    unit = CachedUnit("add", "failed", "", failures=(failure,), note=f"note {KEY}")
    reports = [SpecReport("add.mrsh", SPEC, units=(unit,), problem=f"problem {KEY}")]
    for rendered in (report.text(reports), report.as_json(reports)):
        assert KEY not in rendered
        assert "[redacted OPENAI_API_KEY]" in rendered
    assert "      add(1, 2) should return 3, but it returned '[redacted OPENAI_API_KEY]'" in (
        report.text(reports)
    )
