"""`marshalike decompile`: existing Python modules in, .mrsh specs out, whose examples are
what the code returns.

One spec per module, written as NAME.mrsh beside it or in `--out`; a spec already there is
left alone unless `--force`. The report (stdout) says, per module, the `# use` lines of its
spec; per function, how many examples were kept and how many variants of its code they tell
apart (and, with `--tests`, how many inputs came from the tests; who wrote a description
the code had none of), or why it was left as prose for a human; per type, where it has no
sample row.
"""

from __future__ import annotations

from pathlib import Path

import click

from marshalike.cli.options import model_options
from marshalike.decompile.describe import from_settings
from marshalike.decompile.errors import DecompileError
from marshalike.decompile.from_tests import ProjectTests
from marshalike.decompile.module import Aids, decompile_files


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write the specs in (default: beside each module).",
)
@click.option(
    "--functions",
    default="",
    help="Comma-separated names: decompile only these functions.",
)
@click.option("--tests", type=click.Path(path_type=Path), default=None,
              help="The project's tests: literal calls there are inputs to run too.")  # fmt: skip
@click.option(
    "--no-model",
    "no_model",
    is_flag=True,
    help="Ask no model: a function with no docstring says so in its spec, for a human.",
)
@model_options
@click.option("--force", is_flag=True, help="Overwrite specs that are already there.")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Sandboxed runs at once.")  # fmt: skip
def command(
    paths: tuple[Path, ...],
    out: Path | None,
    functions: str,
    tests: Path | None,
    no_model: bool,
    force: bool,
    jobs: int,
    **flags: object,
) -> None:
    """Turn Python modules into specs whose examples are measured on the existing code."""
    names = tuple(n.strip() for n in functions.split(",") if n.strip())
    targets = _targets(paths, out, force)
    project = None if tests is None else ProjectTests.read(tests)
    for skipped in project.skipped if project else ():
        click.echo(f"marshalike: warning: {skipped}: not Python; its calls are not used", err=True)
    aids = Aids(project, None if no_model else from_settings(flags))
    for path, target, done in decompile_files(targets, functions=names, jobs=jobs, aids=aids):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(done.spec, encoding="utf-8")
        except OSError as exc:
            raise DecompileError(f"{target}: cannot be written: {exc.strerror or exc}") from None
        click.echo(f"{path} -> {target}")
        for line in [*done.notes, *(f.line() for f in done.functions)]:
            click.echo(f"  {line}")


def _targets(paths: tuple[Path, ...], out: Path | None, force: bool) -> list[tuple[Path, Path]]:
    """Each module (once) and where its spec goes; DecompileError before anything is run
    where a module is missing or two would share a spec."""
    targets: dict[Path, Path] = {}
    for path in paths:
        if path.suffix != ".py":
            raise DecompileError(f"{path}: not a Python module; give a .py file")
        if not path.is_file():
            raise DecompileError(f"{path}: no such file")
        if any(p.resolve() == path.resolve() for p in targets):
            continue
        target = (out or path.parent) / f"{path.stem}.mrsh"
        if target.exists() and not force:
            raise DecompileError(f"{target}: already there; --force overwrites it")
        claimed = [p for p, t in targets.items() if t.resolve() == target.resolve()]
        if claimed:
            raise DecompileError(f"{claimed[0]} and {path} would both be written to {target}")
        targets[path] = target
    return list(targets.items())
