"""A spec's outputs as one unit: the output folder is proved writable before any model
call, concurrent compiles of one spec are serialised, a crash between files is reported as
an interrupted write, and a failed compile leaves the last good output as it was."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI, Reply, Request

from marshalike.build import output
from marshalike.build.compiler import compile_path
from marshalike.build.output import OutputError, file_hash, spec_lock
from marshalike.build.results import CompileJob
from marshalike.cli.main import cli
from marshalike.synth.loop_settings import LoopSettings

SQUARE = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
"""
TIMES = "```python\ndef square(x):\n    return x * x\n```"
POWER = "```python\ndef square(x):\n    return x ** 2\n```"


def argv(folder: Path, server: FakeOpenAI, *extra: str) -> list[str]:
    return ["compile", str(folder / "square.mrsh"), "--backend", "openai", "--base-url",
            server.base_url, "--model", "fake-model", "--candidates", "1", "--questions", "0",
            *extra]  # fmt: skip


def compile_(folder: Path, server: FakeOpenAI, *extra: str):
    return CliRunner().invoke(cli, argv(folder, server, *extra))


def outputs(folder: Path) -> dict[str, bytes]:
    names = ("square.py", "test_square.py", "square.lock.json")
    return {name: (folder / name).read_bytes() for name in names if (folder / name).exists()}


