"""`marshalike config`: the effective settings and where each one came from."""

from __future__ import annotations

from dataclasses import fields

import click

from marshalike.sandbox.isolation import isolation, weaker_isolation
from marshalike.settings import Settings, resolve


@click.command()
def command() -> None:
    """Print the effective settings (pyproject.toml, then environment, then flags)."""
    settings = resolve({})
    for item in fields(Settings):
        if item.name == "sources":
            continue
        value = getattr(settings, item.name)
        if item.name == "api_key" and value:
            value = "(set)"  # never print a secret
        source = settings.sources.get(item.name, "default")
        click.echo(f"{item.name:<16} = {value!r:<40} # {source}")
    click.echo(f"{'backend (used)':<16} = {settings.backend_name!r:<40} # derived")
    if settings.repair is None:
        click.echo(f"{'repair (used)':<16} = {settings.repairs!r:<40} # derived: prompt kind")
    weaker = weaker_isolation()
    why = f"this machine: {weaker}" if weaker else "this machine (docs/security.md)"
    click.echo(f"{'sandbox':<16} = {isolation()!r:<40} # {why}")
