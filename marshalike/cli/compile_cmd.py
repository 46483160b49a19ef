"""`marshalike compile`: specs in, tested Python out; progress and diagnostics on stderr,
the report on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from marshalike.build import report as render
from marshalike.build.compiler import CompileRun
from marshalike.build.job import make_job
from marshalike.build.results import SpecReport
from marshalike.build.shard import parse_shard
from marshalike.build.shard import shard as shard_of
from marshalike.cli import interrupt
from marshalike.cli.display import Display, choose_mode
from marshalike.cli.options import compile_options, display_options, shard_option
from marshalike.errors import MarshalikeError
from marshalike.language.diagnostics import render_all
from marshalike.language.graph import SpecGraph
from marshalike.language.load import load_spec, spec_paths
from marshalike.sandbox.isolation import weaker_isolation
from marshalike.settings import resolve


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@compile_options
@display_options
@shard_option
@click.option("--frozen", is_flag=True, help="Fail if any unit would need a model call.")
@click.option(
    "--function", "functions", multiple=True, metavar="NAME",
    help="Only this function of the one spec given, and the functions it calls "
    "(repeatable); the module is written once every function has compiled.",
)  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
    help="The report on stdout: for people, or JSON for tools. [text]",
)  # fmt: skip
def command(
    paths: tuple[str, ...],
    quick: bool,
    frozen: bool,
    no_main: bool,
    fmt: str,
    no_progress: bool,
    quiet: bool,
    verbose: bool,
    shard: str | None,
    functions: tuple[str, ...],
    **flags: object,
) -> None:
    """Compile .mrsh specs (files or folders) into tested Python."""
    files = spec_paths(paths)  # missing or unreadable inputs first: exit 2, nothing asked
    graph = SpecGraph()
    if shard is not None:
        files = shard_of(files, *parse_shard(shard), graph)
    only = _only(functions, files, graph)
    if (weaker := weaker_isolation()) is not None:
        click.echo(f"marshalike: warning: the sandbox runs without namespaces ({weaker}); "
                   "see docs/security.md", err=True)  # fmt: skip
    settings = resolve(flags)
    job = make_job(settings, quick=quick, frozen=frozen, main=not no_main)
    mode = choose_mode(quiet=quiet, no_progress=no_progress)
    with Display(mode, verbose=verbose) as display:
        run = CompileRun(job, display.message, graph=graph, observe=display.event)
        stop = interrupt.cancel()  # Ctrl-C stops the compile before it writes anything
        reports = [run.compile(path, only=only, cancel=stop) for path in files]
    _show_diagnostics(reports)
    click.echo(render.as_json(reports) if fmt == "json" else render.text(reports), nl=False)
    sys.exit(render.exit_status(reports))


class FunctionError(MarshalikeError):
    """`--function` names no function of the one spec given: one line, exit 2."""

    exit_code = 2


def _only(functions: tuple[str, ...], files: list[Path], graph: SpecGraph) -> frozenset[str]:
    """`--function`'s names, each a function of the one spec given (else a usage error)."""
    if not functions:
        return frozenset()
    if len(files) != 1:
        raise FunctionError(f"--function takes one spec, not {len(files)}")
    module = load_spec(files[0], graph).module
    missing = [name for name in functions if module is not None and module.func(name) is None]
    if missing:
        name = missing[0]
        kind = " (" + name + " is a type)" if module and module.type(name) else ""
        raise FunctionError(f"{files[0].name} has no function {name!r}{kind}")
    return frozenset(functions)


def _show_diagnostics(reports: list[SpecReport]) -> None:
    for report in reports:
        if report.diagnostics:
            click.echo(render_all(report.diagnostics, {report.path: report.source}), err=True)
