"""`marshalike decompile`: existing Python modules in, .mrsh specs out, whose examples are
what the code returns.

One spec per module, written as NAME.mrsh beside it or in `--out`; a spec already there is
left alone unless `--force`. The report (stdout) says, per module, the `# use` lines of its
spec; per function, how many examples were kept and how many variants of its code they tell
apart (and, with `--tests`, how many inputs came from the tests; who wrote a description
the code had none of), or why it was left as prose for a human; per type, where it has no
sample row.

With `--round-trip`, once every spec is written, each is compiled as `compile` would
compile it, into a temporary folder, and a line per function after its module's lines says
whether it compiled and on how many of the original's measured answers the compiled code
agrees (`decompile.roundtrip`); a last line sums them up. A compile that cannot start is a
one-line error; the specs stay written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from marshalike.build.output import write_atomic
from marshalike.cli.options import WholeNumber, model_options
from marshalike.decompile.describe import from_model
from marshalike.decompile.errors import DecompileError
from marshalike.decompile.from_tests import ProjectTests
from marshalike.decompile.model import RunModel
from marshalike.decompile.module import Aids, Decompiled, decompile_files, module_path_problem
from marshalike.decompile.roundtrip import Agreement, recompiler, summary
from marshalike.errors import MarshalikeError
from marshalike.language.diagnostics import printable
from marshalike.language.reserved import spec_name_problem


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
@click.option("--tests", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="The folder of the project's tests: literal calls in its test files are "
              "inputs to run too.")  # fmt: skip
@click.option(
    "--no-model",
    "no_model",
    is_flag=True,
    help="Ask no model: a function with no docstring says so in its spec, for a human.",
)
@click.option(
    "--round-trip",
    "round_trip",
    is_flag=True,
    help="Compile each spec as `compile` would, into a temporary folder, and compare the "
    "compiled code with the original on the inputs measured.",
)
@model_options
@click.option("--force", is_flag=True, help="Overwrite specs that are already there.")
@click.option("--jobs", type=WholeNumber(1, 64), default=2, show_default=True,
              help="Sandboxed runs at once.")  # fmt: skip
def command(
    paths: tuple[Path, ...],
    out: Path | None,
    functions: str,
    tests: Path | None,
    no_model: bool,
    round_trip: bool,
    force: bool,
    jobs: int,
    **flags: object,
) -> None:
    """Turn Python modules into specs whose examples are measured on the existing code."""
    if round_trip and no_model:
        raise DecompileError("--round-trip compiles the specs with a model: drop --no-model")
    names = tuple(n.strip() for n in functions.split(",") if n.strip())
    targets = _targets(paths, out, force)
    project = None if tests is None else ProjectTests.read(tests)
    for skipped in project.skipped if project else ():
        said = printable(f"{skipped}: not Python; its calls are not used")
        click.echo(f"marshalike: warning: {said}", err=True)
    model = RunModel(flags)
    aids = Aids(project, None if no_model else from_model(model))
    written = []
    for path, target, done in decompile_files(targets, functions=names, jobs=jobs, aids=aids):
        _write(target, done)
        if round_trip:
            written.append((path, target, done))
        else:
            _report(path, target, done)
    if round_trip:
        _round_trips(written, model)


def _write(target: Path, done: Decompiled) -> None:
    try:  # atomically: an interrupted write leaves the spec that was there, or none
        write_atomic(target, done.spec)
    except OSError as exc:
        raise DecompileError(f"{target}: cannot be written: {exc.strerror or exc}") from None


def _report(
    path: Path, target: Path, done: Decompiled, agreements: Sequence[Agreement] = ()
) -> None:
    click.echo(printable(f"{path} -> {target}"))  # a path may hold an escape sequence
    for line in [*done.notes, *(f.line() for f in done.functions), *(a.line() for a in agreements)]:
        click.echo(f"  {printable(line)}")


def _round_trips(written: Sequence[tuple[Path, Path, Decompiled]], model: RunModel) -> None:
    """Each written spec compiled and compared, its report lines then the round trip's;
    where a compile cannot start, the report of the specs left, then the error."""

    def progress(message: str) -> None:
        click.echo(f"marshalike: round trip: {printable(message)}", err=True)

    found: list[Agreement] = []
    shown = 0
    try:
        with recompiler(model, progress) as compiled:
            for path, target, done in written:
                agreements = compiled.check(target, done)
                _report(path, target, done, agreements)
                found += agreements
                shown += 1
    except MarshalikeError:
        for path, target, done in written[shown:]:
            _report(path, target, done)
        raise
    click.echo(summary(found))


def _targets(paths: tuple[Path, ...], out: Path | None, force: bool) -> list[tuple[Path, Path]]:
    """Each module (once) and where its spec goes; DecompileError before anything is run
    where a module is missing or two would share a spec."""
    targets: dict[Path, Path] = {}
    for path in paths:
        if (why := module_path_problem(path)) is not None:
            raise DecompileError(why)
        if any(p.resolve() == path.resolve() for p in targets):
            continue
        target = (out or path.parent) / f"{path.stem}.mrsh"
        if (why := spec_name_problem(path.stem)) is not None:  # a spec that could not compile
            raise DecompileError(f"{path}: its spec would be {target.name}, and {why}")
        if target.exists() and not force:
            raise DecompileError(f"{target}: already there; --force overwrites it")
        claimed = [p for p, t in targets.items() if t.resolve() == target.resolve()]
        if claimed:
            raise DecompileError(f"{claimed[0]} and {path} would both be written to {target}")
        targets[path] = target
    return list(targets.items())
