"""Watch mode: compile every spec once, then recompile what each save touches.

`Session` holds the decisions: which specs a set of changed paths asks to recompile (the
specs themselves, and the specs whose `# type NAME file.csv` or `# use other.mrsh` read a
changed file, at any depth: the session's `SpecGraph` knows), which were deleted, and what
to print. It takes plain sets of paths, so it is tested without a file watcher; `run` is
the thin loop around watchfiles. Recompiling a whole spec on each save is cheap: the lock
makes every function whose text did not change free, and one backend (one loaded local
model) serves the whole session; each batch is one `CompileRun`.

The file watcher runs in a thread of its own, so a change is seen while a compile runs:
a change to the spec being compiled, or to a file it reads, cancels that compile (through
its `marshalike.synth.cancel.Cancel`), and the next batch compiles it again with what is left of
the cancelled batch.

Stopping: SIGINT and SIGTERM end the session with status 0; they cancel a running compile
the same way. A cancelled compile stops at its next unit or attempt, once the model calls
already running return, and writes nothing; one already writing its outputs finishes, so a
module, its tests and its lock never disagree. Outputs are written atomically
(`marshalike.build.output`), so no temp file is left behind either way.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from marshalike.build.compiler import CompileRun, SharedBackend
from marshalike.build.results import CachedUnit, CompileJob, SpecReport
from marshalike.errors import MarshalikeError
from marshalike.language.diagnostics import render_all
from marshalike.language.files import read_spec
from marshalike.language.graph import SpecGraph
from marshalike.synth.cancel import Cancel, Cancelled

Echo = Callable[[str], None]

# watchfiles yields a batch once the folders have been quiet for QUIET_MS, so an editor's
# write-a-temp-file-then-rename save is one batch; a stream of changes is cut at GROUP_MS.
QUIET_MS = 200
GROUP_MS = 1600
# How soon a new watcher reports in when nothing changes: the first report is the moment to
# compile what changed while no watcher was running (at start, the whole project).
READY_MS = 300

SPEC_SUFFIX = ".mrsh"
# Folders nothing of ours lives in, and that tools rewrite often.
IGNORED_FOLDERS = frozenset(
    {".git", ".hg", ".svn", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)


@dataclass(frozen=True)
class Batch:
    """What one batch of file changes asks for: specs to compile, in order, and deletions."""

    compile: tuple[Path, ...] = ()
    deleted: tuple[Path, ...] = ()


@dataclass(frozen=True)
class _Running:
    """The compile in progress, as the watcher thread sees it."""

    spec: Path
    text: str | None  # the spec's text when the compile started
    reads: frozenset[Path]  # what the compile reads besides the spec, as the graph names it
    cancel: Cancel


class Session:
    def __init__(
        self,
        paths: Sequence[str | Path],
        job: CompileJob,
        echo: Echo,
        stop: threading.Event,
        *,
        quiet: bool = False,
    ) -> None:
        missing = [str(p) for p in paths if not Path(p).exists()]
        if missing:
            raise MarshalikeError(f"no such file or directory: {missing[0]}")
        targets = [absolute(p) for p in paths]
        self.folders = tuple(p for p in targets if p.is_dir())
        self.files = frozenset(p for p in targets if not p.is_dir())
        self.echo = echo
        self.quiet = quiet  # each spec's outcome only, without the lines of its progress
        self.stop = stop
        self.job = job
        self.shared = SharedBackend(job)
        # the specs read so far, what they read and use; told what changes
        self.graph = SpecGraph()
        # spec -> the text its last compile read (None: that compile failed to run)
        self.compiled: dict[Path, str | None] = {}
        # specs of a batch cut short by a newer change; the next batch compiles them
        self.carried: set[Path] = set()
        # What the watcher thread reads while the main thread compiles: replaced whole,
        # never changed in place, so that thread never sees a dict change under it.
        self._running: _Running | None = None
        self._known: tuple[frozenset[Path], frozenset[Path]] = (frozenset(), frozenset())

    # --- what to watch -----------------------------------------------------------------

    def specs(self) -> list[Path]:
        found = set(self.files)
        for folder in self.folders:
            found.update(p for p in folder.rglob(f"*{SPEC_SUFFIX}") if self.is_spec(p))
        return sorted(p for p in found if p.is_file())

    def roots(self) -> tuple[Path, ...]:
        """The folders to watch: the given ones, those of the given files, and those of the
        files a spec reads from outside them."""
        wanted = {*self.folders, *(f.parent for f in self.files)}
        wanted.update(read.parent for read in self.graph.all_reads())
        existing = sorted(p for p in wanted if p.is_dir())
        return tuple(p for p in existing if not any(_below(p, q) for q in existing if q != p))

    def missing(self) -> tuple[Path, ...]:
        """The given folders, and the folders of the given files, that are gone now."""
        wanted = {*self.folders, *(f.parent for f in self.files)}
        return tuple(sorted(p for p in wanted if not p.is_dir()))

    def accepts(self, change: object, path: str) -> bool:
        """watchfiles' filter: drops generated files and noise before `plan` sees them."""
        candidate = Path(path)
        if _ignored(candidate):
            return False
        compiled, read_files = self._known
        if candidate.suffix == SPEC_SUFFIX or SpecGraph.key(candidate) in read_files:
            return True
        # a folder created or moved in may hold specs; one removed may have held some
        return candidate.is_dir() or any(_below(s, candidate) for s in compiled)

    def is_spec(self, path: Path) -> bool:
        if path.suffix != SPEC_SUFFIX or _ignored(path):
            return False
        return path in self.files or any(_below(path, folder) for folder in self.folders)

    # --- deciding ----------------------------------------------------------------------

    def plan(self, changed: Iterable[Path]) -> Batch:
        """The specs to recompile and the specs deleted, given the paths that changed."""
        touched: set[Path] = set()
        todo: set[Path] = set()
        deleted: set[Path] = set()
        for path in map(absolute, changed):
            if _ignored(path):
                continue
            touched.add(path)
            if path.is_dir():
                # a folder's own event (created, moved in, touched) names no spec: compile
                # the ones below it that were never compiled as they are now
                found = path.rglob(f"*{SPEC_SUFFIX}")
                todo.update(p for p in found if self.is_spec(p) and self._unseen(p))
            elif path.is_file():
                todo.update([path] if self.is_spec(path) else [])
            else:
                deleted.update(s for s in self.compiled if _below(s, path))
        # The graph reads the changed specs again, and names every spec that reads a
        # changed file; of those, the compiled ones are ours to recompile.
        changes = self.graph.changed(touched | todo | deleted)
        names = {SpecGraph.key(spec): spec for spec in self.compiled}
        todo.update(names[k] for k in changes.recompile if k in names)
        todo = {p for p in todo if p.is_file()}
        return Batch(self._ordered(todo), tuple(sorted(deleted)))

    def _ordered(self, specs: set[Path]) -> tuple[Path, ...]:
        """Used specs before the specs that use them; otherwise by path."""
        names = {SpecGraph.key(spec): spec for spec in specs}
        return tuple(names[k] for k in self.graph.order(names) if k in names)

    # --- acting ------------------------------------------------------------------------

    def unseen(self) -> set[Path]:
        """Specs whose text differs from what was last compiled (all of them at first), and
        specs gone since: the changes no watcher was running to see."""
        current = self.specs()
        changed = {p for p in current if self._unseen(p)}
        return changed | (self.compiled.keys() - set(current))

    def _unseen(self, spec: Path) -> bool:
        return spec not in self.compiled or self.compiled[spec] != _text(spec)

    def apply(self, changed: Iterable[Path]) -> Batch:
        carried, self.carried = self.carried, set()
        batch = self.plan({*changed, *carried})
        self.apply_batch(batch)
        return batch

    def apply_batch(self, batch: Batch) -> None:
        # One run per batch: a spec that several of the batch's specs use compiles once.
        run = CompileRun(self.job, self._progress, self.shared, self.graph)
        for path in batch.deleted:
            self.graph.forget(path)
            self.compiled.pop(path, None)
            self.echo(f"{display(path)}: deleted; its outputs are left as they are")
        self._publish()
        for index, path in enumerate(batch.compile):
            if self.stop.is_set():
                return
            try:
                self.compile(path, run)
            except Cancelled:
                # The rest of the batch waits for the change that cancelled it, which the
                # watcher hands over next: compiling it now could be wasted too.
                self.carried.update(batch.compile[index:])
                return

    def compile(self, path: Path, run: CompileRun) -> SpecReport | None:
        """Compile one spec in `run` and say how it went; raises `Cancelled` (having said
        so) when a newer change or a stop request cancels it."""
        shown = display(path)
        reads = self.graph.reads_of(path)
        if not self.quiet:
            self.echo(f"{shown}: compiling")
        self.compiled[path] = None
        self._publish()
        cancel = Cancel(self.stop)
        self._running = _Running(path, _text(path), reads, cancel)
        try:
            report = run.compile(Path(shown), cancel=cancel)
        except Cancelled:
            why = "interrupted" if self.stop.is_set() else "cancelled by a newer change"
            self.echo(f"{shown}: {why}; its outputs are left as they were")
            raise
        except MarshalikeError as exc:
            self.echo(f"{shown}: failed: {exc}")
            return None
        except OSError as exc:
            # e.g. an output folder that is not writable: the outputs stay as they were
            self.echo(f"{shown}: failed: {_os_reason(exc)}")
            return None
        finally:
            self._running = None
        self.compiled[path] = report.source
        self._publish()
        for line in describe(report, shown):
            self.echo(line)
        return report

    @property
    def busy(self) -> bool:
        """Whether a compile is running (and so a stop request has to wait for it)."""
        return self._running is not None

    def notice(self, changed: Iterable[Path]) -> None:
        """Cancel the running compile if `changed` makes it stale: the spec's text changed
        or a file it reads did. Called from the watcher thread as each batch arrives."""
        running = self._running
        if running is None:
            return
        touched = {absolute(p) for p in changed}
        edited = running.spec in touched and _text(running.spec) != running.text
        if edited or not running.reads.isdisjoint(map(SpecGraph.key, touched)):
            running.cancel.set()

    def _publish(self) -> None:
        self._known = (frozenset(self.compiled), self.graph.all_reads())

    def _progress(self, message: str) -> None:
        if not self.quiet:
            self.echo(f"  {message}")


