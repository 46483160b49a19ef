"""Ctrl-C (SIGINT) in a command that runs to its end: "marshalike: interrupted" and exit
status 130 within a moment (README, "Exit status"), with a model answer or a sandboxed run
still in flight, and nothing half-written left in the output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Request

from marshalike.build.output import write_atomic
from marshalike.cli import interrupt

SPEC = "# func square(n: int): int\n\nn times n.\n\n* square(2) = 4\n"
LOOPS = "```python\ndef square(n):\n    while True:\n        pass\n```"
SLOW = "```python\ndef square(n):\n    import time\n    time.sleep(2)\n    return n * n\n```"
PROMPTLY_S = 5.0  # the bound asserted; it takes a fraction of a second (300 s before)


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARSHALIKE_", "OPENAI_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "marshalike", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupted(
    process: subprocess.Popen[str], signum: int = signal.SIGINT
) -> tuple[float, str, str]:
    """SIGINT to the process: the seconds it took to end, its stdout and its stderr."""
    sent = time.monotonic()
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return time.monotonic() - sent, out, err


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, which no one may reap here, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def sandboxed_runs(pid: int) -> list[int]:
    """The children of `pid` that lead a process group: its sandboxed runs."""
    found = []
    for child in interrupt._children(pid):
        try:
            if os.getpgid(child) == child:
                found.append(child)
        except OSError:
            pass
    return found


@pytest.fixture
def held() -> Iterator[tuple[FakeOpenAI, threading.Event]]:
    """A server whose answers wait until the event is set (at the end of the test at the
    latest), and the event set as the first request arrives."""
    asked, release = threading.Event(), threading.Event()

    def script(request: Request) -> str:
        asked.set()
        release.wait(120)
        return "```python\ndef square(n):\n    return n * n\n```"

    with FakeOpenAI(script) as server:
        try:
            yield server, asked
        finally:
            release.set()


def compile_args(server: FakeOpenAI, *more: str) -> list[str]:
    backend = ["--backend", "openai", "--model", "fake-model", "--base-url", server.base_url]
    return ["compile", "square.mrsh", *backend, "--no-progress", *more]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGINT to a child, /proc")
def test_ctrl_c_while_a_model_answer_is_awaited_exits_130_at_once(
    tmp_path: Path, held: tuple[FakeOpenAI, threading.Event]
) -> None:
    server, asked = held
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    process = start(compile_args(server), tmp_path)
    assert asked.wait(60), process.communicate(timeout=60)
    took, out, err = interrupted(process)
    assert process.returncode == 130, err
    assert took < PROMPTLY_S
    assert err.endswith("\nmarshalike: interrupted\n") and "Aborted" not in err
    assert out == ""
    # No output, no staged temp file, no spec lock left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["square.mrsh"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGINT to a child, /proc")
def test_ctrl_c_during_a_sandboxed_run_kills_the_run_and_exits_130(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = lambda request: LOOPS  # each example run lasts until its timeout
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    process = start(compile_args(fake_openai, "--timeout", "60", "--quick"), tmp_path)
    asked = lambda: fake_openai.count > 0 and bool(sandboxed_runs(process.pid))  # noqa: E731
    wait_for(asked, "ran the candidate")
    runs = sandboxed_runs(process.pid)
    took, out, err = interrupted(process)
    assert process.returncode == 130, err
    assert took < PROMPTLY_S
    assert err.endswith("marshalike: interrupted\n")
    wait_for(lambda: not any(alive(run) for run in runs), "stopped the sandboxed run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["square.mrsh"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGINT to a child, /proc")
def test_ctrl_c_during_check_exits_130_and_leaves_the_outputs_as_they_were(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = lambda request: SLOW  # each example run takes 2 s
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    compiled = start(compile_args(fake_openai, "--quick", "--questions", "0"), tmp_path)
    assert compiled.wait(120) == 0, compiled.communicate()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    process = start(["check", "square.mrsh"], tmp_path)
    wait_for(lambda: bool(sandboxed_runs(process.pid)), "ran the tests")
    took, _, err = interrupted(process)
    assert process.returncode == 130, err
    assert took < PROMPTLY_S
    assert err.endswith("marshalike: interrupted\n")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGINT to a child, /proc")
def test_ctrl_c_during_decompile_exits_130_and_writes_no_spec(tmp_path: Path) -> None:
    source = 'def spin(n: int) -> int:\n    """Spin."""\n    while True:\n        pass\n'
    (tmp_path / "spin.py").write_text(source, encoding="utf-8")
    process = start(["decompile", "spin.py", "--no-model"], tmp_path)
    wait_for(lambda: bool(sandboxed_runs(process.pid)), "ran the function")
    took, _, err = interrupted(process)
    assert process.returncode == 130, err
    assert took < PROMPTLY_S
    assert err.endswith("marshalike: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spin.py"]


def test_a_write_in_progress_finishes_and_the_next_wait_is_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interrupt, "_GRACE_S", 600.0)  # never ends the test's own process
    real_fsync = os.fsync
    answered = threading.Event()

    def fsync_while_interrupted(fd: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the write
        time.sleep(0.05)
        real_fsync(fd)

    target = tmp_path / "module.py"
    with interrupt.handled():
        monkeypatch.setattr(os, "fsync", fsync_while_interrupted)
        write_atomic(target, "x = 1\n")
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert interrupt.requested()
        stop = interrupt.cancel()
        assert stop is not None and stop.is_set()
        # A wait on workers (a model call, say) is cut short.
        started = time.monotonic()
        try:
            with pytest.raises(KeyboardInterrupt), ThreadPoolExecutor(1) as pool:
                pool.submit(answered.wait, 60).result()
        finally:
            answered.set()
        assert time.monotonic() - started < PROMPTLY_S
    assert target.read_text(encoding="utf-8") == "x = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["module.py"]
    assert not interrupt.requested()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGTERM to a child, /proc")
def test_sigterm_while_a_model_answer_is_awaited_ends_the_same_way(
    tmp_path: Path, held: tuple[FakeOpenAI, threading.Event]
) -> None:
    """A CI runner, docker or systemd stops a job with SIGTERM: the compile's spec lock and
    staged files go as they do on Ctrl-C (they were left behind)."""
    server, asked = held
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    process = start(compile_args(server), tmp_path)
    assert asked.wait(60), process.communicate(timeout=60)
    took, out, err = interrupted(process, signal.SIGTERM)
    assert process.returncode == 130, err
    assert took < PROMPTLY_S
    assert err.endswith("\nmarshalike: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["square.mrsh"]
