"""What a compile shows on stderr while it works.

At a terminal, a live table (rich): one row per function with its state (queued, sampling
attempt k of K, verifying, looking for questions, verified, failed), the codes that pass so
far, tokens per second and elapsed time; the last table stays as the summary. Elsewhere (a
CI log, a pipe) or with `--no-progress`, plain lines, each with the time of day. `-q`
shows nothing but warnings and errors; `-v` adds a line for every step in plain mode.
Colours follow rich's rules: on a terminal only, never with `NO_COLOR` set. The report
itself goes to stdout, whatever is shown here.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from marshalike.synth.events import UnitEvent

Mode = Literal["live", "plain", "quiet"]
_STYLE = {"verified": "green", "failed": "red", "unchecked": "yellow", "unchanged": "dim"}


def choose_mode(*, quiet: bool, no_progress: bool, stream: TextIO | None = None) -> Mode:
    """quiet with -q; live at a terminal unless --no-progress; plain lines otherwise."""
    if quiet:
        return "quiet"
    out = stream if stream is not None else sys.stderr
    return "live" if out.isatty() and not no_progress else "plain"


@dataclass
class _Row:
    state: str = "queued"
    attempt: str = ""
    passing: int = 0
    tokens: int = 0
    start: float = field(default_factory=time.monotonic)
    end: float | None = None

    def elapsed(self) -> float:
        return (self.end or time.monotonic()) - self.start


class Display:
    """The progress sink of a compile: `message` takes the compiler's progress lines,
    `event` what the loop and the compiler report of each unit (`synth.events`)."""

    def __init__(self, mode: Mode, *, verbose: bool = False, stream: TextIO | None = None):
        self.mode = mode
        self.verbose = verbose
        self.console = Console(file=stream if stream is not None else sys.stderr)
        self.rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> Display:
        if self.mode == "live":
            self._live = Live(self._table(), console=self.console, refresh_per_second=4,
                              get_renderable=self._table, redirect_stderr=True)  # fmt: skip
            self._live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()  # the last table stays on the screen: the summary
            self._live = None

    def message(self, text: str) -> None:
        """A line of the compiler's progress ("square.square: compiling")."""
        if self.mode == "plain":
            self._line(text)
        elif self.mode == "live" and self._live is not None and not _about_a_unit(text):
            self._live.console.print(text, markup=False, highlight=False)

    def event(self, module: str, event: UnitEvent) -> None:
        """What the loop (or the compiler, as a unit is queued and ends) reports."""
        key = f"{module}.{event.unit}"
        with self._lock:
            row = self.rows.setdefault(key, _Row())
            row.state = event.shown()
            if event.state == "done":
                row.end = time.monotonic()
                return
            row.attempt = f"{event.attempt}/{event.attempts}" if event.attempt else row.attempt
            row.passing, row.tokens = event.passing, event.completion_tokens
        if self.mode == "plain" and (self.verbose or event.state == "sampling"):
            self._line(f"{key}: {event.shown()}")

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.console.print(f"{stamp} {text}", markup=False, highlight=False, soft_wrap=True)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for title in ("function", "state", "attempt", "passing", "tokens/s", "elapsed"):
            table.add_column(title, justify="left" if title in ("function", "state") else "right")
        with self._lock:
            rows = list(self.rows.items())
        for key, row in rows:
            seconds = row.elapsed()
            rate = f"{row.tokens / seconds:.1f}" if row.tokens and seconds > 0 else ""
            style = _STYLE.get(row.state.split(" ")[0], "")
            table.add_row(key, row.state, row.attempt, str(row.passing), rate,
                          f"{seconds:.0f} s", style=style)  # fmt: skip
        return table


def _about_a_unit(text: str) -> bool:
    """Whether the compiler's line is one the table already shows (a unit started or
    ended), as "square.square: compiling"."""
    head, _, state = text.partition(": ")
    return "." in head and " " not in head and state in ("compiling", *_STYLE)
