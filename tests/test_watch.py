"""Watch mode: the change -> action decisions with a scripted in-process backend (no file
watcher, no sandbox: `quick` jobs skip verification), then one real `marshalike watch`
subprocess against the fake OpenAI server. The scripted answers are test doubles written
for these tests, not a model's output."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI, Request

from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.build.results import CompileJob, SpecReport
from marshalike.build.watch import Batch, Session, _watch, describe, run
from marshalike.cli.main import cli
from marshalike.errors import BackendError
from marshalike.synth.loop import UnitOutcome
from marshalike.synth.loop_settings import LoopSettings

SQUARE = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
"""

QUAD = """\
# use square.mrsh

# func quad(an integer): the number to the fourth power

Square the square.

* quad(2) = 16
"""

OCTO = """\
# use quad.mrsh

# func octo(an integer): the number to the eighth power

Multiply the fourth power by itself.

* octo(2) = 256
"""

OLDEST = """\
# type Person people.csv

# func oldest(list of Person): the name of the oldest person

Pick the person with the largest age.

* oldest([Person('Ann', 30), Person('Bob', 40)]) = 'Bob'
"""

CODE = {
    "octo": "def octo(x):\n    return quad(x) * quad(x)\n",
    "square": "def square(x):\n    return x * x\n",
    "quad": "def quad(x):\n    return square(square(x))\n",
    "oldest": "def oldest(people):\n    return max(people, key=lambda p: p.age).name\n",
}


class Scripted:
    """Answers with the code of the function the prompt asks for; counts calls."""

    name = "scripted"
    model = "scripted-model"

    def __init__(self, before: Callable[[], None] = lambda: None) -> None:
        self.calls = 0
        self.before = before

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        self.calls += 1
        self.before()
        asked = prompt.messages[-1][1]
        name = next(n for n in CODE if f"`{n}`" in asked)
        text = f"```python\n{CODE[name]}```"
        return [Completion(text, 1, 1, "stop")] * sampling.n


# quick: one candidate, one attempt, no probe gate: a compile is one sandboxed run
QUICK = LoopSettings(kind="chat", candidates=1, attempts=1, quick=True, jobs=1)


class Harness:
    """A session on a folder with the scripted backend; its status lines in `lines`."""

    def __init__(self, folder: Path, backend: Scripted, *paths: Path) -> None:
        self.folder = folder
        self.backend = backend
        self.created = 0
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.job = CompileJob(self._factory, "scripted", "scripted-model", QUICK)
        self.session = Session(paths or (folder,), self.job, self.lines.append, self.stop)

    def _factory(self) -> Scripted:
        self.created += 1
        return self.backend

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def take(self) -> list[str]:
        lines, self.lines[:] = list(self.lines), []
        return lines


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.chdir(tmp_path)  # status lines show paths relative to the working folder
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    yield Harness(tmp_path, Scripted())


def test_first_batch_compiles_every_spec_with_one_backend(harness: Harness) -> None:
    harness.write("quad.mrsh", QUAD)
    batch = harness.session.apply(harness.session.unseen())
    assert batch == Batch(compile=(harness.folder / "square.mrsh", harness.folder / "quad.mrsh"))
    assert harness.take() == [
        "square.mrsh: compiling",
        "  square.square: compiling",
        "  square.square: verified",
        "square.mrsh: ok (wrote square.py, test_square.py, _marshalike_main.py)",
        "quad.mrsh: compiling",
        "  quad.quad: compiling",
        "  quad.quad: verified",
        "quad.mrsh: ok (wrote quad.py, test_quad.py)",
    ]
    assert (harness.created, harness.backend.calls) == (1, 2)
    assert "return square(square(x))" in (harness.folder / "quad.py").read_text()
    assert harness.session.unseen() == set()


def test_quiet_says_each_specs_outcome_without_its_progress(harness: Harness) -> None:
    quiet = Session((harness.folder,), harness.job, harness.lines.append, harness.stop, quiet=True)
    harness.write("broken.mrsh", QUAD.replace("quad(2) = 16", "quad(2) = 16)"))
    quiet.apply(quiet.unseen())
    lines = harness.take()
    assert lines[0] == "square.mrsh: ok (wrote square.py, test_square.py, _marshalike_main.py)"
    assert lines[1] == "broken.mrsh: failed: quad did not pass; best attempt in broken.failed.py"
    assert all(line.startswith("    quad: ") for line in lines[2:])  # why, as without -q
    assert not any("compiling" in line for line in lines)


