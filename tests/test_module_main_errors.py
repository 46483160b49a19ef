"""Bad input to a generated module's command line and server: one line and a non-zero
exit, or a JSON error object, never a traceback, an "internal error" or an HTML page.

The function bodies below are a hand-written TEST DOUBLE standing in for verified model
output; no model wrote them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from marshalike.codegen.emit import module_source
from marshalike.codegen.module_main import SUPPORT_FILE, append_main, support_source
from marshalike.language.parse import parse

SPECS = {
    "echo": "# func echo(text: string): string\n\nGives the text back.\n\n* echo('a') = 'a'\n",
    "pair": (
        "# type Any\na, b\n1, 2\n\n# func total(Any): integer\n\n"
        "The sum of the two fields.\n\n* total(Any(1, 2)) = 3\n"
    ),
}

# TEST DOUBLE: hand-written bodies in place of model output.
BODIES = {
    "echo": {"echo": "def echo(text: str) -> str:\n    return text\n"},
    "pair": {"total": "def total(pair):\n    return pair.a + pair.b\n"},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    for name, text in SPECS.items():
        parsed = parse(text, f"{name}.mrsh")
        assert parsed.module is not None, parsed.diagnostics
        source = module_source(parsed.module, BODIES[name], spec_name=f"{name}.mrsh", spec_hash="0")
        (out / f"{name}.py").write_text(append_main(source, parsed.module), encoding="utf-8")
    (out / SUPPORT_FILE).write_text(support_source(), encoding="utf-8")
    return out


def run(
    folder: Path, name: str, *args: str, encoding: str = "utf-8", stdout: object = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", name, *args],
        cwd=folder,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        env={**os.environ, "PYTHONIOENCODING": encoding},
        timeout=30,
    )


def test_a_spec_type_named_any_is_the_spec_s_own(folder: Path) -> None:
    done = run(folder, "pair", "total", '{"a": 1, "b": 2}')
    assert (done.returncode, done.stdout, done.stderr) == (0, "3\n", "")


@pytest.mark.parametrize(
    ("encoding", "arg", "stdout"),
    [
        ("utf-8", '"\\udcff"', '"\\udcff"\n'),  # a lone surrogate UTF-8 cannot write
        ("ascii", '"Zoë"', '"Zo\\u00eb"\n'),
        ("utf-8", '"Zoë"', '"Zoë"\n'),
    ],
)
def test_a_result_stdout_cannot_encode_is_escaped(
    folder: Path, encoding: str, arg: str, stdout: str
) -> None:
    done = run(folder, "echo", "echo", arg, encoding=encoding)
    assert (done.returncode, done.stdout, done.stderr) == (0, stdout, "")


def test_a_port_of_other_digits_is_bad_usage(folder: Path) -> None:
    done = run(folder, "echo", "--serve", "²")
    error = "echo: error: --serve needs a port number from 0 to 65535, not '²'\n"
    assert (done.returncode, done.stdout, done.stderr) == (2, "", error)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("echo", '"x"'), ("--help",)])
def test_a_stdout_that_cannot_be_written_is_one_line(folder: Path, args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        done = run(folder, "echo", *args, stdout=full)
    error = "echo: error: cannot write to stdout: No space left on device\n"
    assert (done.returncode, done.stderr) == (1, error)


# --serve


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "echo", "--serve", "0"],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        assert line.startswith("serving on http://127.0.0.1:"), line
        host, port = line.split()[2].removeprefix("http://").split(":")
        yield host, int(port)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in stderr


def raw(server: tuple[str, int], request: bytes) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the answer to a request sent as is."""
    with socket.create_connection(server, timeout=30) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status.split()[1]), headers, body


def post(server: tuple[str, int], path: str, body: bytes) -> tuple[int, object]:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    status, _, answer = raw(server, head.encode() + body)
    return status, json.loads(answer)


def test_serve_escapes_a_result_utf_8_cannot_hold(server: tuple[str, int]) -> None:
    assert post(server, "/echo", b'["\\udcff"]') == (200, "\udcff")
    assert post(server, "/echo", '["Zoë"]'.encode()) == (200, "Zoë")


@pytest.mark.parametrize("length", ["²", "-1", "1e3"])
def test_serve_answers_a_bad_content_length_with_400(server: tuple[str, int], length: str) -> None:
    request = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n[]"
    status, headers, body = raw(server, request.encode("latin-1"))  # "²" is one byte
    error = f"Content-Length is not a number: {length!r}"
    assert (status, headers["Content-Type"], json.loads(body)) == (
        400,
        "application/json",
        {"error": error},
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "allow", "error"),
    [
        ("PUT", "/echo", 405, "POST", "use POST /FUNC"),
        ("DELETE", "/echo", 405, "POST", "use POST /FUNC"),
        ("PATCH", "/echo", 405, "POST", "use POST /FUNC"),
        ("OPTIONS", "/echo", 405, "POST", "use POST /FUNC"),
        ("GET", "/echo?x=1", 405, "POST", "use POST /FUNC"),
        ("PUT", "/nope", 404, None, "unknown function 'nope'"),
        ("GET", "/", 404, None, "unknown function ''"),
        ("FROB", "/echo", 501, None, "Unsupported method ('FROB')"),
    ],
)
def test_serve_answers_other_methods_in_json(
    server: tuple[str, int], method: str, path: str, status: int, allow: str | None, error: str
) -> None:
    got, headers, body = raw(server, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (got, headers.get("Allow"), json.loads(body)) == (status, allow, {"error": error})
    assert headers["Content-Type"] == "application/json"


def test_serve_answers_head_as_get_without_a_body(server: tuple[str, int]) -> None:
    _, get_headers, get_body = raw(server, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = raw(server, b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, headers["Allow"], body) == (405, "POST", b"")
    assert headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))


def test_serve_answers_a_request_python_refuses_in_json(server: tuple[str, int]) -> None:
    request = b"POST /echo HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n"
    status, headers, body = raw(server, request)
    assert (status, headers["Content-Type"]) == (431, "application/json")
    assert json.loads(body) == {"error": "Too many headers"}
