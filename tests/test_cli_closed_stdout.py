"""A reader of stdout that goes away early (`marshalike config | head -1`): every command
ends quietly with status 1, no traceback and no "internal error"; `init` finishes its
writes before it prints what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = "# func double(x: int): int\n\nTwice x.\n\n* double(1) = 2\n* double(3) = 6\n"
PYTHON = 'def double(x: int) -> int:\n    """Twice x.\n\n    >>> double(2)\n    4\n    """\n'
OFFLINE = ["--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]


def closed_stdout(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """`marshalike ARGS` in `folder` with a stdout whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder / "home"),
        "MARSHALIKE_CACHE_DIR": str(folder / "cache"),
    }
    try:
        return subprocess.run(
            [sys.executable, "-m", "marshalike", *args],
            cwd=folder, stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ["config"],
        ["config", "--reference"],
        ["parse", "double.mrsh"],
        ["parse", "--json", "double.mrsh"],
        ["check", "double.mrsh"],
        ["check", "--format", "junit", "double.mrsh"],
        ["compile", "--frozen", "-q", "double.mrsh", *OFFLINE],
        ["compile", "--frozen", "-q", "--format", "json", "double.mrsh", *OFFLINE],
        ["cache"],
        ["models", "list"],
        ["decompile", "double_code.py"],
        ["--help"],
    ],
    ids=lambda args: " ".join(args[:4]),
)
def test_a_closed_stdout_ends_quietly(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "double.mrsh").write_text(SPEC, encoding="utf-8")
    (tmp_path / "double_code.py").write_text(PYTHON + "    return 2 * x\n", encoding="utf-8")
    done = closed_stdout(args, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


def test_init_finishes_its_writes_before_it_prints(tmp_path: Path) -> None:
    done = closed_stdout(["init", "project", "--source", "git+https://x/o/m@c"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr
    project = tmp_path / "project"
    assert (project / "pyproject.toml").is_file()
    assert (project / ".pre-commit-config.yaml").is_file()
    assert (project / ".github" / "workflows").is_dir()
    assert list(project.glob("**/*.mrsh"))