def test_an_unchanged_spec_recompiles_without_a_model_call(harness: Harness) -> None:
    harness.session.apply(harness.session.unseen())
    mtime = (harness.folder / "square.py").stat().st_mtime_ns
    harness.take()
    harness.session.apply({harness.folder / "square.mrsh"})
    assert harness.take() == [
        "square.mrsh: compiling",
        "square.mrsh: ok (outputs unchanged)",
    ]
    assert (harness.created, harness.backend.calls) == (1, 1)
    assert (harness.folder / "square.py").stat().st_mtime_ns == mtime


def test_generated_and_editor_files_trigger_nothing(harness: Harness) -> None:
    harness.session.apply(harness.session.unseen())
    (harness.folder / "square.failed.py").write_text("x = 1\n")
    (harness.folder / ".square.py.abc123.tmp").write_text("x = 1\n")
    (harness.folder / "square.mrsh~").write_text(SQUARE)
    harness.write("__pycache__/cached.mrsh", SQUARE)
    noise = ["square.py", "test_square.py", "square.lock.json", "square.failed.py",
             ".square.py.abc123.tmp", "square.mrsh~", ".#square.mrsh", "__pycache__/cached.mrsh",
             "__pycache__"]  # fmt: skip
    paths = {harness.folder / name for name in noise}
    assert harness.session.plan(paths) == Batch()
    assert [n for n in noise if harness.session.accepts(None, str(harness.folder / n))] == []
    assert harness.session.accepts(None, str(harness.folder / "square.mrsh"))


def test_an_editor_save_dance_is_one_compile(harness: Harness) -> None:
    harness.session.apply(harness.session.unseen())
    square = harness.folder / "square.mrsh"
    # vim: the spec renamed to a backup, a new spec written, the backup removed
    dance = {square, harness.folder / "square.mrsh~", harness.folder / "4913"}
    assert harness.session.plan(dance) == Batch(compile=(square,))


def test_a_changed_csv_recompiles_the_specs_whose_types_read_it(harness: Harness) -> None:
    harness.write("people.csv", "name, age\nAnn, 30\n")
    harness.write("other.csv", "a, b\n1, 2\n")
    people = harness.write("people.mrsh", OLDEST)
    harness.session.apply(harness.session.unseen())
    csv = harness.folder / "people.csv"
    assert harness.session.accepts(None, str(csv))
    assert harness.session.plan({csv}) == Batch(compile=(people,))
    assert harness.session.plan({harness.folder / "other.csv"}) == Batch()
    csv.unlink()
    harness.take()
    harness.session.apply({csv})
    lines = harness.take()
    assert lines[:2] == [
        "people.mrsh: compiling",
        "people.mrsh: failed: 1 error in the spec; last good output kept",
    ]
    assert "error[M031]: cannot find CSV file 'people.csv' of type 'Person'" in lines[2]
    assert (harness.folder / "people.py").exists()


def test_a_changed_used_spec_recompiles_its_users_after_it(harness: Harness) -> None:
    quad = harness.write("quad.mrsh", QUAD)
    harness.session.apply(harness.session.unseen())
    square = harness.folder / "square.mrsh"
    assert harness.session.plan({square}) == Batch(compile=(square, quad))
    assert harness.session.plan({quad}) == Batch(compile=(quad,))


def test_a_changed_spec_recompiles_the_users_of_its_users(harness: Harness) -> None:
    quad = harness.write("quad.mrsh", QUAD)
    octo = harness.write("octo.mrsh", OCTO)
    harness.session.apply(harness.session.unseen())
    assert harness.take()[-1] == "octo.mrsh: ok (wrote octo.py, test_octo.py)"
    square = harness.folder / "square.mrsh"
    assert harness.session.plan({square}) == Batch(compile=(square, quad, octo))