def describe(report: SpecReport, shown: str) -> list[str]:
    """The status line of a compiled spec, then what failed and why."""
    errors = sum(d.is_error for d in report.diagnostics)
    if errors:
        status = f"{shown}: failed: {_plural(errors, 'error')} in the spec; last good output kept"
        return [status, render_all(report.diagnostics, {report.path: report.source})]
    if report.problem:
        return [f"{shown}: failed: {report.problem}"]
    failed = [u for u in report.units if u.status == "failed"]
    if failed:
        names = ", ".join(u.name for u in failed)
        status = f"{shown}: failed: {names} did not pass; best attempt in {report.failed_file}"
        reasons = [f"    {u.name}: {reason}" for u in failed for reason in u.failures]
        return [status, *reasons]
    asked = [f"    {u.name}: question: {q.shown()}" for u in report.units for q in u.questions]
    asked += [f"    {u.name}: {u.strength.shown()}" for u in report.units if u.strength]
    if report.deferred:
        done = ", ".join(u.name for u in report.units if not isinstance(u, CachedUnit))
        left = ", ".join(report.deferred)
        status = f"{shown}: {done or 'nothing'} compiled; {left} not yet, outputs unchanged"
        return [status, *asked]
    unchecked = sum(u.status == "unchecked" for u in report.units)
    wrote = "wrote " + ", ".join(report.written) if report.written else "outputs unchanged"
    note = f", {unchecked} unchecked" if unchecked else ""
    return [f"{shown}: ok{note} ({wrote})", *asked]


