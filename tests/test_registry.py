"""Backends are found by name among the installed packages' entry points (the group
`marshalike.backends`): another package's backend is a choice like the built-in ones. The
package here is a test double installed into a temporary folder on sys.path; its answers
are written for these tests, not a model's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from marshalike.backends import make_backend, registry
from marshalike.backends.local import from_options as local_factory
from marshalike.build.job import make_job
from marshalike.errors import BackendError
from marshalike.settings import backends as settings_backends
from marshalike.settings import choices, resolve

ECHO = """\
from marshalike.backends.base import Completion

ANSWER = "```python\\ndef square(x):\\n    return x * x\\n```"


class Echo:
    name = "echo"

    def __init__(self, model):
        self.model = model

    def generate(self, prompt, sampling):
        return [Completion(ANSWER, 1, 1, "stop") for _ in range(sampling.n)]


def from_options(options):
    return Echo(options.model)
"""
SQUARE = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
"""


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    settings_backends.registered.cache_clear()
    yield
    settings_backends.registered.cache_clear()


@pytest.fixture
def echo_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding an installed package `echo-backend` that registers `echo`."""
    site = tmp_path / "site"
    info = site / "echo_backend-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[marshalike.backends]\necho = echo_backend:from_options\n"
    )
    (site / "echo_backend.py").write_text(ECHO)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_the_built_in_backends_are_registered() -> None:
    assert {"local", "openai", "replay"} <= set(settings_backends.names())
    assert registry.factory("local") is local_factory


def test_another_packages_backend_is_a_choice_of_the_setting(
    echo_package: Path, tmp_path: Path
) -> None:
    assert "echo" in settings_backends.names() and "echo" in choices("backend")
    settings = resolve({"backend": "echo", "model": "echo-1"}, tmp_path)
    job = make_job(settings)
    backend = job.backend_factory()
    assert (job.backend_name, job.model_id) == ("echo", "echo-1")
    assert (backend.name, backend.model) == ("echo", "echo-1")


def test_another_packages_backend_compiles_from_the_command_line(
    echo_package: Path, tmp_path: Path
) -> None:
    (tmp_path / "square.mrsh").write_text(SQUARE)
    env = {**os.environ, "PYTHONPATH": str(echo_package)}
    args = ["compile", "square.mrsh", "--backend", "echo", "--model", "echo-1", "--attempts", "1"]
    run = subprocess.run(
        [sys.executable, "-m", "marshalike", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "return x * x" in (tmp_path / "square.py").read_text()
    assert '"backend": "echo"' in (tmp_path / "square.lock.json").read_text()


def test_an_unknown_backend_names_the_registered_ones(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as caught:
        make_backend("gpt")
    assert str(caught.value) == "unknown backend 'gpt' — choose one of local, openai, replay"


def test_without_registered_backends_the_error_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_backends, "entry_points", lambda group: ())
    with pytest.raises(BackendError) as caught:
        make_backend("local")
    assert str(caught.value) == (
        "no backends are registered, so none called 'local' — reinstall marshalike "
        "(pip install -e .) so that its entry points exist"
    )


def test_a_backend_that_cannot_be_imported_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = EntryPoint("broken", "no_such_module_here:from_options", settings_backends.GROUP)
    monkeypatch.setattr(settings_backends, "entry_points", lambda group: (broken,))
    with pytest.raises(BackendError) as caught:
        make_backend("broken")
    assert str(caught.value) == (
        "the broken backend cannot be loaded (no_such_module_here:from_options): "
        "No module named 'no_such_module_here'"
    )
