"""What this machine offers the runtime, found without importing torch.

The compiler decides the local backend's weight format (`quant = "auto"`) before it knows
whether any unit needs the model, and a compile whose units are all locked must stay fast,
so nothing here imports torch or builds anything: it reads torch's `version.py`, looks for a
GPU driver, and looks for a C compiler on PATH.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path


def c_compiler() -> str | None:
    """The C compiler our kernels are built with: `$CC`, else `cc`, `gcc` or `clang`."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and (found := shutil.which(name)):
            return found
    return None


def gpu_likely() -> bool:
    """Whether torch would find a GPU here (the engine then runs in bf16 on it): torch must
    be a CUDA or ROCm build and, on Linux, the GPU's driver must be loaded."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    version = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version.read_text(encoding="utf-8")
    except OSError:
        return False
    builds = {
        key: value.strip().strip("'\"")
        for key, value in re.findall(r"^(cuda|hip)\b[^=\n]*=\s*(.+)$", text, re.MULTILINE)
    }
    cuda, hip = builds.get("cuda", "None") != "None", builds.get("hip", "None") != "None"
    if not sys.platform.startswith("linux"):
        return cuda or hip
    return (cuda and Path("/proc/driver/nvidia/version").exists()) or (
        hip and Path("/dev/kfd").exists()
    )


def auto_quant() -> str:
    """The weight format `quant = "auto"` means here: the quantized CPU mode where decoding
    runs on a CPU and our kernels can be built (it decodes several times faster than fp32),
    else the checkpoint's own (fp32 on a CPU, bf16 on a GPU)."""
    return "int4" if not gpu_likely() and c_compiler() is not None else "none"
