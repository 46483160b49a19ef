"""`marshalike serve` as a command: its help, the URL it prints, signals, one-line errors.

The child processes run the real CLI entry point with `FakeEngine` in place of the model.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner

import marshalike.cli.serve_cmd as serve_cmd
from marshalike.cli.main import cli

MODEL = "fake-char"


def test_serve_help() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=80)
    assert result.exit_code == 0
    assert result.output.startswith("Usage: cli serve [OPTIONS]\n")
    assert result.output == HELP


HELP = """\
Usage: cli serve [OPTIONS]

  Serve a model over an OpenAI-compatible API (/v1/models, /v1/completions,
  /v1/chat/completions). Stops cleanly on Ctrl-C or SIGTERM.

Options:
  --model PATH              A GGUF file, a safetensors folder, or
                            hf:OWNER/REPO[/FILE.gguf] (downloaded into the cache
                            on first use). Default: the embedded Gemma 3 270M.
  --quant [auto|none|int4]  Local backend: int4 keeps the GGUF's 4- to 8-bit
                            codes (CPU only); auto is int4 on a CPU with a C
                            compiler, else none [auto]. Clients see the same
                            model id; MARSHALIKE_QUANT sets it too.
  --host TEXT               Address to listen on [127.0.0.1].
  --port INTEGER RANGE      Port to listen on; 0 picks a free one [8000].
                            [0<=x<=65535]
  --api-key TEXT            Require this key as 'Authorization: Bearer KEY';
                            MARSHALIKE_SERVE_API_KEY keeps it out of ps.
  --max-request-tokens N    Refuse a request whose KV cache, n * (prompt +
                            max_tokens) tokens, reserved up front, would exceed
                            N [65536].  [x>=1]
  -h, --help                Show this message and exit.
"""


# Runs the real CLI entry point in a child process; only the model loader is replaced.
_CHILD = """
import sys
from fake_engine import FakeEngine
import marshalike.cli.serve_cmd as serve_cmd
serve_cmd.load_engine = lambda model, quant: FakeEngine()
from marshalike.cli.main import main
sys.argv = ["marshalike", "serve", *sys.argv[1:]]
main()
"""


def _loading_line() -> str:
    """What the child says first: the default quant is "auto", decided by this machine."""
    from marshalike.backends.local import resolve_quant

    quant = resolve_quant("auto")
    return "loading the embedded model" + ("" if quant == "none" else f" (quant {quant})") + "\n"


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    env.pop("MARSHALIKE_QUANT", None)
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_its_url_and_stops_cleanly_on_a_signal(sig: signal.Signals) -> None:
    child = _spawn("--port", "0")
    try:
        assert child.stderr is not None
        assert child.stderr.readline() == _loading_line()
        line = child.stderr.readline()
        assert line.startswith("serving fake-char on http://127.0.0.1:")
        base_url = line.split(" on ")[1].strip()
        assert base_url.endswith("/v1")
        client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=10)
        assert (
            client.completions.create(model=MODEL, prompt="abc", temperature=0).choices[0].text
            == "cba"
        )
        child.send_signal(sig)
        out, err = child.communicate(timeout=15)
    finally:
        child.kill()
    assert child.returncode == 0
    assert out == ""
    request_log = 'marshalike serve: 127.0.0.1 "POST /v1/completions HTTP/1.1" 200 -\n'
    assert err == request_log + "stopped\n"


def test_serve_reports_a_busy_port_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        child = _spawn("--port", str(port))
        out, err = child.communicate(timeout=15)
    assert child.returncode == 2
    assert err == (
        _loading_line()
        + f"marshalike: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


def test_serve_loads_the_engine_in_the_mode_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[tuple[str | None, str]] = []
    served: list[object] = []
    monkeypatch.setattr(
        serve_cmd, "load_engine", lambda model, quant: loads.append((model, quant)) or "engine"
    )
    monkeypatch.setattr(serve_cmd, "serve", lambda engine, **where: served.append(engine))
    monkeypatch.delenv("MARSHALIKE_QUANT", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--model", "m.gguf", "--quant", "int4"])
    assert (result.exit_code, result.stderr) == (0, "loading m.gguf (quant int4)\n")
    monkeypatch.setenv("MARSHALIKE_QUANT", "int4")
    assert CliRunner().invoke(cli, ["serve"]).stderr == "loading the embedded model (quant int4)\n"
    assert CliRunner().invoke(cli, ["serve", "--quant", "none"]).exit_code == 0
    assert loads == [("m.gguf", "int4"), (None, "int4"), (None, "none")]
    assert served == ["engine"] * 3


def test_serve_passes_its_request_limit_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[dict[str, object]] = []
    monkeypatch.setattr(serve_cmd, "load_engine", lambda model, quant: "engine")
    monkeypatch.setattr(serve_cmd, "serve", lambda engine, **options: served.append(options))
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
    assert CliRunner().invoke(cli, ["serve", "--max-request-tokens", "4096"]).exit_code == 0
    assert [options["max_request_tokens"] for options in served] == [65536, 4096]
    result = CliRunner().invoke(cli, ["serve", "--max-request-tokens", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--max-request-tokens': 0 is not in the range x>=1." in result.stderr


def test_serve_refuses_a_quant_mode_the_device_cannot_run_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = pytest.importorskip("torch")
    engine = pytest.importorskip("marshalike_runtime.engine")
    # As on a GPU machine, where the int4 mode does not run.
    monkeypatch.setattr(engine, "default_device", lambda: torch.device("cuda"))
    result = CliRunner().invoke(cli, ["serve", "--quant", "int4"])
    assert result.exit_code == 2
    assert result.stderr == (
        "loading the embedded model (quant int4)\n"
        "marshalike: error: cannot serve with --quant int4: quantization mode 'int4' runs on "
        "CPU; on a GPU the model runs in bf16 — use --quant none\n"
    )


def test_a_quantized_server_keeps_its_model_id() -> None:
    child = _spawn("--port", "0", "--quant", "int4")
    try:
        assert child.stderr is not None
        assert child.stderr.readline() == "loading the embedded model (quant int4)\n"
        base_url = child.stderr.readline().split(" on ")[1].strip()
        client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=10)
        assert [m.id for m in client.models.list()] == [MODEL]
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=15)
    finally:
        child.kill()
    assert child.returncode == 0
