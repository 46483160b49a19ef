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
    folders and the Python installation with its site-packages, nothing else. A folder
    Python names as its own that is the home folder or holds it (an installation into
    `~`) is left out, its standard library and site-packages bound instead; the
    interpreter's file comes alone where no folder bound holds it (`interpreter`), and of
    a virtual environment's folder, only its configuration, packages and interpreter."""
    paths = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
    prefixes = {sys.base_prefix, sys.base_exec_prefix}
    installed = str(Path(sys.executable).resolve().parent.parent)
    if sys.prefix == sys.base_prefix:
        prefixes |= {sys.prefix, sys.exec_prefix, installed}
    else:
        # A virtual environment's folder may be a project's own (`python -m venv .`, its
        # `.env` beside `pyvenv.cfg`): of it, only what Python reads comes, its
        # configuration, its packages and its interpreter.
        prefixes |= {os.path.join(sys.prefix, "pyvenv.cfg"), sys.executable}
        if not _inside(installed, [sys.prefix]):
            prefixes.add(installed)
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        prefixes.add(sysconfig.get_paths()[key])
    found = sorted(p for p in paths | prefixes if p and os.path.lexists(p) and not _too_wide(p))
    # A folder inside another one on the list comes with it.
    kept: list[str] = []
    for path in found:
        if not _inside(path, kept):
            kept.append(path)
    real = str(Path(sys.executable).resolve())
    if not _inside(real, kept):
        kept.append(real)
    return kept


def interpreter() -> str:
    """The interpreter a child runs: `sys.executable` where a folder bound into the child
    holds it (a virtual environment's own, whose link finds its packages), else the file
    it links to. So a link in a home folder (`~/.local/bin/python3`) brings nothing of
    that folder into the child."""
    if sys.executable in read_only_paths() or _inside(sys.executable, read_only_paths()):
        return sys.executable
    return str(Path(sys.executable).resolve())


def _inside(path: str, folders: list[str]) -> bool:
    return any(path.startswith(k.rstrip("/") + "/") for k in folders if not os.path.islink(k))


def _too_wide(path: str) -> bool:
    """Whether binding `path` would bind the home folder (or the whole filesystem)."""
    home = os.path.realpath(os.path.expanduser("~"))
    real = os.path.realpath(path)
    return real == "/" or real == home or home.startswith(real.rstrip("/") + "/")


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
