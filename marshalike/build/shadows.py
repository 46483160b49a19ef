"""What `import NAME` runs in an output folder, beside `NAME.py`: check holds `NAME.py` to
the lock's code, but the generated tests (pytest puts their folder first on the import
path) and a user's program import the module by name, and Python prefers a package
`NAME/` or an extension module `NAME.*.so` of the folder to `NAME.py`, and reads
`__pycache__/NAME.*.pyc` in its place wherever the bytecode's header says it was
compiled from it (its size and time, its hash, or, for an unchecked one, nothing at all).
A module checked while another one runs would prove nothing: any of these is a finding,
except bytecode that is exactly what `NAME.py` compiles to.

Nor may the folder hold a module named like one installed (`statistics.py`, `uuid.py`,
`pytest.py`): with the folder first on the import path, as pytest and `python -m` put
it, the generated module's `import statistics`, the test file's helper and pytest itself
import it in the installed one's place; nor an `__init__.py`, which makes it a package
whose code pytest runs first (`stranger`)."""

from __future__ import annotations

import _imp
import importlib.machinery
import importlib.util
import marshal
import sys
from collections.abc import Collection
from pathlib import Path

from marshalike.language.files import read_regular

_HEADER = 16  # magic, flags, then the source's time and size, or its hash
_REMOVE = "; delete it (Python writes bytecode again as it needs it)"


def shadow(folder: Path, name: str, *, rewritten: bool = False) -> str | None:
    """Why `import name` in `folder` may not run `folder/name.py` as it is, or None. With
    `rewritten` (compile, before it writes `name.py` anew), bytecode that Python checks by
    the source's hash, or not at all, must be what `name.py` compiles to now, or there be
    none where there is no `name.py`: the text written next may be the one it names."""
    package = folder / name
    if package.is_dir() or package.is_symlink():
        for suffix in importlib.machinery.all_suffixes():
            if (package / f"__init__{suffix}").exists():
                return f"{package} is a package, which `import {name}` finds before {name}.py"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if (folder / f"{name}{suffix}").exists():
            return f"{folder / (name + suffix)}, an extension module, is imported before {name}.py"
    source = folder / f"{name}.py"
    try:
        cached = sorted((folder / "__pycache__").glob(f"{name}.*.pyc"))
        # (A FIFO in the source's place is refused, never waited on: `read_regular`.)
        present = bool(cached) and (source.exists() or not rewritten)
        data = read_regular(source) if present else None
    except OSError:
        return None
    for pyc in cached:
        if rewritten and (why := _hashed_problem(pyc, source, data)) is not None:
            return f"{pyc} {why}{_REMOVE}"
        if data is not None and (why := _bytecode_problem(pyc, source, data)) is not None:
            return f"{pyc} {why}{_REMOVE}"
    return None


def _hashed_problem(pyc: Path, source: Path, data: bytes | None) -> str | None:
    """Why bytecode stamped with a hash, or unchecked, may run in place of what compile
    writes to `source` next (its bytes now are `data`, None where there is none)."""
    try:
        raw = pyc.read_bytes() if pyc.is_file() else b""
    except OSError:
        return "cannot be read"
    flags = int.from_bytes(raw[4:8], "little") if len(raw) >= _HEADER else 0
    if not flags & 0b1:
        return None  # stamped with a time and size: the file written next has its own
    if data is None:
        return f"is bytecode that Python would run in place of {source.name} once written"
    levels = {"pyc": 0, "opt-1.pyc": 1, "opt-2.pyc": 2}
    level = levels.get(pyc.name[len(source.stem) + 1 :].partition(".")[2], 0)
    try:
        code = marshal.loads(raw[_HEADER:])
        made = compile(data, str(source), "exec", dont_inherit=True, optimize=level)
    except (ValueError, EOFError, TypeError, SyntaxError, RecursionError, MemoryError):
        return "is bytecode that Python would run in its place, not what it compiles to"
    return None if code == made else "is bytecode of other code, which Python runs in its place"