def test_a_user_of_a_broken_spec_says_why_it_was_not_compiled(harness: Harness) -> None:
    quad = harness.write("quad.mrsh", QUAD)
    harness.session.apply(harness.session.unseen())
    square = harness.folder / "square.mrsh"
    square.write_text(SQUARE.replace("(an integer)", "(an integer: x"), encoding="utf-8")
    harness.take()
    assert harness.session.apply({square}) == Batch(compile=(square, quad))
    lines = harness.take()
    assert lines[:2] == [
        "square.mrsh: compiling",
        "square.mrsh: failed: 1 error in the spec; last good output kept",
    ]
    assert lines[3:5] == [
        "quad.mrsh: compiling",
        "quad.mrsh: failed: 1 error in the spec; last good output kept",
    ]
    # the error first; warnings about the spec itself (M026: few examples) may follow
    assert lines[5:][0].startswith(
        "quad.mrsh:1:1: error[M036]: used spec 'square.mrsh' has 1 syntax error\n"
        "    # use square.mrsh\n"
        "    ^^^^^^^^^^^^^^^^^\n"
        "  hint: run `marshalike parse square.mrsh` to see them"
    )
    assert len(lines) == 6


def test_a_syntax_error_keeps_the_last_good_output_until_it_is_fixed(harness: Harness) -> None:
    square = harness.folder / "square.mrsh"
    harness.session.apply(harness.session.unseen())
    good = (harness.folder / "square.py").read_bytes()
    harness.take()
    square.write_text(SQUARE.replace("(an integer)", "(an integer: x"), encoding="utf-8")
    harness.session.apply({square})
    assert harness.take() == [
        "square.mrsh: compiling",
        "square.mrsh: failed: 1 error in the spec; last good output kept",
        "square.mrsh:1:25: error[M001]: unexpected ':' in the parameters\n"
        "    # func square(an integer: x: its square\n"
        "                            ^\n"
        "  hint: a parameter name is one word: 'name: type'",
    ]
    assert (harness.folder / "square.py").read_bytes() == good
    square.write_text(SQUARE.replace("by itself", "by itself once"), encoding="utf-8")
    harness.session.apply({square})
    fixed = "square.mrsh: ok (wrote square.py, test_square.py)"
    assert harness.take()[-1] == fixed
    assert harness.backend.calls == 2  # the description changed, so the unit's key did


def test_deleted_specs_are_reported_and_their_outputs_left_alone(harness: Harness) -> None:
    harness.write("sub/a.mrsh", SQUARE)
    harness.write("sub/b.mrsh", SQUARE)
    harness.session.apply(harness.session.unseen())
    harness.take()
    (harness.folder / "square.mrsh").unlink()
    assert harness.session.plan({harness.folder / "square.mrsh"}) == Batch(
        deleted=(harness.folder / "square.mrsh",)
    )
    for name in ("a", "b"):
        (harness.folder / f"sub/{name}.mrsh").unlink()
    (harness.folder / "sub/b.py").unlink()
    (harness.folder / "sub/test_b.py").unlink()
    (harness.folder / "sub/b.lock.json").unlink()
    (harness.folder / "sub").rename(harness.folder / "gone")
    harness.session.apply({harness.folder / "square.mrsh", harness.folder / "sub"})
    assert harness.take() == [
        "square.mrsh: deleted; its outputs are left as they are",
        f"{Path('sub/a.mrsh')}: deleted; its outputs are left as they are",
        f"{Path('sub/b.mrsh')}: deleted; its outputs are left as they are",
    ]
    assert (harness.folder / "square.py").exists() and (harness.folder / "gone/a.py").exists()
    assert harness.session.unseen() == set()


def test_new_specs_are_picked_up_even_in_a_new_folder(harness: Harness) -> None:
    harness.session.apply(harness.session.unseen())
    new = harness.write("deep/er/new.mrsh", SQUARE)
    assert harness.session.plan({harness.folder / "deep"}) == Batch(compile=(new,))
    assert harness.session.plan({new}) == Batch(compile=(new,))
    assert harness.session.unseen() == {new}
    harness.session.apply({harness.folder / "deep"})
    # a folder's own event recompiles nothing that is already compiled as it is
    assert harness.session.plan({harness.folder, harness.folder / "deep"}) == Batch()


def test_a_watched_file_ignores_its_neighbours(tmp_path: Path) -> None:
    square = tmp_path / "square.mrsh"
    square.write_text(SQUARE, encoding="utf-8")
    other = tmp_path / "other.mrsh"
    other.write_text(SQUARE, encoding="utf-8")
    harness = Harness(tmp_path, Scripted(), square)
    assert harness.session.specs() == [square]
    assert harness.session.plan({other, square}) == Batch(compile=(square,))
    assert harness.session.roots() == (tmp_path,)


