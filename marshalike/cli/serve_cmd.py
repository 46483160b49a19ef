"""`marshalike serve`: load a model and serve it over an OpenAI-compatible HTTP API."""

from __future__ import annotations

import ipaddress
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from marshalike.cli.options import WholeNumber
from marshalike.errors import ConfigError
from marshalike.settings import SETTINGS, choices, default
from marshalike_runtime.server_protocol import MAX_REQUEST_TOKENS  # no torch: plain values

if TYPE_CHECKING:
    from marshalike_runtime.server import OpenAIServer
    from marshalike_runtime.server_worker import EngineLike


@click.command()
@click.option(
    "--model",
    default=None,
    metavar="PATH",
    help="A GGUF file, a safetensors folder, or hf:OWNER/REPO[/FILE.gguf] (downloaded into "
    "the cache on first use). Default: the embedded Gemma 3 270M.",
)
@click.option(
    "--quant",
    type=click.Choice(choices("quant")),
    default=default("quant"),
    envvar=SETTINGS["quant"].env_names,
    help=SETTINGS["quant"].help_text
    + " Clients see the same model id; MARSHALIKE_QUANT sets it too.",
)
@click.option("--host", default="127.0.0.1", help="Address to listen on [127.0.0.1].")
@click.option(
    "--port",
    default=8000,
    type=WholeNumber(0, 65535),
    help="Port to listen on; 0 picks a free one [8000].",
)
@click.option(
    "--api-key",
    default=None,
    envvar="MARSHALIKE_SERVE_API_KEY",
    help="Require this key as 'Authorization: Bearer KEY'; MARSHALIKE_SERVE_API_KEY keeps it "
    "out of ps.",
)
@click.option(
    "--max-request-tokens",
    default=MAX_REQUEST_TOKENS,
    type=WholeNumber(min=1),
    metavar="N",
    help="Refuse a request whose KV cache, n * (prompt + max_tokens) tokens, reserved up "
    f"front, would exceed N [{MAX_REQUEST_TOKENS}].",
)
def command(
    model: str | None,
    host: str,
    port: int,
    api_key: str | None,
    quant: str,
    max_request_tokens: int,
) -> None:
    """Serve a model over an OpenAI-compatible API (/v1/models, /v1/completions,
    /v1/chat/completions). Stops cleanly on Ctrl-C or SIGTERM."""
    from marshalike.backends.caches import cache_dir
    from marshalike.backends.local import resolve_quant

    if model == "":
        raise ConfigError("--model is empty — leave it out for the embedded model")
    if not host.strip():
        raise ConfigError("--host is empty — give an address such as 127.0.0.1 (or 0.0.0.0)")
    cache_dir()  # an empty MARSHALIKE_CACHE_DIR is an error, not the default
    quant = resolve_quant(quant)
    mode = "" if quant == "none" else f" (quant {quant})"
    click.echo(f"loading {model or 'the embedded model'}{mode}", err=True)
    serve(
        load_engine(model, quant),
        host=host,
        port=port,
        api_key=api_key,
        max_request_tokens=max_request_tokens,
    )


def load_engine(model: str | None, quant: str = default("quant")) -> EngineLike:
    try:
        from marshalike_runtime.engine import Engine
        from marshalike_runtime.errors import ModelFileError
        from marshalike_runtime.quant import QuantError
    except ImportError as exc:
        raise ConfigError(
            f"the local runtime is not installed ({exc}); install it with "
            "`pip install 'marshalike[local]'`"
        ) from None
    from marshalike.backends.local import hub_path

    try:
        return Engine.load(hub_path(model), quant=None if quant == "none" else quant)
    except QuantError as exc:
        raise ConfigError(f"cannot serve with --quant {quant}: {exc} — use --quant none") from None
    except (OSError, ValueError, ModelFileError) as exc:
        # missing files, unsupported architectures, corrupt checkpoints
        raise ConfigError(f"cannot load {model or 'the embedded model'}: {exc}") from None


def serve(
    engine: EngineLike,
    *,
    host: str,
    port: int,
    api_key: str | None,
    max_request_tokens: int = MAX_REQUEST_TOKENS,
) -> None:
    """Serve `engine` until SIGINT or SIGTERM; the bound URL goes to stderr."""
    from marshalike_runtime.server import create_server

    try:
        server = create_server(
            engine,
            host=host,
            port=port,
            api_key=api_key,
            max_request_tokens=max_request_tokens,
        )
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if api_key is None and not _is_loopback(host):
        click.echo(
            f"warning: {host} is reachable from other machines and no --api-key is set", err=True
        )
    click.echo(f"serving {engine.model_name} on {server.base_url}", err=True)
    with _stop_on_signals(server):
        try:
            server.serve_forever()
        finally:
            server.close()
    click.echo("stopped", err=True)


@contextmanager
def _stop_on_signals(server: OpenAIServer) -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever, which runs in this very thread: hand it off
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
