"""`watch DIR` when DIR is deleted: it says so by name, waits, and picks the folder up
again when it comes back (never "watching  for changes" with an empty name)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_watch import SQUARE, Harness, Scripted

from marshalike.build.watch import _watch


def _wait(harness: Harness, ok: Callable[[list[str]], bool]) -> None:
    deadline = time.monotonic() + 30
    while not ok(list(harness.lines)):
        assert time.monotonic() < deadline, harness.lines
        time.sleep(0.05)


def test_a_deleted_folder_is_watched_again_when_it_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    harness = Harness(folder, Scripted(), folder)
    watching = threading.Thread(target=_watch, args=(harness.session, harness.stop))
    watching.start()
    try:
        _wait(harness, lambda lines: "watching specs for changes (Ctrl-C to stop)" in lines)
        shutil.rmtree(folder)
        _wait(harness, lambda lines: any("specs is gone" in line for line in lines))
        time.sleep(1.0)
        folder.mkdir()
        (folder / "square.mrsh").write_text(SQUARE.replace("itself", "itself."), "utf-8")
        _wait(
            harness, lambda lines: lines.count("watching specs for changes (Ctrl-C to stop)") == 2
        )
        _wait(harness, lambda lines: lines.count("specs/square.mrsh: compiling") == 2)
    finally:
        harness.stop.set()
        watching.join(timeout=10)
    assert not watching.is_alive()
    assert not any(
        line.startswith("watching  ") or line == "watching for" for line in harness.lines
    )
    assert "marshalike: specs is gone; waiting for it to come back" in harness.lines
