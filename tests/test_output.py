from __future__ import annotations

import os
from pathlib import Path

import pytest

from marshalike.output import write_atomic, write_if_changed


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
