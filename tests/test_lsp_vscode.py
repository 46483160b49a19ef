"""editors/vscode: the extension's manifest names the files it ships and the server it
starts, its client is valid JavaScript, and it builds into a `.vsix` with `@vscode/vsce`
from the npm registry (skipped, with the reason, where npm is absent or the registry cannot
be reached)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

VSCODE = Path(__file__).resolve().parents[1] / "editors" / "vscode"
OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "network")


def manifest() -> dict[str, object]:
    data = json.loads((VSCODE / "package.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_manifest_names_real_files_and_starts_marshalike_lsp() -> None:
    data = manifest()
    assert (VSCODE / str(data["main"])).is_file()
    contributes = data["contributes"]
    assert isinstance(contributes, dict)
    (language,) = contributes["languages"]
    assert language["id"] == "mrsh" and (VSCODE / language["configuration"]).is_file()
    (grammar,) = contributes["grammars"]
    assert (VSCODE / grammar["path"]).is_file()
    assert data["activationEvents"] == ["onLanguage:mrsh"]
    assert "vscode-languageclient" in data["dependencies"]  # type: ignore[operator]
    path = contributes["configuration"]["properties"]["marshalike.path"]
    assert path["default"] == "marshalike"
    client = (VSCODE / "extension.js").read_text("utf-8")
    assert 'args: ["lsp", ...config.get("args", [])]' in client


def test_the_client_starts_the_server_as_marshalike_lsp_takes_it() -> None:
    """vscode-languageclient appends `--stdio` to an executable's arguments when its
    transport is stdio; the client leaves the transport out (stdio all the same), and the
    server takes that flag and `--clientProcessId` should another client add them."""
    client = (VSCODE / "extension.js").read_text("utf-8")
    assert "transport:" not in client
    args = ["lsp", "--stdio", "--clientProcessId=4242"]
    done = subprocess.run(
        [sys.executable, "-m", "marshalike", *args],
        input=_initialize_and_exit(), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in done.stdout.split(b"Content-Length")[1:]]
    answers = {answer.get("id"): answer for answer in map(json.loads, bodies)}
    assert "capabilities" in answers[1]["result"]
    assert answers[2]["result"] is None


def _initialize_and_exit() -> bytes:
    def message(body: dict[str, object]) -> bytes:
        data = json.dumps({"jsonrpc": "2.0", **body}).encode()
        return b"Content-Length: %d\r\n\r\n" % len(data) + data

    initialize = {"processId": None, "rootUri": None, "capabilities": {}}
    return (
        message({"id": 1, "method": "initialize", "params": initialize})
        + message({"method": "initialized", "params": {}})
        + message({"id": 2, "method": "shutdown"})
        + message({"method": "exit"})
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="node is absent")
def test_the_client_is_valid_javascript() -> None:
    subprocess.run(["node", "--check", str(VSCODE / "extension.js")], check=True)


def _npm(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            args, cwd=folder, capture_output=True, text=True, timeout=400, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"`{' '.join(args[:3])}` took over 400 s: the npm registry is too slow")
    if done.returncode != 0 and any(word in done.stderr for word in OFFLINE):
        pytest.skip("the npm registry cannot be reached: " + done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is absent: the .vsix needs npm")
def test_the_extension_builds_into_a_vsix(tmp_path: Path) -> None:
    folder = tmp_path / "vscode"
    shutil.copytree(VSCODE, folder, ignore=shutil.ignore_patterns("node_modules", "*.vsix"))
    _npm(["npm", "install", "--omit=dev", "--no-audit", "--no-fund"], folder)
    vsix = tmp_path / "marshalike.vsix"
    vsce = ["npx", "--yes", "@vscode/vsce@3", "package", "--skip-license"]
    _npm([*vsce, "--allow-missing-repository", "--out", str(vsix)], folder)
    names = set(zipfile.ZipFile(vsix).namelist())
    for shipped in (
        "extension/package.json",
        "extension/extension.js",
        "extension/language-configuration.json",
        "extension/syntaxes/mrsh.tmLanguage.json",
        "extension/node_modules/vscode-languageclient/package.json",
    ):
        assert shipped in names, shipped
