"""What a sandboxed child can see of this machine's files: the folders bound read-only into
its root, and whether the Python installation is usable by another user (the fallback that
drops to an unprivileged user without namespaces needs that)."""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from pathlib import Path


@functools.cache
def read_only_paths() -> list[str]:
    """What the child's filesystem holds besides its own folder: the system's program
    folders and the Python installation with its site-packages, nothing else."""
    paths = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    executable = Path(sys.executable)
    prefixes |= {str(executable.parent.parent), str(executable.resolve().parent.parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        prefixes.add(sysconfig.get_paths()[key])
    found = sorted(p for p in paths | prefixes if p and os.path.lexists(p))
    # A folder inside another one on the list comes with it.
    kept: list[str] = []
    for path in found:
        if not any(path.startswith(k.rstrip("/") + "/") for k in kept if not os.path.islink(k)):
            kept.append(path)
    return kept


def python_readable_by_others() -> bool:
    """Whether another user can run this interpreter: every folder on the way to it and to
    its standard library is searchable by others."""
    for path in (Path(sys.executable).resolve(), Path(sysconfig.get_paths()["stdlib"])):
        for folder in [path, *path.parents]:
            try:
                mode = folder.stat().st_mode
            except OSError:
                return False
            if not mode & 0o001 and folder.is_dir():
                return False
    return True
