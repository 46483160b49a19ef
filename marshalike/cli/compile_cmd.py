"""`marshalike compile`: specs in, tested Python out; progress and diagnostics on stderr,
the report on stdout."""

from __future__ import annotations

import sys

import click

from marshalike.build import report as render
from marshalike.build.compiler import CompileRun, SpecReport
from marshalike.build.job import make_job
from marshalike.cli.options import compile_options
from marshalike.language.diagnostics import render_all
from marshalike.language.load import spec_paths
from marshalike.sandbox.isolation import weaker_isolation
from marshalike.settings import resolve


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@compile_options
@click.option("--frozen", is_flag=True, help="Fail if any unit would need a model call.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
    help="The report on stdout: for people, or JSON for tools. [text]",
)  # fmt: skip
def command(
    paths: tuple[str, ...], quick: bool, frozen: bool, no_main: bool, fmt: str, **flags: object
) -> None:
    """Compile .mrsh specs (files or folders) into tested Python."""
    files = spec_paths(paths)  # missing or unreadable inputs first: exit 2, nothing asked
    if (weaker := weaker_isolation()) is not None:
        click.echo(f"marshalike: warning: the sandbox runs without namespaces ({weaker}); "
                   "see docs/security.md", err=True)  # fmt: skip
    settings = resolve(flags)
    job = make_job(settings, quick=quick, frozen=frozen, main=not no_main)
    run = CompileRun(job, _progress)
    reports = [run.compile(path) for path in files]
    _show_diagnostics(reports)
    click.echo(render.as_json(reports) if fmt == "json" else render.text(reports), nl=False)
    sys.exit(_status(reports))


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _show_diagnostics(reports: list[SpecReport]) -> None:
    for report in reports:
        if report.diagnostics:
            click.echo(render_all(report.diagnostics, {report.path: report.source}), err=True)


def _status(reports: list[SpecReport]) -> int:
    """2 when a spec has errors, 1 when a function failed, else 0 (README, "Exit status")."""
    if any(any(d.is_error for d in r.diagnostics) for r in reports):
        return 2
    return 0 if all(r.ok for r in reports) else 1
