"""`marshalike lsp`: the language server, over stdin and stdout, for an editor to start.

It takes the options `compile` takes; they apply to the "Compile this spec" command (and
an editor may add settings of its own in `initializationOptions.settings`). Nothing else
it does needs a model.
"""

from __future__ import annotations

import click

from marshalike.cli.options import compile_options


@click.command()
@compile_options
def command(quick: bool, no_main: bool, **flags: object) -> None:
    """The language server for .mrsh specs, over stdio (for editors)."""
    from marshalike.lsp.server import serve

    serve(flags, quick=quick, main=not no_main)
