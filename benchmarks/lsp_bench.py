"""The language server's speed and memory, measured over stdio as an editor sees them.

    python -m benchmarks.lsp_bench [--lines 1000] [--edits 100] [--specs 20]

Latency: the server (`marshalike lsp`) is started, a generated spec of `--lines` lines is
opened, then edited `--edits` times (one example's expected value changed each time, the
whole text sent, as a client with full sync sends it); for each edit the time from
sending the change to receiving the diagnostics published for its version. Edits are
`--gap` seconds apart (default 0.2, more than the server's 150 ms debounce interval), so
each one is analysed on arrival, as a pause in typing is. Memory: `--specs` specs of the
team corpus (`benchmarks/specs/`) are opened in a new server, their diagnostics awaited,
then the server's resident memory (VmRSS, Linux) is read after a second of idling.
Prints the median, 90th percentile and maximum latency in milliseconds, and the memory in
MB; `--json PATH` writes the figures too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks.parse_bench import generate

SPECS = Path(__file__).resolve().parent / "specs"
SERVER = [sys.executable, "-m", "marshalike", "lsp"]


class Client(LanguageClient):
    """A client that notes when each document's diagnostics arrive, by version."""

    def __init__(self) -> None:
        super().__init__("lsp-bench", "1")
        self.arrived: dict[tuple[str, int | None], float] = {}
        self.event = asyncio.Event()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            self.arrived[(params.uri, params.version)] = time.perf_counter()
            self.event.set()

    async def wait(self, key: tuple[str, int | None], timeout: float = 60.0) -> float:
        deadline = time.perf_counter() + timeout
        while key not in self.arrived:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), max(0.01, deadline - time.perf_counter()))
        return self.arrived[key]


async def started() -> Client:
    client = Client()
    await client.start_io(*SERVER)
    capabilities = types.ClientCapabilities()
    await client.initialize_async(types.InitializeParams(capabilities=capabilities))
    client.initialized(types.InitializedParams())
    return client


async def stopped(client: Client) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def open_doc(client: Client, uri: str, text: str, version: int = 0) -> None:
    item = types.TextDocumentItem(uri=uri, language_id="mrsh", version=version, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(item))


def change(client: Client, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def latency(lines: int, edits: int, gap: float, folder: Path) -> list[float]:
    text = generate(lines)
    uri = (folder / "bench.mrsh").as_uri()
    client = await started()
    try:
        open_doc(client, uri, text)
        await client.wait((uri, 0))
        marker = "* compute_1("
        at = text.index(marker)
        end = text.index("\n", at)
        times = []
        for version in range(1, edits + 1):
            await asyncio.sleep(gap)
            edited = text[:at] + text[at:end].rstrip() + f" + [{version}]" + text[end:]
            sent = time.perf_counter()
            change(client, uri, edited, version)
            times.append((await client.wait((uri, version)) - sent) * 1000)
        return times
    finally:
        await stopped(client)


async def idle_memory(count: int) -> tuple[int, float]:
    specs = sorted(SPECS.rglob("*.mrsh"))[:count]
    client = await started()
    try:
        for spec in specs:
            open_doc(client, spec.as_uri(), spec.read_text(encoding="utf-8"))
        for spec in specs:
            await client.wait((spec.as_uri(), 0))
        await asyncio.sleep(1.0)
        server = client._server
        assert server is not None
        return len(specs), _rss_mb(server.pid)
    finally:
        await stopped(client)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc (Linux only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.2)
    parser.add_argument("--specs", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        times = asyncio.run(latency(args.lines, args.edits, args.gap, Path(folder)))
    opened, rss = asyncio.run(idle_memory(args.specs))
    figures = {
        "lines": args.lines,
        "edits": len(times),
        "median_ms": statistics.median(times),
        "p90_ms": statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0],
        "max_ms": max(times),
        "specs_open": opened,
        "idle_rss_mb": rss,
    }
    print(
        f"{args.lines}-line spec, {len(times)} edits: change to diagnostics median "
        f"{figures['median_ms']:.1f} ms, p90 {figures['p90_ms']:.1f} ms, "
        f"max {figures['max_ms']:.1f} ms"
    )
    print(f"idle server with {opened} specs open: {rss:.1f} MB resident")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
