"""Writing outputs: a reader sees the old file or the new one, never half of either.

A spec's outputs (`NAME.py`, `test_NAME.py`, `NAME.lock.json`) are written as one unit:
`spec_lock` serialises compiles of one spec into one folder (an advisory `flock` on
`.NAME.marshalike.lock`, held from reading the lock to writing it), and `writing` leaves a
marker, `.NAME.marshalike.writing`, for the time the files are out of step, so a crash
between them is reported as an interrupted write rather than as a hand edit. Where a file
written is a symbolic link, the file it leads to is written, and the link stays.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

from marshalike.codegen import emit, module_main
from marshalike.codegen.stamp import content_hash, plain_newlines, stamp_holds
from marshalike.errors import MarshalikeError
from marshalike.language.reserved import spec_name_problem
from marshalike.sandbox.channel import preloaded

try:
    import fcntl
except ImportError:  # Windows: compiles of one spec are not serialised there
    fcntl = None  # type: ignore[assignment]  # None marks its absence; callers check


class OutputError(MarshalikeError):
    """The output folder cannot be written."""

    exit_code = 2


def name_problem(module_name: str) -> str | None:
    """Why a spec cannot compile to the module `module_name`, which compile refuses and
    check reports as the spec's error: the support module's name, a dotted name, a name
    Python or pytest reads as another module, or one every sandboxed run has imported."""
    return (
        module_main.name_clash(module_name)
        or spec_name_problem(module_name)
        or preloaded(module_name)
    )


def foreign_output(folder: Path, module_name: str) -> str | None:
    """Why compile may not write the outputs of `module_name` into `folder` (the failed
    attempt `NAME.failed.py` among them): one of them
    exists, is not empty and does not start as every text compile writes there does (a
    file of someone else's, such as the module a spec was decompiled from), or was
    generated from another spec (`test_a.py`, the module of `test_a.mrsh`, where `a.mrsh`
    writes its tests). Something that is not a readable file is left to the write to
    refuse.

    A generated file's first line names its spec by file name only, so two specs of one
    name in different folders, compiled into one folder by separate runs, cannot be told
    apart here (within one run, `claim_outputs` tells them apart)."""
    # The best attempt of a failed compile (`NAME.failed.py`) is written there too.
    names = (f"{module_name}.py", f"test_{module_name}.py", f"{module_name}.failed.py")
    starts = dict.fromkeys(names, emit.GENERATED)
    starts[module_main.SUPPORT_FILE] = module_main.support_source().partition("\n")[0]
    for name in (*starts, f"{module_name}.lock.json"):
        if (odd := not_regular(folder / name)) is not None:
            raise OutputError(f"{folder / name} is not a regular file ({odd}): move it")
    for name, start in starts.items():
        try:
            raw = read_regular(folder / name, _HEADER_LIMIT)
        except OSError:
            continue
        if raw is None:
            continue
        # Bytes that are not UTF-8 are no generated file's: someone's, in another encoding.
        head = raw.decode("utf-8", errors="replace")
        if head and not head.startswith(start):  # an empty file holds nothing to lose
            return (
                f"{folder / name} exists and was not written by marshalike: move it, or "
                "compile into another folder (--out)"
            )
        other = _generated_from(head) if start == emit.GENERATED else None
        if other is not None and other not in _header_names(module_name):
            return (
                f"{folder / name} was generated from {other}, and compiling "
                f"{module_name}.mrsh would overwrite it: rename one of the specs, or compile "
                "them into different folders (--out)"
            )
    return None


def edited_output(folder: Path, module_name: str, recorded: Mapping[str, str]) -> str | None:
    """Why compile may not write the outputs of `module_name` into `folder`: one of them
    was edited by hand since compile wrote it, and writing it again would lose that edit.
    It no longer has the hash its lock records (`recorded`: file name -> sha256), or,
    where the lock records none (a lock deleted to compile from scratch, the best attempt
    `NAME.failed.py`) or cannot be trusted to (the marker of an interrupted write says the
    files were left out of step by a crash), the output hash its own header records
    (`codegen.stamp`): each file is written whole, so its own hash holds through a crash.
    Line endings do not count (a checkout may turn `\n` into `\r\n`). The support module
    is no edit where it is what compile writes today (another spec's compile, by a newer
    marshalike, may have written it), and an edit where it is not and no lock records it
    (it carries no hash of its own). A file that cannot be read is left to the write."""
    in_step = not interrupted(folder, module_name)
    names = (f"{module_name}.py", f"test_{module_name}.py", f"{module_name}.failed.py")
    for name in (*names, module_main.SUPPORT_FILE):
        wanted = recorded.get(name) if in_step else None
        text = read_output(folder / name)
        if text is False:
            continue
        support = name == module_main.SUPPORT_FILE
        if support and text == module_main.support_source():
            continue
        if support and wanted is None:
            if not in_step:
                continue  # the support module is no part of the spec's unit: not a crash's
            return (
                f"{folder / name} is not the support module this marshalike writes, and no "
                "lock records what was written there (edited by hand, or written by another "
                "version): move it away or delete it, and compile again"
            )
        if wanted is None:
            if text is None or stamp_holds(text) is False:
                return (
                    f"{folder / name} was edited by hand since marshalike wrote it (it no "
                    "longer has the output hash its header records): move the edits to the "
                    "spec, then move the file away or delete it, and compile again"
                )
            continue
        if text is not None and file_hash(text) == wanted:
            continue
        advice = (
            "move it away" if support else "move the edits to the spec, then move the file away"
        )
        return (
            f"{folder / name} was edited by hand since marshalike wrote it (it no longer has "
            f"the hash its lock records): {advice} or delete it, and compile again"
        )
    return None


def read_output(path: Path) -> str | None | Literal[False]:
    """The text of an output as compile compares it, its line endings made `\n`; None
    where it is not UTF-8 (compile writes UTF-8: someone saved it in another encoding),
    False where there is none (absent, or not a regular file: left to the write)."""
    try:
        raw = read_regular(path)
    except OSError:
        return False
    if raw is None:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return plain_newlines(text)


class NotRegularFile(OSError):
    """Something that is not a regular file stands where a file is read."""


def not_regular(path: Path) -> str | None:
    """What stands at `path` (a FIFO, a socket, a device), where it is neither a regular
    file (through any symbolic link), a folder, nor absent: reading it could block for
    ever, and no write replaces it safely."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # absent, a dangling link, or unreadable: left to the read or write
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a file"


def read_regular(path: Path, limit: int = -1) -> bytes | None:
    """The bytes of the regular file at `path` (the first line of at most `limit` bytes,
    where `limit` is given); None where nothing is there. Anything else raises OSError
    (`NotRegularFile` for a FIFO, a device or a folder), without blocking: the file is
    opened non-blocking and looked at before a byte is read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    if not regular:
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
    with os.fdopen(fd, "rb") as handle:
        return handle.readline(limit) if limit >= 0 else handle.read()


# The first line of a generated file: GENERATED, the spec's file name, _GENERATED_END.
_GENERATED_END = ". DO NOT EDIT."
_HEADER_LIMIT = 4096


def _generated_from(head: str) -> str | None:
    """The spec file name on a generated file's first line; None where it names none."""
    line = head.rstrip("\r\n")
    if not line.startswith(emit.GENERATED) or not line.endswith(_GENERATED_END):
        return None
    return line[len(emit.GENERATED) : -len(_GENERATED_END)]


def _header_names(module_name: str) -> set[str]:
    """How a generated file's first line names a spec that compiles to `module_name`: its
    file name is `NAME.mrsh`, or, for a spec read without that suffix, `NAME`."""
    return {emit.header_name(f"{module_name}.mrsh"), emit.header_name(module_name)}


def claim_outputs(
    claims: dict[Path, Path], spec: Path, folder: Path, module_name: str
) -> str | None:
    """Record that `spec` writes the outputs of `module_name` in `folder`; why not, where
    another spec in `claims` (output -> spec) writes one of them."""
    names = (f"{module_name}.py", f"test_{module_name}.py", f"{module_name}.lock.json")
    outputs = [(folder / name).resolve() for name in names]
    for output in outputs:
        other = claims.get(output)
        if other is not None and other != spec:
            return (
                f"{other} also writes {output}: rename one of the specs, or compile them "
                "into different folders"
            )
    claims.update(dict.fromkeys(outputs, spec))
    return None


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` whole: to a temp file beside it, then renamed over it. Where
    `path` is a symbolic link, the file it leads to is written so, and the link stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = through_links(path)
    tmp = _stage(target, text)
    try:
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def through_links(path: Path) -> Path:
    """Where a write to `path` lands: the file its symbolic links lead to, or `path` itself
    where it is no link. A rename over the link would put a file in its place. OSError
    where the links go round in a circle (ELOOP), or lead to no file (ENOENT): a link that
    names a file nothing wrote yet is no one's to follow out of its folder (a project's
    `square.py` linked to a startup file of the user's would have it written)."""
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():  # realpath stops where links go round
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    if not target.exists():
        said = f"a symbolic link to {target}, which does not exist: remove the link, or create it"
        raise OSError(errno.ENOENT, said, str(path))
    return target


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def file_hash(text: str) -> str:
    """The hash the lock records of an output (line endings do not count)."""
    return content_hash(text)


def write_if_changed(path: Path, text: str) -> bool:
    """Write only when the content differs, so unchanged outputs keep their mtime."""
    _refuse_non_file(path)
    if not _differs(path, text):
        return False
    write_atomic(path, text)
    return True


def ensure_writable(folder: Path) -> None:
    """Create `folder` if need be and prove a file can be made in it, before any model is
    asked for anything: permission bits say nothing for root, so this tries for real."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write to the output folder {folder}: it is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".marshalike-probe.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise OutputError(f"cannot write to the output folder {folder}: {why}") from None


def cannot_write(exc: OSError) -> str:
    """A failed write in one line: the file it was for and why."""
    target = exc.filename2 or exc.filename
    reason = exc.strerror or str(exc)
    reason = reason[:1].lower() + reason[1:]
    return f"cannot write {target}: {reason}" if target else f"cannot write the outputs: {reason}"


def lock_file(folder: Path, module_name: str) -> Path:
    return folder / f".{module_name}.marshalike.lock"


def marker_file(folder: Path, module_name: str) -> Path:
    return folder / f".{module_name}.marshalike.writing"


@contextlib.contextmanager
def spec_lock(folder: Path, module_name: str, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the spec's output lock; `on_wait` is called once if another compile holds it.
    The lock file is removed on release, so it is left behind only by a killed compile."""
    if fcntl is None:
        yield
        return
    path = lock_file(folder, module_name)
    fd = _acquire(path, on_wait)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: see _acquire
        os.close(fd)  # closing releases the flock


def _acquire(path: Path, on_wait: Callable[[], None]) -> int:
    told = False
    while True:
        fd = _open_lock(path)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not told:
                    on_wait()
                    told = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            # The compile before us removes the file as it finishes; if it did so after we
            # opened it, we hold a lock on a file no later compile will open: try again.
            if _same_file(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _open_lock(path: Path) -> int:
    """The output lock's file, opened (made where there is none); OutputError where it
    cannot be: a folder in its place, or a link that leads nowhere."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except IsADirectoryError:
        raise OutputError(
            f"{path} is a folder, where compile keeps the file it locks while it writes the "
            "spec's outputs: move the folder away"
        ) from None
    except OSError as exc:
        raise OutputError(cannot_write(exc)) from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def write_unit(folder: Path, module_name: str, files: Mapping[str, str]) -> tuple[str, ...]:
    """Write the files (name -> text) that differ from what is on disk, as one unit.

    Every new text is first written in full beside its target, so a full disk or a
    permission error changes nothing; then the marker, the renames in the given order, and
    the marker's removal. A file that is a symbolic link is written through it (staged
    beside the file it leads to). Returns the names written (none, where every file is
    already what it would be: a marker left there then goes)."""
    _clear_staged(folder, [name for name in files if name != module_main.SUPPORT_FILE])
    changed = {name: text for name, text in files.items() if _differs(folder / name, text)}
    if not changed:
        # The files are what this compile writes, so they are in step: a marker a crash
        # left after the last rename says otherwise no longer.
        marker_file(folder, module_name).unlink(missing_ok=True)
        return ()
    for name in changed:
        _refuse_non_file(folder / name)
    staged: dict[str, str] = {}
    targets = {name: through_links(folder / name) for name in changed}  # links stay
    try:
        for name, text in changed.items():
            staged[name] = _stage(targets[name], text)
        with writing(folder, module_name):
            for name, tmp in staged.items():
                os.replace(tmp, targets[name])
    finally:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)
    return tuple(changed)


def _differs(path: Path, text: str) -> bool:
    try:
        raw = read_regular(path)
    except OSError:
        return True
    return raw is None or raw != text.encode("utf-8")


def _refuse_non_file(path: Path) -> None:
    """A folder (or anything but a file) where an output goes: refused before any write."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
        raise OSError(errno.EEXIST, "exists and is not a regular file", str(path))


def _clear_staged(folder: Path, names: Sequence[str]) -> None:
    """Remove the texts a killed compile staged for `names` and never renamed (`_stage`'s
    temp files), beside each output and, where it is a symbolic link, beside the file it
    leads to, where the text was staged: the spec's output lock is held, so no other
    compile of it is staging them. (The support module, which every spec of the folder
    writes, is left out. Another spec's output linked to the same file is not: a compile
    of it staging there now would fail at its rename, and say so.)"""
    for name in names:
        _clear_staged_for(folder / name)
        try:
            target = through_links(folder / name)
        except OSError:
            continue  # a link that leads nowhere: left to the write to refuse
        if target != folder / name:
            _clear_staged_for(target)


def _clear_staged_for(path: Path) -> None:
    staged = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    for found in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if staged.fullmatch(found.name):
            found.unlink(missing_ok=True)


def _stage(path: Path, text: str) -> str:
    """`text` written and synced to a temp file beside `path`; returns the temp file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; give it the mode a plain open() would have.
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


@contextlib.contextmanager
def writing(folder: Path, module_name: str) -> Iterator[None]:
    """Mark the spec's outputs as being written; the marker stays if the block fails."""
    marker = marker_file(folder, module_name)
    write_atomic(marker, "marshalike is writing these outputs; if this file stays, recompile\n")
    yield
    marker.unlink(missing_ok=True)


def interrupted(folder: Path, module_name: str) -> bool:
    return marker_file(folder, module_name).exists()