def test_roots_include_the_folders_of_files_read_from_outside(tmp_path: Path) -> None:
    project, data = tmp_path / "project", tmp_path / "data"
    data.mkdir()
    project.mkdir()
    (data / "people.csv").write_text("name, age\nAnn, 30\n", encoding="utf-8")
    harness = Harness(project, Scripted())
    harness.write("people.mrsh", OLDEST.replace("people.csv", "../data/people.csv"))
    assert harness.session.roots() == (project,)
    harness.session.apply(harness.session.unseen())
    assert harness.session.roots() == (data, project)
    assert harness.session.plan({data / "people.csv"}).compile == (project / "people.mrsh",)


def test_a_backend_error_is_a_status_line_and_the_session_goes_on(harness: Harness) -> None:
    def refuse() -> None:
        if harness.backend.calls == 1:
            raise BackendError("the server answered 503")

    harness.backend.before = refuse
    harness.write("zz.mrsh", SQUARE)
    harness.session.apply(harness.session.unseen())
    assert harness.take() == [
        "square.mrsh: compiling",
        "  square.square: compiling",
        "square.mrsh: failed: the server answered 503",
        "zz.mrsh: compiling",
        "  zz.square: compiling",
        "  zz.square: verified",
        "zz.mrsh: ok (wrote zz.py, test_zz.py, _marshalike_main.py)",
    ]
    assert harness.session.unseen() == {harness.folder / "square.mrsh"}


def test_an_unwritable_output_is_a_status_line_and_leaves_no_temp_file(
    harness: Harness,
) -> None:
    (harness.folder / "square.py").mkdir()
    harness.session.apply(harness.session.unseen())
    assert harness.take()[-1] == "square.mrsh: failed: cannot write square.py: is a directory"
    assert sorted(p.name for p in harness.folder.iterdir()) == ["square.mrsh", "square.py"]
    assert harness.session.unseen() == {harness.folder / "square.mrsh"}


def test_describe_says_why_a_spec_was_not_compiled() -> None:
    report = SpecReport("quad.mrsh", QUAD, problem="the used spec square.mrsh did not compile")
    assert describe(report, "quad.mrsh") == [
        "quad.mrsh: failed: the used spec square.mrsh did not compile"
    ]


def test_describe_lists_the_failed_functions_and_why() -> None:
    unit = UnitOutcome("square", "failed", None, 3, 12, 2, 0, 0, 1.0, failures=("a", "b"))
    report = SpecReport("square.mrsh", SQUARE, units=(unit,), failed_file="square.failed.py")
    assert describe(report, "square.mrsh") == [
        "square.mrsh: failed: square did not pass; best attempt in square.failed.py",
        "    square: a",
        "    square: b",
    ]


def test_describe_lists_the_questions_a_compiled_spec_left_open() -> None:
    from marshalike.gate.questions import Question, Reply

    asked = Question("square(0)", (Reply("0", 2, "0"), Reply("5", 1, "5")))
    unit = UnitOutcome("square", "verified", "code", 1, 4, 2, 0, 0, 1.0, questions=(asked,))
    report = SpecReport("square.mrsh", SQUARE, units=(unit,), written=("square.py",))
    assert describe(report, "square.mrsh") == [
        "square.mrsh: ok (wrote square.py)",
        "    square: question: `square(0)`: `0` (2 candidates) or `5` (1 candidate)",
    ]


# --- cancelling a running compile --------------------------------------------------------

CANCELLED = "square.mrsh: cancelled by a newer change; its outputs are left as they were"


