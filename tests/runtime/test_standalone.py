"""The runtime stands alone: importing any of its modules never imports the compiler, and
the compiler turns the runtime's own errors into its messages."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

import marshalike_runtime  # noqa: E402


def test_no_runtime_module_imports_the_compiler() -> None:
    names = sorted(
        f"marshalike_runtime.{m.name}" for m in pkgutil.iter_modules(marshalike_runtime.__path__)
    )
    assert "marshalike_runtime.errors" in names and len(names) > 10
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'marshalike')\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.strip() == "", f"the runtime imported {done.stdout.strip()}"


def test_a_model_file_error_becomes_the_backends_message(tmp_path: Path) -> None:
    from marshalike.backends.local import load_engine
    from marshalike.errors import BackendError

    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(BackendError) as err:
        load_engine(str(tmp_path / "model.bin"), "none")
    assert "not a .gguf file or a folder with config.json and *.safetensors" in str(err.value)
    assert str(err.value).startswith("cannot load the local model")
