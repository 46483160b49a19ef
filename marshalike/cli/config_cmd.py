"""`marshalike config`: the effective settings and where each one came from."""

from __future__ import annotations

import click

from marshalike.sandbox.isolation import isolation, weaker_isolation
from marshalike.settings import SETTINGS, resolve
from marshalike.settings.reference import markdown
from marshalike.settings.urls import shown_url


@click.command()
@click.option(
    "--reference", is_flag=True, help="Print every setting's reference (Markdown) instead."
)
def command(reference: bool) -> None:
    """Print the effective settings (pyproject.toml, then environment, then flags)."""
    if reference:
        click.echo(markdown(), nl=False)
        return
    settings = resolve({})
    for name, about in SETTINGS.items():
        value = getattr(settings, name)
        if about.secret and value:
            value = "(set)"  # never print a secret
        elif about.url and value:
            value = shown_url(value)  # nor a password in a URL
        source = settings.sources.get(name, "default")
        click.echo(f"{name:<16} = {value!r:<40} # {source}")
    click.echo(f"{'backend (used)':<16} = {settings.backend_name!r:<40} # derived")
    if settings.repair is None:
        click.echo(f"{'repair (used)':<16} = {settings.repairs!r:<40} # derived: prompt kind")
    weaker = weaker_isolation()
    why = f"this machine: {weaker}" if weaker else "this machine (docs/security.md)"
    click.echo(f"{'sandbox':<16} = {isolation()!r:<40} # {why}")
