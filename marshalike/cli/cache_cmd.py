"""`marshalike cache`: what the local backend keeps on disk, where and how big, with a
total; `--clear` removes marshalike's own caches (files named as the runtime names them, and
the embedded model it assembled, unless MARSHALIKE_CACHE_DIR names a folder it is not in),
naming each file it removes and each file it leaves as not marshalike's; never an installed
package's files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from marshalike.backends.caches import (
    ASSEMBLED,
    NOT_OURS,
    Entry,
    cache_dir,
    clear,
    human,
    inventory,
)


@click.command()
@click.option(
    "--clear", "wipe", is_flag=True,
    help="Remove marshalike's caches and the embedded model it assembled, naming each file; "
    "files marshalike did not write are left.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def command(wipe: bool, as_json: bool) -> None:
    """Show the local backend's caches (model, weights, kernels); --clear removes them."""
    entries = inventory()
    removed = clear(entries) if wipe else []
    if as_json:
        click.echo(json.dumps(_report(entries, removed, wipe), indent=2))
        return
    click.echo(f"cache folder: {cache_dir()} (MARSHALIKE_CACHE_DIR moves it)")
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        count = len(entry.files)
        files = f"{count} file" + ("" if count == 1 else "s")
        left = "" if entry.removable else "  (kept by --clear)"
        click.echo(
            f"  {entry.name:<{width}}  {human(entry.size):>7}  {files:<8}  {entry.path}{left}"
        )
    total = sum(entry.size for entry in entries if entry.removable)
    everything = sum(entry.size for entry in entries)
    click.echo(f"total: {human(total)} in caches, {human(everything)} with the files kept")
    if wipe:
        for path in removed:
            click.echo(f"removed: {path}")
        for path, why in _left(entries):
            click.echo(f"left: {path} ({why})")
        files = "file" if len(removed) == 1 else "files"
        click.echo(f"cleared: {len(removed)} {files}, {human(total)}")


def _report(entries: list[Entry], removed: list[Path], wiped: bool) -> dict[str, object]:
    report: dict[str, object] = {
        "cache_dir": str(cache_dir()),
        "entries": [entry.as_json() for entry in entries],
        "total_bytes": sum(entry.size for entry in entries if entry.removable),
        "all_bytes": sum(entry.size for entry in entries),
    }
    if wiped:
        report["removed"] = [str(path) for path in removed]
        report["left"] = [str(path) for path, _ in _left(entries)]
    return report


def _left(entries: list[Entry]) -> list[tuple[Path, str]]:
    """What --clear leaves that a user might expect it to remove, each with why: the files
    of the cache folder that marshalike did not write, and the assembled model where
    MARSHALIKE_CACHE_DIR names a folder it is not in."""
    left = [(path, "not marshalike's") for e in entries if e.name == NOT_OURS for path in e.files]
    shared = "outside the cache folder MARSHALIKE_CACHE_DIR names; shared with the default one"
    left += [(path, shared) for e in entries if e.name == ASSEMBLED and not e.removable
             for path in e.files]  # fmt: skip
    return left
