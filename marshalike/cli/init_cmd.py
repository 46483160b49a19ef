"""`marshalike init [DIR]`: set a project up for marshalike. It adds `[tool.marshalike]`
to pyproject.toml (appended as text, so the rest of the file keeps its bytes), a first spec,
a pre-commit hook and a GitHub Actions workflow (cli/scaffold.py), and never overwrites
a file: what exists is named and left as it is."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from marshalike.cli import scaffold
from marshalike.errors import ConfigError, MarshalikeError


class InitError(MarshalikeError):
    """A file init must read or write could not be."""

    exit_code = 2


@click.command()
@click.argument("folder", default=".", type=click.Path(path_type=Path))
@click.option(
    "--source",
    metavar="URL",
    help="Where CI installs marshalike from: git+https://HOST/OWNER/marshalike@COMMIT "
    "[found from this installation].",
)
def command(folder: Path, source: str | None) -> None:
    """Add marshalike's settings, a first spec, a pre-commit hook and a CI workflow to
    FOLDER [.], leaving every existing file as it is."""
    if source is not None and not scaffold.valid_source(source):
        raise ConfigError(
            f"--source {source!r}: give a git URL pip can install, such as "
            "git+https://github.com/OWNER/marshalike@COMMIT"
        )
    found = scaffold.Source(source, "--source") if source else scaffold.install_source()
    said: list[str] = []
    try:
        _set_up(folder, found, said)
    finally:
        # Every write first, then what was done: a reader of stdout that goes away early
        # (`marshalike init | head -1`) leaves no project half set up.
        for line in said:
            click.echo(line)


def _set_up(folder: Path, found: scaffold.Source | None, said: list[str]) -> None:
    """Write what init writes into `folder`, adding to `said` a line for each file."""
    _make_folder(folder)
    _pyproject(folder / "pyproject.toml", said)
    _new_file(folder / scaffold.SPEC_PATH, scaffold.SPEC, said)
    hook = _new_file(folder / scaffold.PRE_COMMIT_PATH, scaffold.pre_commit(found), said)
    ci = _new_file(folder / scaffold.WORKFLOW_PATH, scaffold.workflow(found), said)
    if found is not None and (hook or ci):
        said.append(f"marshalike for CI: {found.url} (from {found.found})")
    elif ci:
        said.append(
            "marshalike for CI: unknown; set the repository variable MARSHALIKE_SOURCE "
            "to git+https://HOST/OWNER/marshalike@COMMIT, or rerun with --source"
        )
    said.append(f"next: marshalike compile {folder / scaffold.SPEC_PATH}, then commit the outputs")


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InitError(f"{folder}: not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InitError(f"{folder}: cannot create the folder: {exc.strerror}") from None


def _pyproject(path: Path, said: list[str]) -> None:
    """Append the table to pyproject.toml (created when missing); an existing table stays."""
    try:
        old = path.read_bytes() if path.exists() else b""
    except OSError as exc:
        raise InitError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = old.decode("utf-8")
        parsed = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InitError(f"{path}: not valid TOML ({exc}); fix it, then run init again") from None
    tool = parsed.get("tool")
    if isinstance(tool, dict) and "marshalike" in tool:
        said.append(f"skipped {path}: it has [tool.marshalike] already")
        return
    gap = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    added = gap + scaffold.TOOL_TABLE
    try:
        tomllib.loads(text + added)
    except tomllib.TOMLDecodeError:
        # `tool = {...}` inline, say: a table cannot be appended to it.
        raise InitError(
            f"{path}: cannot append [tool.marshalike] to how this file writes its [tool] "
            "table; add the table by hand"
        ) from None
    try:
        with path.open("ab") as out:
            out.write(added.encode("utf-8"))
    except OSError as exc:
        raise InitError(f"{path}: cannot write: {exc.strerror}") from None
    said.append(f"{'added [tool.marshalike] to' if old else 'wrote'} {path}")


def _new_file(path: Path, text: str, said: list[str]) -> bool:
    """Write `path` unless it exists; whether it was written."""
    if path.exists() or path.is_symlink():
        said.append(f"skipped {path}: it exists")
        return False
    # A file where a folder of the path goes (`.github/workflows`): say which.
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        said.append(f"skipped {path}: {blocker} is not a folder")
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        said.append(f"skipped {path}: it exists")
        return False
    except OSError as exc:
        raise InitError(f"{path}: cannot write: {exc.strerror}") from None
    said.append(f"wrote {path}")
    return True
