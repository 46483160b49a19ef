from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from marshalike.build import output
from marshalike.build.output import (
    OutputError,
    ensure_writable,
    interrupted,
    spec_lock,
    write_atomic,
    write_if_changed,
    write_unit,
)


def test_writes_atomically_with_a_normal_mode(tmp_path: Path) -> None:
    target = tmp_path / "out" / "m.py"
    write_atomic(target, "x = 1\n")
    assert target.read_text() == "x = 1\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["m.py"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text("good\n")

    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_write_if_changed_keeps_mtime(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    assert write_if_changed(target, "a\n")
    before = target.stat().st_mtime_ns
    assert not write_if_changed(target, "a\n")
    assert target.stat().st_mtime_ns == before
    assert write_if_changed(target, "b\n")


def test_write_unit_writes_what_changed_in_order_and_leaves_no_marker(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("same\n")
    assert write_unit(tmp_path, "m", {"a.json": "1\n", "b.py": "same\n", "c.py": "3\n"}) == (
        "a.json",
        "c.py",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.py", "c.py"]
    assert write_unit(tmp_path, "m", {"a.json": "1\n"}) == ()
    assert not interrupted(tmp_path, "m")


def test_a_file_that_cannot_be_staged_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.json", "b.py"):
        (tmp_path / name).write_text("old\n")
    real = output._stage

    def full_disk(path: Path, text: str) -> str:
        if path.name == "b.py":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)

    monkeypatch.setattr(output, "_stage", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_unit(tmp_path, "m", {"a.json": "new\n", "b.py": "new\n"})
    assert [(p.name, p.read_text()) for p in sorted(tmp_path.iterdir())] == [
        ("a.json", "old\n"),
        ("b.py", "old\n"),
    ]


def test_a_crash_between_renames_leaves_the_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed: list[str] = []
    real = os.replace

    def crash_before_the_module(src: str, dst: Path) -> None:
        if Path(dst).name == "m.py":
            raise OSError(errno.EIO, "simulated crash")
        renamed.append(Path(dst).name)
        real(src, dst)

    monkeypatch.setattr(output.os, "replace", crash_before_the_module)
    with pytest.raises(OSError):
        write_unit(tmp_path, "m", {"m.lock.json": "{}\n", "m.py": "x = 1\n"})
    assert renamed == [".m.marshalike.writing", "m.lock.json"]
    assert interrupted(tmp_path, "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.marshalike.writing", "m.lock.json"]


def test_a_folder_where_an_output_goes_is_refused_before_any_write(tmp_path: Path) -> None:
    (tmp_path / "m.py").mkdir()
    with pytest.raises(IsADirectoryError):
        write_unit(tmp_path, "m", {"m.lock.json": "{}\n", "m.py": "x = 1\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py"]


def test_the_spec_lock_excludes_a_second_holder_and_is_removed(tmp_path: Path) -> None:
    waits: list[str] = []
    with spec_lock(tmp_path, "m", lambda: waits.append("first")):
        assert [p.name for p in tmp_path.iterdir()] == [".m.marshalike.lock"]
        fd = os.open(tmp_path / ".m.marshalike.lock", os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    assert list(tmp_path.iterdir()) == []
    assert waits == []


def test_a_waiting_holder_is_told_and_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    waits: list[str] = []
    order: list[str] = []
    with spec_lock(tmp_path, "m", lambda: None):
        thread = threading.Thread(target=_hold, args=(tmp_path, waits, order))
        thread.start()
        while not waits:
            time.sleep(0.01)
        order.append("first released")
    thread.join(10)
    assert order == ["first released", "second held"]


def _hold(folder: Path, waits: list[str], order: list[str]) -> None:
    with spec_lock(folder, "m", lambda: waits.append("waiting")):
        order.append("second held")


def test_a_folder_or_a_dangling_link_where_the_spec_lock_goes_is_one_line(tmp_path: Path) -> None:
    """Neither is an internal error: the folder is named, and left as it is."""
    (tmp_path / ".m.marshalike.lock").mkdir()
    (tmp_path / ".m.marshalike.lock" / "keep").write_text("mine")
    with pytest.raises(OutputError) as caught, spec_lock(tmp_path, "m", lambda: None):
        pass
    assert str(caught.value) == (
        f"{tmp_path / '.m.marshalike.lock'} is a folder, where compile keeps the file it locks "
        "while it writes the spec's outputs: move the folder away"
    )
    assert (tmp_path / ".m.marshalike.lock" / "keep").read_text() == "mine"
    (tmp_path / ".n.marshalike.lock").symlink_to(tmp_path / "nowhere" / "x")
    with pytest.raises(OutputError) as caught, spec_lock(tmp_path, "n", lambda: None):
        pass
    assert str(caught.value) == (
        f"cannot write {tmp_path / '.n.marshalike.lock'}: no such file or directory"
    )


def test_an_output_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError) as caught:
        ensure_writable(tmp_path / "file")
    assert str(caught.value) == (
        f"cannot write to the output folder {tmp_path / 'file'}: it is not a folder"
    )


def test_an_output_folder_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError) as caught:
        ensure_writable(tmp_path / "file" / "out")
    assert str(caught.value) == (
        f"cannot write to the output folder {tmp_path / 'file' / 'out'}: Not a directory"
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_no_one_can_write_is_refused_even_for_root() -> None:
    with pytest.raises(OutputError, match=r"^cannot write to the output folder /proc/self: "):
        ensure_writable(Path("/proc/self"))


def test_a_writable_folder_is_created_and_left_empty(tmp_path: Path) -> None:
    ensure_writable(tmp_path / "new" / "out")
    assert list((tmp_path / "new" / "out").iterdir()) == []


def test_the_generated_templates_start_as_compile_expects() -> None:
    """`emit.GENERATED` is how compile recognises its own module and test files before
    overwriting them: both templates must start with it."""
    from marshalike.codegen import emit

    folder = Path(emit.__file__).parent / "templates"
    for name in ("module.py.j2", "test_module.py.j2"):
        assert (folder / name).read_text(encoding="utf-8").startswith(emit.GENERATED)


def test_a_symbolic_link_is_written_through_and_stays(tmp_path: Path) -> None:
    """The file the link leads to (through a chain of links) gets the text, whole; the
    links stay links, and no temp file is left in either folder."""
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "m.py").write_text("old\n")
    (kept / "m.py").chmod(0o640)
    middle = kept / "middle.py"
    middle.symlink_to("m.py")
    link = tmp_path / "m.py"
    link.symlink_to(middle)
    write_atomic(link, "new\n")
    assert link.is_symlink() and middle.is_symlink()
    assert os.readlink(link) == str(middle) and os.readlink(middle) == "m.py"
    assert (kept / "m.py").read_text() == "new\n"
    assert (kept / "m.py").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in kept.iterdir()) == ["m.py", "middle.py"]
    assert [p.name for p in tmp_path.iterdir() if p.name != "kept"] == ["m.py"]


def test_a_link_to_no_file_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    """A link that names no file is not followed: it could lead anywhere (a startup file
    of the user's), and nothing says the file it names is the compiler's to make."""
    link = tmp_path / "m.py"
    link.symlink_to(tmp_path / "elsewhere" / "m.py")
    with pytest.raises(OSError) as raised:
        write_atomic(link, "x = 1\n")
    assert raised.value.errno == errno.ENOENT
    assert "a symbolic link to " in str(raised.value) and "which does not exist" in str(
        raised.value
    )
    assert link.is_symlink() and not (tmp_path / "elsewhere").exists()
    with pytest.raises(OSError):
        write_unit(tmp_path, "m", {"m.lock.json": "{}\n", "m.py": "x = 1\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py"]


def test_links_that_go_round_are_an_error_and_stay(tmp_path: Path) -> None:
    (tmp_path / "a.py").symlink_to("b.py")
    (tmp_path / "b.py").symlink_to("a.py")
    with pytest.raises(OSError) as raised:
        write_atomic(tmp_path / "a.py", "x\n")
    assert raised.value.errno == errno.ELOOP
    assert (tmp_path / "a.py").is_symlink() and (tmp_path / "b.py").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]


def test_write_unit_writes_through_a_linked_output(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "m.py").write_text("old\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "m.py").symlink_to(elsewhere / "m.py")
    assert write_unit(out, "m", {"m.lock.json": "{}\n", "m.py": "new\n"}) == (
        "m.lock.json",
        "m.py",
    )
    assert (out / "m.py").is_symlink() and (elsewhere / "m.py").read_text() == "new\n"
    assert sorted(p.name for p in out.iterdir()) == ["m.lock.json", "m.py"]
    assert [p.name for p in elsewhere.iterdir()] == ["m.py"]


def test_a_text_a_killed_write_staged_beside_a_linked_file_goes_with_the_next_write(
    tmp_path: Path,
) -> None:
    """Through a link, the new text is staged beside the file the link leads to: a leftover
    there goes as one in the output folder does, and only a name staged for that file."""
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    out.mkdir()
    (elsewhere / "real.py").write_text("old\n")
    (out / "m.py").symlink_to(elsewhere / "real.py")
    left = elsewhere / ".real.py.k1ll3d_x.tmp"
    kept = [
        elsewhere / ".real.py.notes.tmp",  # not a name a write stages
        elsewhere / ".m.py.abcdefgh.tmp",  # staged for another file of that name
        elsewhere / ".other.py.abcdefgh.tmp",
    ]
    for path in (left, *kept):
        path.write_text("half")
    assert write_unit(out, "m", {"m.py": "new\n"}) == ("m.py",)
    assert (elsewhere / "real.py").read_text() == "new\n" and (out / "m.py").is_symlink()
    assert not left.exists()
    assert [path.read_text() for path in kept] == ["half"] * 3
