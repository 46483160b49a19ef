"""A working folder deleted under the shell: every command says so in one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from marshalike.errors import ConfigError
from marshalike.settings import sources


@pytest.mark.parametrize(
    "args", [["config"], ["check", "."], ["compile", "."], ["watch", "."], ["init"]]
)
def test_a_deleted_working_folder_is_one_line(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "g").mkdir()
    script = 'cd g && rmdir ../g && exec "$0" -m marshalike "$@"'
    done = subprocess.run(
        ["sh", "-c", script, sys.executable, *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == "marshalike: error: the working folder no longer exists\n"


def test_resolve_says_the_working_folder_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    def gone() -> Path:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(sources.Path, "cwd", staticmethod(gone))
    with pytest.raises(ConfigError, match="^the working folder no longer exists$"):
        sources.resolve({})