def consistent(folder: Path) -> bool:
    """NAME.py and test_NAME.py are the files NAME.lock.json records."""
    lock = json.loads((folder / "square.lock.json").read_text())
    return all(
        file_hash((folder / name).read_text()) == lock["outputs"][name]
        for name in ("square.py", "test_square.py")
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    return tmp_path


# --- the output folder is checked before any model call ----------------------------------


# (A file given as --out is click's to refuse: the option takes folders only.)
@pytest.mark.parametrize("where", ["under a file", "/proc/self"])
def test_an_unwritable_output_folder_fails_before_any_request(folder: Path, where: str) -> None:
    (folder / "file").write_text("")
    out = folder / "file" / "out" if where == "under a file" else Path(where)
    if not out.parent.exists():
        pytest.skip("needs Linux's /proc")
    with FakeOpenAI(script=lambda request: TIMES) as server:
        result = compile_(folder, server, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"marshalike: error: cannot write to the output folder {out}: ")
    assert result.stderr.count("\n") == 1
    assert server.count == 0
    assert result.stdout == ""


def test_the_backend_is_never_made_for_an_unwritable_folder(folder: Path) -> None:
    (folder / "file").write_text("")
    asked: list[str] = []

    def factory():  # type: ignore[no-untyped-def]
        asked.append("backend")
        raise AssertionError("no backend may be made")

    job = CompileJob(factory, "scripted", "m", LoopSettings(kind="chat"), out=folder / "file")
    with pytest.raises(OutputError):
        compile_path(folder / "square.mrsh", job, lambda message: None)
    assert asked == []


# --- one compile of a spec at a time ---------------------------------------------------------


def test_two_compiles_at_once_agree_with_their_lock(folder: Path) -> None:
    answers = iter([TIMES, POWER, TIMES, POWER])

    def slow(request: Request) -> str:
        time.sleep(0.5)  # long enough for the two compiles to overlap
        return next(answers)

    with FakeOpenAI(script=slow) as server:
        runs = [
            subprocess.Popen([sys.executable, "-m", "marshalike", *argv(folder, server)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        results = [(run.wait(60), *run.communicate()) for run in runs]
    assert [status for status, _, _ in results] == [0, 0], results
    assert server.count == 1  # the second found the first one's code in the lock
    assert any("square: waiting for another compile of it to finish" in err for *_, err in results)
    assert consistent(folder)
    check = CliRunner().invoke(cli, ["check", str(folder / "square.mrsh")])
    assert check.exit_code == 0, check.output


def test_a_compile_waits_while_the_spec_is_held(folder: Path) -> None:
    with FakeOpenAI(script=lambda request: TIMES) as server:
        with spec_lock(folder, "square", lambda: None):
            run = subprocess.Popen(
                [sys.executable, "-m", "marshalike", *argv(folder, server)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(3)
            assert run.poll() is None
            assert server.count == 0
            assert not (folder / "square.py").exists()
        status = run.wait(60)
        _, err = run.communicate()
    assert status == 0, err
    assert "square: waiting for another compile of it to finish" in err
    assert consistent(folder)
    assert not (folder / ".square.marshalike.lock").exists()


# --- a crash between files --------------------------------------------------------------------


def test_an_interrupted_write_is_reported_as_such_and_a_recompile_mends_it(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace

    def crash_before_the_module(src: str, dst: Path) -> None:
        if Path(dst).name == "square.py":
            raise OSError(errno.EIO, "Input/output error", str(src), None, str(dst))
        real(src, dst)

    with FakeOpenAI(script=lambda request: TIMES) as server:
        with monkeypatch.context() as patch:
            patch.setattr(output.os, "replace", crash_before_the_module)
            result = compile_(folder, server)
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines()[-1] == (
            f"marshalike: error: cannot write {folder / 'square.py'}: input/output error"
        )
        check = CliRunner().invoke(cli, ["check", str(folder / "square.mrsh")])
        assert check.exit_code == 1
        assert check.stdout == (
            f"{folder / 'square.mrsh'}: FAILED\n"
            f"  interrupted: an interrupted write left the outputs of square.mrsh in {folder} "
            "out of step (.square.marshalike.writing is still there): recompile the spec\n"
            "1 spec checked, 1 failed\n"
        )
        assert "edited by hand" not in check.output
        asked = server.count
        result = compile_(folder, server)
        assert result.exit_code == 0, result.output
        assert server.count == asked  # the lock, written first, had the code
    assert consistent(folder)
    assert not (folder / ".square.marshalike.writing").exists()
    check = CliRunner().invoke(cli, ["check", str(folder / "square.mrsh")])
    assert check.exit_code == 0, check.output


def test_a_marker_a_crash_left_after_the_last_rename_goes_with_the_next_compile(
    folder: Path,
) -> None:
    """Killed between the last rename and the marker's removal, a compile leaves every file
    in step: the next compile, which has nothing to write, takes the marker away."""
    with FakeOpenAI(script=lambda request: TIMES) as server:
        assert compile_(folder, server).exit_code == 0
        (folder / ".square.marshalike.writing").write_text("")
        assert "interrupted" in CliRunner().invoke(cli, ["check", str(folder)]).stdout
        result = compile_(folder, server)
    assert result.exit_code == 0, result.output
    assert not (folder / ".square.marshalike.writing").exists()
    assert CliRunner().invoke(cli, ["check", str(folder)]).exit_code == 0


def test_while_a_write_is_marked_interrupted_a_hand_edit_is_still_refused(folder: Path) -> None:
    """Each file is written whole, so its own output hash holds through a crash: an edit
    made after it is one, whatever the lock says."""
    with FakeOpenAI(script=lambda request: TIMES) as server:
        assert compile_(folder, server).exit_code == 0
        (folder / ".square.marshalike.writing").write_text("")
        tests = folder / "test_square.py"
        edited = tests.read_text() + "\n\ndef test_mine():\n    assert True\n"
        tests.write_text(edited)
        refused_and_kept(folder, server, tests, edited)


def test_a_checkout_that_turned_line_endings_into_crlf_is_no_edit(folder: Path) -> None:
    with FakeOpenAI(script=lambda request: TIMES) as server:
        assert compile_(folder, server).exit_code == 0
        for name in ("square.py", "test_square.py", "square.mrsh"):
            path = folder / name
            path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        checked = CliRunner().invoke(cli, ["check", str(folder)])
        assert checked.exit_code == 0, checked.output
        asked = server.count
        result = compile_(folder, server)
        assert result.exit_code == 0, result.output
        assert server.count == asked


def test_a_best_attempt_edited_by_hand_is_not_written_over(folder: Path) -> None:
    wrong = "```python\ndef square(x):\n    return x + x\n```"
    with FakeOpenAI(script=lambda request: wrong) as server:
        assert compile_(folder, server).exit_code == 1
        attempt = folder / "square.failed.py"
        fixed = attempt.read_text().replace("return x + x", "return x * x  # my fix")
        attempt.write_text(fixed)
        refused_and_kept(folder, server, attempt, fixed)


def refused_and_kept(folder: Path, server: FakeOpenAI, path: Path, edited: str) -> None:
    """A compile refuses to write over `path`, edited by hand, and leaves it as it is."""
    result = compile_(folder, server)
    assert result.exit_code == 1, result.output
    assert f"{path.name} was edited by hand since marshalike wrote it" in result.output
    assert path.read_text() == edited


def test_the_texts_a_killed_compile_staged_go_with_the_next_write(folder: Path) -> None:
    left = [folder / ".square.py.k1ll3d_x.tmp", folder / ".square.lock.json.abcdefgh.tmp"]
    mine = folder / ".square.py.notes.tmp"  # not a name compile stages
    for path in (*left, mine):
        path.write_text("half")
    with FakeOpenAI(script=lambda request: TIMES) as server:
        assert compile_(folder, server).exit_code == 0
    assert [p.exists() for p in left] == [False, False]
    assert mine.read_text() == "half"


# --- a failed compile never clobbers the last good output ---------------------------------


def test_a_model_that_fails_leaves_the_last_good_output(folder: Path) -> None:
    with FakeOpenAI(script=lambda request: TIMES) as server:
        assert compile_(folder, server).exit_code == 0
    good = outputs(folder)
    spec = folder / "square.mrsh"
    spec.write_text(SQUARE.replace("by itself", "by itself, exactly"), encoding="utf-8")
    with FakeOpenAI(script=lambda request: Reply.error(400, "no such model")) as server:
        result = compile_(folder, server)
    assert result.exit_code != 0
    assert outputs(folder) == good


def test_a_full_disk_leaves_the_last_good_output(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(script=lambda request: TIMES) as server:
        assert compile_(folder, server).exit_code == 0
        good = outputs(folder)
        spec = folder / "square.mrsh"
        spec.write_text(SQUARE.replace("by itself", "by itself, exactly"), encoding="utf-8")
        real = output._stage

        def full(path: Path, text: str) -> str:
            if path.name == "test_square.py":
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real(path, text)

        monkeypatch.setattr(output, "_stage", full)
        result = compile_(folder, server)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"marshalike: error: cannot write {folder / 'test_square.py'}: no space left on device"
    )
    assert outputs(folder) == good
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
