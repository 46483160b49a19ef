"""benchmarks/gpu_check.sh refuses what it cannot run, in one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_device_other_than_cuda_or_cpu_is_refused(tmp_path: Path) -> None:
    done = run(tmp_path, GPU_CHECK_DEVICE="tpu")
    assert done.returncode == 2
    assert done.stdout.strip() == "gpu_check: GPU_CHECK_DEVICE is cuda or cpu, not 'tpu'"
    assert not (tmp_path / "out").exists()


def test_without_a_cuda_device_it_stops_before_any_step(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: the script would run every step")
    done = run(tmp_path, CUDA_VISIBLE_DEVICES="")
    assert done.returncode == 1
    last = done.stdout.strip().splitlines()[-1]
    assert last == f"gpu_check: {sys.executable} has no torch with a usable CUDA device"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["env.txt"]
