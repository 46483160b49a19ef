"""`marshalike cache`: what the local backend keeps on disk, where and how big, with a
total; `--clear` removes marshalike's own caches (files named as the runtime names them, and
the embedded model it assembled), naming each file it removes and each file it leaves as
not marshalike's; never an installed package's files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from marshalike.backends.caches import NOT_OURS, Entry, cache_dir, clear, human, inventory


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
        for path in _not_ours(entries):
            click.echo(f"left: {path} (not marshalike's)")
        click.echo(f"cleared: {len(removed)} files, {human(total)}")


def _report(entries: list[Entry], removed: list[Path], wiped: bool) -> dict[str, object]:
    report: dict[str, object] = {
        "cache_dir": str(cache_dir()),
        "entries": [entry.as_json() for entry in entries],
        "total_bytes": sum(entry.size for entry in entries if entry.removable),
        "all_bytes": sum(entry.size for entry in entries),
    }
    if wiped:
        report["removed"] = [str(path) for path in removed]
        report["left"] = [str(path) for path in _not_ours(entries)]
    return report


def _not_ours(entries: list[Entry]) -> list[Path]:
    """The files of the cache folder that marshalike did not write, which --clear leaves."""
    return [path for entry in entries if entry.name == NOT_OURS for path in entry.files]