# --- the loop ------------------------------------------------------------------------


def run(paths: Sequence[str | Path], job: CompileJob, echo: Echo, *, quiet: bool = False) -> int:
    """Compile, then watch until SIGINT or SIGTERM; returns the exit status (0). `quiet`:
    each spec's outcome, without the lines of its progress."""
    stop = threading.Event()
    session = Session(paths, job, echo, stop, quiet=quiet)
    with StopSignal(stop, lambda: session.busy).installed():
        _watch(session, stop)
    echo("marshalike: stopped")
    return 0


def _watch(session: Session, stop: threading.Event) -> None:
    gone: tuple[Path, ...] = ()
    while not stop.is_set():
        roots, missing = session.roots(), session.missing()
        for folder in sorted(set(missing) - set(gone)):
            session.echo(f"marshalike: {display(folder)} is gone; waiting for it to come back")
        gone = missing
        if not roots:  # nothing left to watch: look for the folders again now and then
            while not stop.wait(QUIET_MS / 1000) and session.missing() == missing:
                pass
            continue
        with Changes(session, roots, stop) as changes:
            for number, changed in enumerate(changes):
                if number == 0:
                    session.apply(changed | session.unseen())
                    if not stop.is_set():
                        shown = ", ".join(display(r) for r in roots)
                        session.echo(f"watching {shown} for changes (Ctrl-C to stop)")
                else:
                    session.apply(changed)
                if stop.is_set() or session.roots() != roots:
                    break  # stopping, or a spec now reads a file outside the watched folders


