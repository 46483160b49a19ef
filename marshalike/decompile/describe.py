"""Descriptions a model writes for the functions that have no docstring.

The model is the one `compile` would use (the same settings: flags, pyproject.toml, the
environment), started on the first function that needs it, so a module whose functions all
have docstrings never starts one. It is shown the function's source and asked what the
function does, in a few plain sentences (a base model continues "In plain English, `f`");
its first answer, greedy, is cut to plain prose (no code, no lines the spec would read as
structure, at most three sentences) and labelled as the model's, for a human to check. A
model that cannot be started or asked leaves the function's "no docstring" text, with the
reason in the report; one that could not be started is not tried again for the next
function.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from marshalike.backends.base import Backend, Prompt, Sampling
from marshalike.codegen import emit
from marshalike.decompile.model import RunModel
from marshalike.decompile.reading import Function
from marshalike.decompile.writing import prose
from marshalike.errors import MarshalikeError
from marshalike.settings import PromptKind

MAX_SENTENCES = 3
MAX_TOKENS = 256
LABEL = "(Description written by a model, {model}; check it.)"
WRITTEN = "description written by the model"
_COMPLETION_STOPS = ("\n\n", "```")
_THOUGHT = re.compile(r"^.*</think>", re.DOTALL)
_STRUCTURE = re.compile(r"^(#|\*|[-+>|]|\d+[.)]\s|<!--)")
_PREFIX = re.compile(r"^(description|summary|answer)\s*:\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


@dataclass(frozen=True)
class Description:
    text: str  # the description with its label; "" where the model wrote none
    note: str  # the report line's words about it


@dataclass(frozen=True)
class Started:
    backend: Backend
    model: str  # the model's id, as the label names it
    kind: PromptKind


class Describer:
    """Asks the model `start` makes, on first use, for functions' descriptions."""

    def __init__(self, start: Callable[[], Started]) -> None:
        self._start = start
        self._started: Started | None = None
        self._failed = ""  # why the model could not be started
        self._answered = False

    def describe(self, func: Function) -> Description:
        if self._failed:
            return _not_written(self._failed)
        try:
            if self._started is None:
                self._started = self._start()
            started = self._started
            answers = started.backend.generate(prompt(func, started.kind), sampling(started.kind))
        except (MarshalikeError, OSError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if not self._answered:  # a model never reached is not tried again
                self._failed = reason
            return _not_written(reason)
        self._answered = True
        answer = answers[0].text if answers else ""
        if started.kind == "completion":  # the prompt ends with the answer's first words
            answer = f"`{func.name}`{answer}"
        text = plain_prose(answer)
        if not text:
            return _not_written("its answer held no plain prose")
        return Description(f"{text}\n\n{LABEL.format(model=started.model)}", WRITTEN)


def from_settings(flags: Mapping[str, Any]) -> Describer:
    """A describer with the model `compile` would use given `flags` (the settings' own
    options); the settings are resolved when the model is first needed."""
    return from_model(RunModel(flags))


def from_model(model: RunModel) -> Describer:
    """A describer asking the run's `model`, started on first need."""

    def start() -> Started:
        job = model.job()
        return Started(model.shared().backend(), job.model_id, model.settings().prompt_kind)

    return Describer(start)


def prompt(func: Function, kind: PromptKind) -> Prompt:
    environment = emit.environment("marshalike.decompile")
    variables = {"source": func.source.rstrip("\n"), "name": func.name}
    if kind == "completion":
        text = environment.get_template("describe_completion.j2").render(**variables)
        return Prompt("completion", text=text.rstrip("\n"))
    system = environment.get_template("describe_system.j2").render().strip()
    user = environment.get_template("describe_chat.j2").render(**variables).strip()
    return Prompt("chat", messages=(("system", system), ("user", user)))


def sampling(kind: PromptKind) -> Sampling:
    """One answer, the model's most likely: a description is read, not sampled among."""
    stops = _COMPLETION_STOPS if kind == "completion" else ()
    return Sampling(n=1, temperature=0.0, max_tokens=MAX_TOKENS, stop=stops, seed=0)


def plain_prose(answer: str) -> str:
    """The answer as a paragraph of at most `MAX_SENTENCES` sentences: reasoning before a
    `</think>`, code blocks, lines the spec would read as structure (headings, list items,
    quotes, tables, comments) and the lines that introduce them left out."""
    kept, fenced = [], False
    for line in _THOUGHT.sub("", answer).splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and not _STRUCTURE.match(stripped) and not stripped.endswith(":"):
            kept.append(stripped)  # a line ending in `:` introduces what is left out
    text = _PREFIX.sub("", " ".join(" ".join(kept).split()))
    sentences = _SENTENCE_END.split(text)[:MAX_SENTENCES]
    paragraph = " ".join(sentences).strip()
    wrapped = textwrap.fill(paragraph, width=88, break_long_words=False, break_on_hyphens=False)
    return prose(wrapped)


def _not_written(reason: str) -> Description:
    return Description("", f"no description: the model could not write it ({reason})")
