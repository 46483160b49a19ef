"""Cancelling a running compile: the compiler checks the token between units and the loop
between attempts; a cancelled compile raises `Cancelled` and writes nothing. The backend is
an in-process test double (its answers are written for these tests, not a model's)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.build.compiler import compile_path
from marshalike.build.results import CompileJob
from marshalike.synth.cancel import Cancel, Cancelled, raise_if_cancelled
from marshalike.synth.loop_settings import LoopSettings

TWO = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4

# func double(an integer): twice the number

Add the number to itself.

* double(2) = 4
"""

CODE = {
    "square": "def square(x):\n    return x * x\n",
    "double": "def double(x):\n    return x + x\n",
}


class Backend:
    """Answers with the asked function's code (or `text`); runs `during` inside each call."""

    name = "double"
    model = "double-model"

    def __init__(self, during: Callable[[], None], text: str | None = None) -> None:
        self.during = during
        self.text = text
        self.asked: list[str] = []

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        name = next(n for n in CODE if f"`{n}`" in prompt.messages[1][1])
        self.asked.append(name)
        self.during()
        text = self.text if self.text is not None else f"```python\n{CODE[name]}```"
        return [Completion(text, 1, 1, "stop")] * sampling.n


def job(backend: Backend, **loop: object) -> CompileJob:
    settings = LoopSettings(kind="chat", candidates=1, jobs=1, **loop)  # type: ignore[arg-type]
    return CompileJob(lambda: backend, "double", "double-model", settings)


def compile_two(tmp_path: Path, backend: Backend, cancel: Cancel, **loop: object) -> None:
    (tmp_path / "two.mrsh").write_text(TWO, encoding="utf-8")
    with pytest.raises(Cancelled, match="^the compile was cancelled$"):
        compile_path(tmp_path / "two.mrsh", job(backend, **loop), lambda _: None, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two.mrsh"]  # nothing written


def test_a_token_set_before_the_compile_stops_it_before_any_model_call(tmp_path: Path) -> None:
    cancel = Cancel()
    cancel.set()
    backend = Backend(during=lambda: None)
    compile_two(tmp_path, backend, cancel, quick=True)
    assert backend.asked == []


def test_a_token_set_during_a_unit_stops_the_compile_before_the_next_unit(
    tmp_path: Path,
) -> None:
    cancel = Cancel()
    backend = Backend(during=cancel.set)
    compile_two(tmp_path, backend, cancel, quick=True)
    assert backend.asked == ["square"]  # `double` was never asked for


def test_the_loop_stops_between_attempts(tmp_path: Path) -> None:
    # No code in the answer, so attempt 2 would follow (and no sandbox run is needed).
    cancel = Cancel()
    backend = Backend(during=cancel.set, text="I cannot help with that.")
    compile_two(tmp_path, backend, cancel, attempts=3)
    assert backend.asked == ["square"]


def test_a_linked_event_cancels_too() -> None:
    stop = threading.Event()
    cancel = Cancel(stop)
    raise_if_cancelled(cancel)
    raise_if_cancelled(None)
    assert not cancel.is_set()
    stop.set()
    assert cancel.is_set()
    with pytest.raises(Cancelled):
        raise_if_cancelled(cancel)


def test_without_a_token_the_compile_runs_to_the_end(tmp_path: Path) -> None:
    (tmp_path / "two.mrsh").write_text(TWO, encoding="utf-8")
    backend = Backend(during=lambda: None)
    report = compile_path(tmp_path / "two.mrsh", job(backend, quick=True), lambda _: None)
    assert report.ok and report.written == ("two.py", "test_two.py", "_marshalike_main.py")
    assert backend.asked == ["square", "double"]


def test_no_sample_is_drawn_for_questions_once_a_stop_is_asked_for(tmp_path: Path) -> None:
    """Verified on its first sample, a function draws one more to look for questions: a
    stop asked for during the first is kept, and the second is never asked for."""
    cancel = Cancel()
    backend = Backend(during=cancel.set)
    compile_two(tmp_path, backend, cancel, questions=3, attempts=1)
    assert backend.asked == ["square"]
