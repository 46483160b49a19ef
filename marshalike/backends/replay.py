"""Recorded request → response files, for tests of the pipeline only.

A replay directory holds one JSON file per request, named by `request_key` (a hash of the
model, the prompt and the sampling settings). Each file says where its completions came
from: `recorded_from` names the backend and model that produced them, and hand-written
fixtures carry `recorded_from: "hand-written"` plus a `label`, so no text is ever passed
off as a model's that no model wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from marshalike.backends.base import Backend, BackendOptions, Completion, Prompt, Sampling
from marshalike.errors import BackendError
from marshalike.settings import default

HAND_WRITTEN = "hand-written"
FIXTURE_LABEL = "fixture: written by hand for pipeline tests"


def request_json(model: str, prompt: Prompt, sampling: Sampling) -> dict[str, Any]:
    """The request as plain JSON values (tuples become lists)."""
    return json.loads(
        json.dumps({"model": model, "prompt": asdict(prompt), "sampling": asdict(sampling)})
    )


def request_key(model: str, prompt: Prompt, sampling: Sampling) -> str:
    canonical = json.dumps(request_json(model, prompt, sampling), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def record(
    directory: str | Path,
    model: str,
    prompt: Prompt,
    sampling: Sampling,
    completions: list[Completion],
    *,
    recorded_from: str,
    label: str | None = None,
) -> Path:
    """Write one request and its completions; returns the file written."""
    if recorded_from == HAND_WRITTEN and not label:
        raise ValueError("hand-written completions need a label saying so")
    entry: dict[str, Any] = {
        "key": request_key(model, prompt, sampling),
        "request": request_json(model, prompt, sampling),
        "completions": [asdict(c) for c in completions],
        "recorded_from": recorded_from,
    }
    if label:
        entry["label"] = label
    Path(directory).mkdir(parents=True, exist_ok=True)
    path = Path(directory) / f"{entry['key']}.json"
    _write_atomically(path, json.dumps(entry, indent=2, sort_keys=True) + "\n")
    return path


def record_fixture(
    directory: str | Path, model: str, prompt: Prompt, sampling: Sampling, texts: list[str]
) -> Path:
    """Record completions a person wrote, labelled as such (no token counts: no model ran)."""
    completions = [Completion(text, 0, 0, "stop") for text in texts]
    origin = {"recorded_from": HAND_WRITTEN, "label": FIXTURE_LABEL}
    return record(directory, model, prompt, sampling, completions, **origin)


def from_options(options: BackendOptions) -> ReplayBackend:
    """The registered factory of the `replay` backend (pyproject.toml's entry points)."""
    if options.replay_dir is None:
        raise BackendError("the replay backend needs recordings — pass --replay-dir DIR")
    return ReplayBackend(options.replay_dir, model=options.model, api=options.api)


class ReplayBackend:
    """Answers only requests that were recorded; anything else is a BackendError."""

    name = "replay"

    def __init__(
        self, directory: str | Path, *, model: str | None, api: str = default("api")
    ) -> None:
        if not model:
            raise BackendError("no model configured — pass --model (replay files are keyed by it)")
        self.directory = Path(directory)
        self.model = model
        self.api = api
        if not self.directory.is_dir():
            raise BackendError(
                f"replay directory {self.directory} does not exist — pass --replay-dir"
            )

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        entry = self.entry(prompt, sampling)
        try:
            return [Completion(**c) for c in entry["completions"]]
        except (KeyError, TypeError) as exc:
            raise BackendError(
                f"{self._path(prompt, sampling)}: malformed completions ({exc})"
            ) from None

    def source(self, prompt: Prompt, sampling: Sampling) -> str:
        """Who wrote the recorded answer: its label for a fixture, else backend:model."""
        entry = self.entry(prompt, sampling)
        return str(entry.get("label") or entry["recorded_from"])

    def entry(self, prompt: Prompt, sampling: Sampling) -> dict[str, Any]:
        path = self._path(prompt, sampling)
        if not path.is_file():
            raise BackendError(
                f"no recorded response for request {path.stem} (model {self.model!r}) in "
                f"{self.directory} — record it with a real backend first"
            )
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BackendError(f"cannot read {path}: {exc}") from None
        if not isinstance(entry, dict) or "recorded_from" not in entry:
            raise BackendError(f"{path}: not a replay file (no 'recorded_from' field)")
        return entry

    def _path(self, prompt: Prompt, sampling: Sampling) -> Path:
        return self.directory / f"{request_key(self.model, prompt, sampling)}.json"


class RecordingBackend:
    """Wraps a real backend and writes every answer it gives into a replay directory."""

    def __init__(self, inner: Backend, directory: str | Path) -> None:
        self.inner = inner
        self.directory = Path(directory)
        self.name = inner.name
        self.model = inner.model
        self.api = getattr(inner, "api", default("api"))

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        completions = self.inner.generate(prompt, sampling)
        origin = f"{self.inner.name}:{self.inner.model}"
        record(self.directory, self.model, prompt, sampling, completions, recorded_from=origin)
        return completions


def _write_atomically(path: Path, text: str) -> None:
    # Written next to the target and renamed, so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
