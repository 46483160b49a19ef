"""`marshalike watch`: compile specs, then recompile each one as it is saved. Status lines
and diagnostics go to stderr; Ctrl-C (or SIGTERM) stops with status 0."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from marshalike.build import watch
from marshalike.build.job import make_job
from marshalike.cli.options import compile_options, no_progress_option
from marshalike.language.load import check_spec_file
from marshalike.settings import resolve


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@compile_options
@no_progress_option
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Each spec's outcome (ok, or failed and why), without its progress lines.",
)
def command(
    paths: tuple[str, ...], quick: bool, no_main: bool, no_progress: bool, quiet: bool,
    **flags: object,
) -> None:  # fmt: skip
    """Compile .mrsh specs, then recompile what changes on every save (Ctrl-C stops)."""
    for path in paths:
        check_spec_file(Path(path))  # a missing path or a FIFO is refused before any work
    job = make_job(resolve(flags), quick=quick, frozen=False, main=not no_main)
    sys.exit(watch.run(paths, job, _echo, quiet=quiet))


def _echo(message: str) -> None:
    click.echo(message, err=True)
