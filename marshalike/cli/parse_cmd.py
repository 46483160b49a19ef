"""`marshalike parse`: read specs, report diagnostics, optionally print the AST as JSON.

Diagnostics go to stderr; stdout carries the result (a summary line per spec, or JSON), so
`marshalike parse --json spec.mrsh > ast.json` stays clean. Exit 2 when any spec has an
error; warnings alone exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from marshalike.cli.main import one_line_message
from marshalike.errors import SpecError
from marshalike.language.diagnostics import printable, render_all
from marshalike.language.load import LoadResult, load_paths
from marshalike.language.spec import Module
from marshalike.language.spec_json import diagnostic_to_dict, module_to_dict


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the AST as JSON on stdout.")
def command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Parse and check specs (files, or folders of *.mrsh); print diagnostics."""
    ctx = click.get_current_context()
    try:
        results = load_paths(paths)
    except SpecError as exc:
        click.echo(f"marshalike: error: {one_line_message(exc)}", err=True)
        ctx.exit(2)
    for result in results:
        if result.diagnostics:
            sources = {result.path: result.source}
            click.echo(render_all(result.diagnostics, sources), err=True)
    if as_json:
        click.echo(json.dumps({"specs": [_result_to_dict(r) for r in results]}, indent=2))
    else:
        for result in results:
            click.echo(summary(result))
    if any(result.has_errors for result in results):
        ctx.exit(2)


def summary(result: LoadResult) -> str:
    """One line per spec, e.g. `sort_by_age.mrsh: 1 type, 1 function, 7 examples (6 checkable)`."""
    counts = _counts(result.module) if result.module else "not parsed"
    errors = sum(1 for d in result.diagnostics if d.is_error)
    warnings = len(result.diagnostics) - errors
    problems = [_plural(n, noun) for n, noun in ((errors, "error"), (warnings, "warning")) if n]
    tail = f"; {', '.join(problems)}" if problems else ""
    return printable(f"{result.path}: {counts}{tail}")  # a path may hold a line break


def _counts(module: Module) -> str:
    examples = [example for func in module.funcs for example in func.examples]
    checkable = sum(1 for example in examples if example.checkable)
    return (
        f"{_plural(len(module.types), 'type')}, {_plural(len(module.funcs), 'function')}, "
        f"{_plural(len(examples), 'example')} ({checkable} checkable)"
    )


def _result_to_dict(result: LoadResult) -> dict[str, object]:
    return {
        "path": result.path,
        "module": module_to_dict(result.module) if result.module else None,
        "diagnostics": [diagnostic_to_dict(d) for d in result.diagnostics],
    }


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