class Changes:
    """watchfiles in a thread of its own: each batch of changes goes to `session.notice`
    at once (so a compile it makes stale is cancelled) and is queued for the main thread,
    which iterates over them. The first batch comes within READY_MS, empty if nothing
    changed; later empty ones (the watcher's idle reports) are dropped."""

    def __init__(self, session: Session, roots: tuple[Path, ...], stop: threading.Event) -> None:
        self._session = session
        self._roots = roots
        self._missing = session.missing()
        self._stop = stop
        self._closed = threading.Event()
        self._queue: queue.Queue[set[Path] | Exception | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="marshalike-watch", daemon=True)

    def __enter__(self) -> Changes:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed.set()
        self._thread.join()

    def __iter__(self) -> Iterator[set[Path]]:
        while True:
            try:
                # A timeout, so the main thread runs now and then: Python runs signal
                # handlers only in the main thread, between its bytecodes.
                item = self._queue.get(timeout=QUIET_MS / 1000)
            except queue.Empty:
                continue
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def is_set(self) -> bool:
        """watchfiles' stop event: the session is stopping or this watcher is closed."""
        return self._stop.is_set() or self._closed.is_set()

    def _run(self) -> None:
        import watchfiles  # only watch mode pays for the file watcher

        try:
            changes = watchfiles.watch(
                *self._roots,
                watch_filter=self._session.accepts,
                debounce=GROUP_MS,
                step=QUIET_MS,
                stop_event=self,
                rust_timeout=READY_MS,
                yield_on_timeout=True,
                raise_interrupt=False,
            )
            for number, batch in enumerate(changes):
                changed = {Path(path) for _, path in batch}
                if number and not changed:
                    if self._session.missing() != self._missing:
                        self._queue.put(changed)  # a given folder is back, or gone
                    continue
                self._session.notice(changed)
                self._queue.put(changed)
        except Exception as exc:  # handed to the main thread, which raises it
            self._queue.put(exc)
        finally:
            self._queue.put(None)


_STOPPING = (
    b"marshalike: stopping when the running model calls return; Ctrl-C again quits at once\n"
)


class StopSignal:
    """SIGINT and SIGTERM set `event`, which cancels a running compile; a second one
    quits at once, for a model call the user does not want to wait for."""

    def __init__(self, event: threading.Event, busy: Callable[[], bool]) -> None:
        self.event = event
        self.busy = busy

    @contextmanager
    def installed(self) -> Iterator[StopSignal]:
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._handle) for sig in signals}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # os.write, not click.echo: the handler may have interrupted a write to stderr
        if self.event.is_set():
            os.write(2, b"marshalike: stopped at once\n")
            os._exit(128 + signum)
        self.event.set()
        if self.busy():
            os.write(2, _STOPPING)


# --- paths ---------------------------------------------------------------------------


def _text(path: Path) -> str | None:
    """The text as the compiler reads it (`read_spec`: no newline translation, bad bytes
    shown as replacement characters)."""
    try:
        return read_spec(path).source
    except OSError:
        return None


def absolute(path: str | Path) -> Path:
    # Not resolve(): events name files through the paths we watch, symlinks included.
    return Path(os.path.normpath(os.path.abspath(path)))


def display(path: Path) -> str:
    """The path relative to the working folder when it is below it, as a user typed it."""
    try:
        return str(path.relative_to(absolute(Path.cwd())))
    except ValueError:
        return str(path)


def _below(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _ignored(path: Path) -> bool:
    # Emacs lock files (.#x.mrsh) and backups (x.mrsh~) are not specs.
    if path.name.startswith(".#") or path.name.endswith("~"):
        return True
    return any(part in IGNORED_FOLDERS for part in path.parts)


def _os_reason(exc: OSError) -> str:
    target = exc.filename2 or exc.filename
    reason = exc.strerror or str(exc)
    reason = reason[:1].lower() + reason[1:]
    return f"cannot write {display(absolute(target))}: {reason}" if target else reason


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
