"""The watch benchmark (benchmarks/watch_bench.py) end to end: a real `marshalike watch`
subprocess compiling against the fake OpenAI server. The scripted answers are test doubles
written for this file, not a model's output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Request

from benchmarks import watch_bench

CODE = {
    "add": "def add(a, b):\n    return a + b\n",
    "double": "def double(n):\n    return 2 * n\n",
    "length": "def length(text):\n    return len(text)\n",
    "join": "def join(a, b):\n    return a + b\n",
    "first_char": "def first_char(text):\n    return text[0]\n",
}


def asked_for(prompt: str) -> str:
    """The function a chat prompt asks for."""
    match = re.search(r"Implement the function `(\w+)`", prompt)
    assert match is not None, prompt
    return match[1]


def right_code(request: Request) -> str:
    return f"```python\n{CODE[asked_for(request.prompt_text)]}```"


def run_bench(server: FakeOpenAI, edits: int, out: Path) -> dict:
    """The benchmark's main against `server`; the figures it wrote."""
    argv = ["--edits", str(edits), "--gap", "0.2", "--timeout", "60", "--backend", "openai",
            "--base-url", server.base_url, "--model", "fake-model", "--quick",
            "--json", str(out)]  # fmt: skip
    assert watch_bench.main(argv) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_two_edits_are_measured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(script=right_code) as server:
        figures = run_bench(server, 2, tmp_path / "watch.json")
        prompts = [r.prompt_text for r in server.requests if r.path.endswith("completions")]
    assert [figures[k] for k in ("backend", "model", "quick")] == ["openai", "fake-model", True]
    assert (figures["edits"], figures["compiled"], figures["failed"]) == (2, 2, 0)
    assert figures["failures"] == []
    assert len(figures["latencies_s"]) == 2
    assert all(s > 0 for s in figures["latencies_s"])
    assert figures["min_s"] <= figures["median_s"] <= figures["max_s"]
    assert figures["first_compile_s"] > 0
    # the first compile asks for every function; each edit for the one it changed
    asked = [asked_for(p) for p in prompts]
    assert sorted(asked[:5]) == sorted(CODE)
    assert asked[5:] == ["add", "double"]
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[0] == "openai fake-model (quick); 5-function spec"
    assert "2 edits, save to verified output: median " in stdout


def test_a_failed_edit_is_counted_left_out_and_taken_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def wrong_for_double_102(request: Request) -> str:
        if "double(102)" in request.prompt_text:
            return "```python\ndef double(n):\n    return n + 2\n```"
        return right_code(request)

    with FakeOpenAI(script=wrong_for_double_102) as server:
        figures = run_bench(server, 3, tmp_path / "watch.json")
    assert (figures["compiled"], figures["failed"]) == (2, 1)
    assert figures["failures"] == [
        {
            "edit": 2,
            "function": "double",
            "status": "failed: double did not pass; best attempt in out/bench.failed.py",
        }
    ]
    first, failed, third = figures["latencies_s"]
    assert failed is None and first > 0 and third > 0  # the third compiled without double(102)
    assert figures["median_s"] == (first + third) / 2
    assert "; 1 failed to compile, left out" in capsys.readouterr().out


def test_settings_are_passed_on_as_watch_flags() -> None:
    argv = ["--backend", "openai", "--base-url", "http://h/v1", "--no-probe", "--seed", "3",
            "--request-timeout", "5", "--quick"]  # fmt: skip
    args = watch_bench.parse_args(argv)
    assert watch_bench.passed(args) == [
        "--backend", "openai", "--base-url", "http://h/v1", "--no-probe", "--seed", "3",
        "--request-timeout", "5.0", "--quick",
    ]  # fmt: skip
