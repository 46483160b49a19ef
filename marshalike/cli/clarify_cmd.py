"""`marshalike clarify`: answer the questions a compile left open, as examples written into
the specs, then compile the specs that changed. The questions and their menus go to the
terminal's stdout; progress and diagnostics to stderr, the compile report to stdout."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from marshalike.build import report as render
from marshalike.build.clarify import (
    ClarifyError,
    converse,
    open_questions,
    read_answers,
    record,
    to_recompile,
)
from marshalike.build.compiler import CompileRun
from marshalike.build.job import make_job
from marshalike.cli import interrupt
from marshalike.cli.display import Display, choose_mode
from marshalike.cli.options import compile_options, display_options
from marshalike.language.diagnostics import render_all
from marshalike.language.graph import SpecGraph
from marshalike.language.load import spec_paths
from marshalike.sandbox.isolation import weaker_isolation
from marshalike.settings import resolve

EPILOG = """\
\b
Each spec must have been compiled since it last changed (its lock holds its
questions); otherwise nothing is asked or written and the exit status is 2.

\b
At a terminal, each question lists the answers of the code that passes the
examples; pick one by number, type your own ("other"), skip it, or q to stop.
Each answer is written into its spec as it is given.

\b
With --answers FILE (which is needed without a terminal), the answers come
from FILE, a JSON object:
  {"specs/square.mrsh": {"square(0)": "0", "square(-1)": "raises ValueError",
                         "square(7)": null}}
- a key names a spec given (or found under a folder given): its path relative
  to the current folder, or absolute;
- under it, a key is a question's call as clarify or the compile report shows
  it (spacing aside), and its value the text an example bullet writes after
  `=`: a Python expression, `raises NameOfError`, or `throws an error` (no
  valid input: any error will do); null leaves it open;
- a call the spec already has as an example with the same answer is left
  alone, so a file can be given again;
- questions the file does not name stay open.
A key that names no spec given, or no open question of its spec, an answer
that is not one line of a Python expression or `raises NameOfError`, one that
would give its spec an error (an undeclared type, say), or a file of another
shape is an error (exit 2) before any spec is written.

\b
Then the specs that gained examples, and the specs given that use them, are
compiled as `marshalike compile` would, with its progress options (-q,
--no-progress, -v) and report (--format), and the exit status is its own: 0
all compiled, 1 a function failed, 2 errors in a spec. No answer given: exit 0."""


@click.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--answers", "answers_file", type=click.Path(dir_okay=False),
    help="Take the answers from this JSON file instead of asking (format below).",
)  # fmt: skip
@compile_options
@display_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
    help="The compile report on stdout: for people, or JSON for tools. [text]",
)  # fmt: skip
def command(
    paths: tuple[str, ...],
    answers_file: str | None,
    quick: bool,
    no_main: bool,
    fmt: str,
    no_progress: bool,
    quiet: bool,
    verbose: bool,
    **flags: object,
) -> None:
    """Answer the questions a compile left open: each answer becomes an example in the
    spec, and the specs that changed are compiled again."""
    files = spec_paths(paths)  # missing or unreadable inputs first: exit 2, nothing asked
    if answers_file is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ClarifyError(
            "no terminal to ask the questions at: pass --answers FILE to answer them from "
            "a JSON file (see `marshalike clarify --help`)"
        )
    settings = resolve(flags)
    graph = SpecGraph()
    asked = open_questions(files, Path(settings.out) if settings.out else None, graph)
    answers = read_answers(Path(answers_file), files, asked) if answers_file else None
    if not (asked if answers is None else answers):
        _nothing(asked)
    job = make_job(settings, quick=quick, main=not no_main)  # no model: exit 2, nothing asked
    if answers is None:
        written = converse(asked, _ask, click.echo)
    else:
        written = record(answers)
    if not written:
        _nothing(asked)
    if (weaker := weaker_isolation()) is not None:
        click.echo(f"marshalike: warning: the sandbox runs without namespaces ({weaker}); "
                   "see docs/security.md", err=True)  # fmt: skip
    with Display(choose_mode(quiet=quiet, no_progress=no_progress), verbose=verbose) as display:
        run = CompileRun(job, display.message, graph=graph, observe=display.event)
        stop = interrupt.cancel()  # Ctrl-C stops the compile before it writes anything
        changed = to_recompile(files, written, graph)
        reports = [run.compile(path, cancel=stop) for path in changed]
    for report in reports:
        if report.diagnostics:
            click.echo(render_all(report.diagnostics, {report.path: report.source}), err=True)
    click.echo(render.as_json(reports) if fmt == "json" else render.text(reports), nl=False)
    sys.exit(render.exit_status(reports))


def _nothing(asked: Sequence[object]) -> None:
    said = "no spec changed" if asked else "no question is open in the specs given"
    click.echo(f"marshalike: {said}; nothing to compile", err=True)
    sys.exit(0)


def _ask(prompt: str) -> str:
    """The line typed; the end of input (Ctrl-D) stops asking, as `q` does."""
    try:
        return str(input(f"{prompt}: "))
    except EOFError:
        click.echo()
        return "q"
