"""`marshalike models`: models from the Hugging Face Hub for the local backend.

`models pull hf:OWNER/REPO[/FILE.gguf]` downloads a GGUF into the cache folder, with a
progress bar, continuing a download cut short and checking the file against the hub's
checksum; `models list` says what is downloaded, where and how big. `--model
hf:OWNER/REPO[/FILE.gguf]` (compile, watch, serve) uses the same files, downloading on
first use. docs/models.md recommends models by hardware.
"""

from __future__ import annotations

import json

import click

from marshalike.backends import hub
from marshalike.backends.caches import human


@click.group()
def command() -> None:
    """Download models from the Hugging Face Hub and list those downloaded."""


@command.command()
@click.argument("model", metavar="hf:OWNER/REPO[/FILE.gguf]")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def pull(model: str, quiet: bool) -> None:
    """Download a GGUF from the hub into the cache folder (without FILE: the repo's
    Q4_K_M file, else its only GGUF). A download cut short continues where it stopped."""
    if not hub.is_hub(model):
        model = hub.PREFIX + model
    found, fetched = hub.pull(hub.parse(model), progress=not quiet)
    verb = "downloaded" if fetched else "already downloaded"
    checked = f", sha256 {found.sha256}" if found.sha256 else ""
    click.echo(f"{verb} {found.spec} ({human(found.size)}{checked})")
    click.echo(f"  {found.path}")
    click.echo(f"use it with: marshalike compile --model {found.spec} SPEC.mrsh")


@command.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_(as_json: bool) -> None:
    """The downloaded models: name, size and path."""
    models = hub.downloaded()
    partial = hub.partials()
    if as_json:
        report = {
            "models_dir": str(hub.models_dir()),
            "models": [model.as_json() for model in models],
            "partial": [str(path) for path in partial],
        }
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"models folder: {hub.models_dir()} (MARSHALIKE_CACHE_DIR moves it)")
    if not models:
        click.echo("  no models downloaded: marshalike models pull hf:OWNER/REPO[/FILE.gguf]")
    width = max((len(model.spec) for model in models), default=0)
    for model in models:
        click.echo(f"  {model.spec:<{width}}  {human(model.size):>7}  {model.path}")
    for path in partial:
        size = human(path.stat().st_size)
        click.echo(f"  (partial download, continued by the next pull)  {size:>7}  {path}")
    total = sum(model.size for model in models)
    click.echo(f"total: {human(total)} in {len(models)} model" + ("" if len(models) == 1 else "s"))