def _bytecode_problem(pyc: Path, source: Path, data: bytes) -> str | None:
    """Why the bytecode `pyc` may run in place of `source` (whose bytes are `data`)."""
    tag, _, rest = pyc.name[len(source.stem) + 1 :].partition(".")
    levels = {"pyc": 0, "opt-1.pyc": 1, "opt-2.pyc": 2}  # the names Python reads
    if rest not in levels:
        return None
    try:
        raw = pyc.read_bytes() if pyc.is_file() else b""
    except OSError:
        return "cannot be read"
    flags = int.from_bytes(raw[4:8], "little") if len(raw) >= _HEADER else 0
    if not flags and not _stamped_for(raw, source):
        return None  # stale: Python compiles the source again, and writes over it
    if tag != sys.implementation.cache_tag:
        return f"is bytecode of another Python ({tag}), which this check cannot read"
    if raw[:4] != importlib.util.MAGIC_NUMBER:
        return None  # not this version's: it compiles the source again
    if flags & 0b11 == 0b11 and raw[8:_HEADER] != _imp.source_hash(_RAW_MAGIC, data):
        return None  # a checked hash that does not match: compiled again
    try:
        code = marshal.loads(raw[_HEADER:])
        made = compile(data, str(source), "exec", dont_inherit=True, optimize=levels[rest])
    except (ValueError, EOFError, TypeError, SyntaxError, RecursionError, MemoryError):
        return "is bytecode that Python would run in its place, not what it compiles to"
    # Code objects compare by what they run (their file's name aside).
    return None if code == made else "is bytecode of other code, which Python runs in its place"


_RAW_MAGIC = int.from_bytes(importlib.util.MAGIC_NUMBER, "little")


def _stamped_for(raw: bytes, source: Path) -> bool:
    """Whether timestamped bytecode's header names the source's time and size as they are
    (what Python checks before it runs the bytecode)."""
    try:
        stat = source.stat()
    except OSError:
        return False
    stamp = (int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF)
    return len(raw) >= _HEADER and stamp == (
        int.from_bytes(raw[8:12], "little"),
        int.from_bytes(raw[12:16], "little"),
    )


def stranger(folder: Path, own: Collection[str]) -> str | None:
    """Why a module of `folder` other than the generated ones (`own`) would be imported in
    place of an installed module of its name, or None: a standard library module's name
    (that this Python has it or not) or one found on the import path outside `folder`."""
    path = _elsewhere(folder)
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return None
    for entry in entries:
        name = _module_name(entry)
        if name == "__init__":
            return (
                f"{entry} makes {folder} a package, whose code pytest runs before the "
                "generated tests, which it then imports by another name: move it away"
            )
        if name is None or name in own or name in sys.builtin_module_names or name in _UNUSED:
            continue
        if name in sys.stdlib_module_names or _installed(name, path) is not None:
            return (
                f"{entry} is imported in place of the installed module `{name}` wherever "
                "this folder comes first on the import path (pytest puts it first for the "
                "generated tests, `python -m` in it too): move it away"
            )
    return None


def hides_installed(folder: Path, name: str) -> str | None:
    """Why the module `name`, compiled into `folder`, would be imported there in place of
    a module installed outside it (`stranger` finds it once written), or None. Standard
    library names are the spec's own error (`name_problem`), whatever is installed."""
    if name in _UNUSED or (origin := _installed(name, _elsewhere(folder))) is None:
        return None
    return (
        f"{name}.py would be imported in place of the installed module `{name}` ({origin}) "
        "wherever its folder comes first on the import path (pytest puts it first for the "
        "generated tests, `python -m` in it too): rename the spec"
    )


def _elsewhere(folder: Path) -> list[str]:
    """The import path without `folder`, nor the working folder (which `python -m
    marshalike` puts on it and the `marshalike` command does not): where an installed
    module is found, however marshalike was started."""
    left_out = {_resolved(folder), _resolved(Path())} - {None}
    return [entry for entry in sys.path if entry and _resolved(Path(entry)) not in left_out]


# CPython's own regression tests (`test`), which no library imports: a user's `test.py`
# beside the specs hides nothing the tests or a program would import.
_UNUSED = frozenset({"test"})


def _module_name(entry: Path) -> str | None:
    """The name `import` finds `entry` by in its folder, or None where it finds none."""
    if entry.is_dir():
        suffixes = importlib.machinery.all_suffixes()
        found = any((entry / f"__init__{suffix}").exists() for suffix in suffixes)
        return entry.name if found and entry.name.isidentifier() else None
    for suffix in sorted(importlib.machinery.all_suffixes(), key=len, reverse=True):
        if entry.name.endswith(suffix):
            stem = entry.name[: -len(suffix)]
            return stem if stem.isidentifier() else None
    return None


def _installed(name: str, path: list[str]) -> str | None:
    """Where `name` is a module of code on `path`, or None: not a namespace package, a
    folder of that name some distribution left in site-packages (`tests`, `docs`), which
    holds no code for a folder's own package of that name to replace."""
    try:
        found = importlib.machinery.PathFinder.find_spec(name, path)
    except (ImportError, ValueError, OSError):
        return None
    return None if found is None else found.origin


def _resolved(path: Path) -> Path | None:
    """`path` made absolute, its links followed; None where it cannot be (a working
    folder since removed, a loop of links)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None
