"""`marshalike parse` (placeholder until the parser lands)."""

import click


@click.command()
@click.argument("paths", nargs=-1, required=True)
def command(paths: tuple[str, ...]) -> None:
    """Parse specs and print diagnostics."""
    raise click.UsageError("the parser is not built yet")