def test_a_newer_edit_cancels_the_compile_and_the_next_batch_redoes_the_rest(
    harness: Harness,
) -> None:
    square = harness.folder / "square.mrsh"
    later = harness.write("zz.mrsh", SQUARE)

    def save_while_compiling() -> None:
        if harness.backend.calls == 1:
            square.write_text(SQUARE.replace("by itself", "by itself once"), encoding="utf-8")
            harness.session.notice({square})  # what the watcher thread does on a change

    harness.backend.before = save_while_compiling
    harness.session.apply(harness.session.unseen())
    assert harness.take() == ["square.mrsh: compiling", "  square.square: compiling", CANCELLED]
    assert sorted(p.name for p in harness.folder.iterdir()) == ["square.mrsh", "zz.mrsh"]
    assert harness.session.carried == {square, later}
    assert harness.session.apply({square}) == Batch(compile=(square, later))
    assert harness.take()[3::4] == [
        "square.mrsh: ok (wrote square.py, test_square.py, _marshalike_main.py)",
        "zz.mrsh: ok (wrote zz.py, test_zz.py)",
    ]
    assert harness.session.unseen() == set()  # compiled as the spec reads now
    assert harness.session.carried == set()


def test_a_changed_csv_the_spec_reads_cancels_its_compile(harness: Harness) -> None:
    csv = harness.write("people.csv", "name, age\nAnn, 30\n")
    harness.write("people.mrsh", OLDEST)
    (harness.folder / "square.mrsh").unlink()
    harness.backend.before = lambda: harness.session.notice({csv})
    harness.session.apply(harness.session.unseen())
    assert harness.take()[-1] == CANCELLED.replace("square", "people")


def test_changes_that_leave_the_compile_current_do_not_cancel_it(harness: Harness) -> None:
    square = harness.folder / "square.mrsh"
    other = harness.write("other.mrsh", SQUARE)
    harness.session.notice({square})  # nothing running: nothing to cancel

    def save_unchanged() -> None:
        if harness.backend.calls == 1:
            square.write_text(SQUARE, encoding="utf-8")  # a save without an edit
            harness.session.notice({square, other, harness.folder / "notes.txt"})

    harness.backend.before = save_unchanged
    harness.session.apply({square})
    assert harness.take()[-1] == (
        "square.mrsh: ok (wrote square.py, test_square.py, _marshalike_main.py)"
    )
    assert harness.session.carried == set()


def test_the_watcher_thread_cancels_a_compile_whose_spec_is_saved(harness: Harness) -> None:
    square = harness.folder / "square.mrsh"
    noticed = threading.Event()
    notice = harness.session.notice

    def notice_and_tell(changed: set[Path]) -> None:
        notice(changed)
        if square in changed:
            noticed.set()

    def save_and_wait() -> None:
        if harness.backend.calls == 1:
            square.write_text(SQUARE.replace("by itself", "by itself once"), encoding="utf-8")
            # the model is "still working" until the watcher has seen the save
            assert noticed.wait(timeout=10)

    harness.session.notice = notice_and_tell  # type: ignore[method-assign]
    harness.backend.before = save_and_wait
    watching = threading.Thread(target=_watch, args=(harness.session, harness.stop))
    watching.start()
    try:
        deadline = time.monotonic() + 15
        while not any(line.startswith("square.mrsh: ok") for line in harness.lines):
            assert time.monotonic() < deadline, harness.lines
            time.sleep(0.05)
    finally:
        harness.stop.set()
        watching.join(timeout=10)
    assert not watching.is_alive()
    assert harness.take() == [
        "square.mrsh: compiling",
        "  square.square: compiling",
        CANCELLED,
        "watching . for changes (Ctrl-C to stop)",
        "square.mrsh: compiling",
        "  square.square: compiling",
        "  square.square: verified",
        "square.mrsh: ok (wrote square.py, test_square.py, _marshalike_main.py)",
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_compile_stops_cleanly_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "square.mrsh").write_text(SQUARE, encoding="utf-8")

    def interrupt() -> None:
        os.kill(os.getpid(), signum)
        time.sleep(0.2)  # the model is "still working" when the signal lands

    harness = Harness(tmp_path, Scripted(before=interrupt))
    # What the handlers were before (a background job starts with SIGINT ignored).
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    status = run([tmp_path], harness.job, harness.lines.append)
    assert status == 0
    assert harness.lines == [
        "square.mrsh: compiling",
        "  square.square: compiling",
        "square.mrsh: interrupted; its outputs are left as they were",
        "marshalike: stopped",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["square.mrsh"]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    argv = ["watch", str(tmp_path / "nope"), "--backend", "openai", "--model", "m",
            "--base-url", "http://127.0.0.1:9/v1"]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2
    assert result.stderr == f"marshalike: error: {tmp_path / 'nope'}: no such file or directory\n"


def test_no_progress_is_the_option_compile_takes() -> None:
    """Watch takes `--no-progress` as compile does, defined once: same flag, same help."""
    from marshalike.cli import compile_cmd, watch_cmd

    def option(command: click.Command) -> tuple[object, ...]:
        found = [p for p in command.params if "--no-progress" in p.opts]
        assert len(found) == 1 and isinstance(found[0], click.Option)
        return (found[0].name, found[0].opts, found[0].is_flag, found[0].help)

    assert option(watch_cmd.command) == option(compile_cmd.command)


# --- the real command ----------------------------------------------------------------

GREET = """\
# func greet(a name): a greeting

Greet the person.

* greet('Bob') = '{greeting}, Bob!'
"""


def answer_greeting(request: Request) -> str:
    """Writes the greeting the prompt's example asks for, so edits change the output."""
    greeting = "Hi" if "'Hi, Bob!'" in request.prompt_text else "Hello"
    return f"```python\ndef greet(name):\n    return '{greeting}, ' + name + '!'\n```"


class Watcher:
    """`marshalike watch` as a subprocess; stderr lines collected by a reader thread.

    `--quick` skips the sandboxed test runs (tests/test_compile.py covers them), which
    keeps this test fast on a loaded machine."""

    def __init__(self, folder: Path, server: FakeOpenAI) -> None:
        argv = [sys.executable, "-m", "marshalike", "watch", str(folder), "--backend", "openai",
                "--base-url", server.base_url, "--model", "fake-model", "--quick"]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, wanted: str, timeout: float = 25.0) -> list[str]:
        """The lines up to and including the first one that starts with `wanted`."""
        start = len(self.seen)
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no {wanted!r} within {timeout} s: {self.seen}") from None
            self.seen.append(line)
            if line.startswith(wanted):
                return self.seen[start:]


