"""The `marshalike` command group. Commands are imported lazily, so `marshalike parse`
never pays for (or needs) what `marshalike serve` imports."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import NoReturn

import click

from marshalike import __version__
from marshalike.cli import interrupt
from marshalike.errors import MarshalikeError
from marshalike.language.diagnostics import printable

# command name -> module under marshalike.cli that defines `command`
COMMANDS: dict[str, str] = {
    "parse": "parse_cmd",
    "compile": "compile_cmd",
    "check": "check_cmd",
    "clarify": "clarify_cmd",
    "watch": "watch_cmd",
    "serve": "serve_cmd",
    "config": "config_cmd",
    "cache": "cache_cmd",
    "models": "models_cmd",
    "init": "init_cmd",
    "lsp": "lsp_cmd",
    "decompile": "decompile_cmd",
}


_LONGEST_MESSAGE = 2000  # characters of an error's message shown (it may quote an input)


def one_line_message(exc: BaseException) -> str:
    """An error's message as one line a terminal shows as it is (a path may hold a line
    break or an escape sequence), cut where it would quote a huge input whole."""
    said = printable(str(exc))
    return said if len(said) <= _LONGEST_MESSAGE else said[:_LONGEST_MESSAGE] + "..."


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.Abort):
            # Ctrl-C, or the end of input at a prompt: click would say "Aborted!" and exit 1.
            _interrupted(ctx)
        except MarshalikeError as exc:
            if interrupt.requested():  # a compile stopped by Ctrl-C (its `Cancelled`)
                _interrupted(ctx)
            # A one-line message, never a traceback: every command gets this for free.
            click.echo(f"marshalike: error: {one_line_message(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit):
            raise
        except BrokenPipeError:
            # The reader of stdout went away (`marshalike config | head -1`): click's main
            # ends quietly with status 1, as other tools in a pipe do.
            raise
        except Exception as exc:
            if interrupt.requested():  # whatever broke as Ctrl-C cut it short
                _interrupted(ctx)
            from marshalike.settings.sources import GONE, working_folder_gone

            if isinstance(exc, FileNotFoundError) and working_folder_gone():
                # A relative path resolved after the shell's folder was deleted.
                click.echo(f"marshalike: error: {GONE}", err=True)
                ctx.exit(2)
            # A bug of ours still ends in one line; MARSHALIKE_DEBUG=1 shows the traceback.
            if os.environ.get("MARSHALIKE_DEBUG") == "1":
                raise
            name = type(exc).__name__
            click.echo(
                f"marshalike: internal error: {name}: {one_line_message(exc)} "
                "(rerun with MARSHALIKE_DEBUG=1 for the traceback, and please report it)",
                err=True,
            )
            ctx.exit(70)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Every command reads its paths and pyproject.toml from the working folder: where
        # the shell's folder was deleted, say so before any of them trips over it.
        from marshalike.settings.sources import working_folder, working_folder_gone

        if working_folder_gone() and not set(args[1:]) & {"-h", "--help"}:
            working_folder()  # raises the one-line ConfigError
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module = importlib.import_module(f"marshalike.cli.{COMMANDS[cmd_name]}")
        return module.command


def _interrupted(ctx: click.Context) -> NoReturn:
    interrupt.tell()
    ctx.exit(interrupt.STATUS)


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"marshalike.cli.{COMMANDS[name]}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="marshalike")
def cli() -> None:
    """Compile .mrsh specs into tested Python."""


def main() -> None:
    with interrupt.handled():
        try:
            cli.main(standalone_mode=True)
        except KeyboardInterrupt:  # outside a command: while click reads the arguments
            interrupt.tell()
        except SystemExit:
            if not interrupt.requested():
                raise
        else:
            return
        # Interrupted: exit 130 now, not once the worker threads' model calls return.
        interrupt.end()
