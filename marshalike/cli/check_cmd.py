"""`marshalike check`: for CI. Never calls a model; exit 1 when generated code is stale,
edited by hand, missing, or failing its tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from marshalike.build import check_report
from marshalike.build.freshness import SpecCheck, check_spec
from marshalike.build.shard import parse_shard
from marshalike.build.shard import shard as shard_of
from marshalike.build.together import checked_together
from marshalike.cli.options import click_type, shard_option
from marshalike.language.diagnostics import render_all
from marshalike.language.graph import SpecGraph
from marshalike.language.load import spec_paths
from marshalike.sandbox.isolation import Limits, weaker_isolation
from marshalike.settings import SETTINGS, resolve

RENDER = {"text": check_report.text, "json": check_report.as_json, "junit": check_report.junit}


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), help="Where the outputs were written.")
@click.option("--timeout", type=click_type(SETTINGS["timeout"]), help="Seconds per example [10].")
@click.option(
    "--format", "fmt", type=click.Choice(sorted(RENDER)), default="text",
    help="The report on stdout: for people, JSON, or JUnit XML for CI. [text]",
)  # fmt: skip
@shard_option
def command(
    paths: tuple[str, ...], out: str | None, timeout: float | None, fmt: str, shard: str | None
) -> None:
    """Check that generated code is current and its tests pass (no model calls)."""
    specs = spec_paths(paths)  # missing or unreadable inputs: exit 2
    graph = SpecGraph()
    if shard is not None:
        specs = shard_of(specs, *parse_shard(shard), graph)
    if (weaker := weaker_isolation()) is not None:
        click.echo(f"marshalike: warning: the sandbox runs without namespaces ({weaker}); "
                   "see docs/security.md", err=True)  # fmt: skip
    settings = resolve({"out": out, "timeout": timeout})
    folder = Path(settings.out) if settings.out else None
    limits = Limits(timeout_s=settings.timeout)
    checks = [check_spec(path, out=folder, limits=limits, graph=graph) for path in specs]
    checks = checked_together(checks, limits)
    for check in checks:
        if check.diagnostics:
            click.echo(render_all(check.diagnostics, {check.path: check.source}), err=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # On stderr, so stdout stays valid JSON or XML; the runner reads both streams.
        click.echo(check_report.github_annotations(checks), nl=False, err=True)
    click.echo(RENDER[fmt](checks), nl=False)
    sys.exit(_status(checks))


def _status(checks: list[SpecCheck]) -> int:
    """2 when a spec has errors or a malformed lock, 1 when anything else was found, else 0
    (README, "Exit status"); every spec is reported either way."""
    if any(any(d.is_error for d in c.diagnostics) for c in checks):
        return 2
    if any(f.kind == "malformed" for c in checks for f in c.findings):
        return 2
    return 0 if all(c.ok for c in checks) else 1
