"""`marshalike lsp`: the language server, over stdin and stdout, for an editor to start.

It takes the options `compile` takes; they apply to the "Compile this spec" command (and
an editor may add settings of its own in `initializationOptions.settings`). Nothing else
it does needs a model. `--stdio` and `--clientProcessId=PID`, which language clients add,
are taken and ignored.
"""

from __future__ import annotations

import click

from marshalike.cli.options import compile_options


@click.command()
@compile_options
# What language clients add to a server's command line (vscode-languageclient with its
# stdio transport, for one): stdio is the only transport, and the server watches no
# client process, so both are taken and ignored.
@click.option("--stdio", "stdio", is_flag=True, hidden=True)
@click.option("--clientProcessId", "client_process_id", metavar="PID", hidden=True)
def command(
    quick: bool, no_main: bool, stdio: bool, client_process_id: str | None, **flags: object
) -> None:
    """The language server for .mrsh specs, over stdio (for editors)."""
    from marshalike.lsp.server import serve

    serve(flags, quick=quick, main=not no_main)
