"""`marshalike decompile`: existing Python modules in, .mrsh specs out, whose examples are
what the code returns.

One spec per module, written as NAME.mrsh beside it or in `--out`; a spec already there is
left alone unless `--force`. The report (stdout) says, per function, how many examples were
kept and how many variants of its code they tell apart, or why it was left as prose for a
human; per type, where it has no sample row.
"""

from __future__ import annotations

from pathlib import Path

import click

from marshalike.decompile.module import DecompileError, decompile_file


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
@click.option("--force", is_flag=True, help="Overwrite specs that are already there.")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Sandboxed runs at once.")  # fmt: skip
def command(
    paths: tuple[Path, ...], out: Path | None, functions: str, force: bool, jobs: int
) -> None:
    """Turn Python modules into specs whose examples are measured on the existing code."""
    names = tuple(n.strip() for n in functions.split(",") if n.strip())
    targets = []
    for path in paths:
        if path.suffix != ".py":
            raise DecompileError(f"{path}: not a Python module; give a .py file")
        if not path.is_file():
            raise DecompileError(f"{path}: no such file")
        target = (out or path.parent) / f"{path.stem}.mrsh"
        if target.exists() and not force:
            raise DecompileError(f"{target}: already there; --force overwrites it")
        targets.append((path, target))
    for path, target in targets:
        done = decompile_file(path, functions=names, jobs=jobs)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(done.spec, encoding="utf-8")
        except OSError as exc:
            raise DecompileError(f"{target}: cannot be written: {exc.strerror or exc}") from None
        click.echo(f"{path} -> {target}")
        for line in [*done.notes, *(f.line() for f in done.functions)]:
            click.echo(f"  {line}")