def test_watch_recompiles_on_save_and_stops_on_sigint(tmp_path: Path) -> None:
    spec = tmp_path / "greet.mrsh"
    spec.write_text(GREET.format(greeting="Hello"), encoding="utf-8")
    output = tmp_path / "greet.py"
    with FakeOpenAI(script=answer_greeting) as server:
        watcher = Watcher(tmp_path, server)
        try:
            watcher.wait_for("watching")
            assert "return 'Hello, ' + name + '!'" in output.read_text()

            # an editor's save: write a temp file, rename it over the spec
            (tmp_path / "greet.mrsh.tmp").write_text(GREET.format(greeting="Hi"))
            os.replace(tmp_path / "greet.mrsh.tmp", spec)
            lines = watcher.wait_for("greet.mrsh: ok")
            assert lines.count("greet.mrsh: compiling") == 1
            assert lines[-1] == "greet.mrsh: ok (wrote greet.py, test_greet.py)"
            good = output.read_text()
            assert "return 'Hi, ' + name + '!'" in good

            spec.write_text(GREET.format(greeting="Hi").replace("(a name)", "(a name: x"))
            lines = watcher.wait_for("greet.mrsh: failed")
            detail = watcher.wait_for("  hint:")
            assert "greet.mrsh:1:20: error[M001]: unexpected ':' in the parameters" in detail
            assert output.read_text() == good

            spec.write_text(GREET.format(greeting="Hi"), encoding="utf-8")
            lines = watcher.wait_for("greet.mrsh: ok")
            assert lines[-1] == "greet.mrsh: ok (outputs unchanged)"

            (tmp_path / "more.mrsh").write_text(GREET.format(greeting="Hi"), encoding="utf-8")
            lines = watcher.wait_for("more.mrsh: ok")
            assert lines[-1] == "more.mrsh: ok (wrote more.py, test_more.py)"
            assert "return 'Hi, ' + name + '!'" in (tmp_path / "more.py").read_text()
        finally:
            watcher.proc.send_signal(signal.SIGINT)
            watcher.proc.wait(timeout=20)
    assert watcher.proc.returncode == 0
    assert watcher.proc.stdout is not None and watcher.proc.stdout.read() == ""
    assert watcher.wait_for("marshalike: stopped", timeout=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_marshalike_main.py", "greet.lock.json", "greet.mrsh", "greet.py", "more.lock.json",
        "more.mrsh", "more.py", "test_greet.py", "test_more.py",
    ]  # fmt: skip
