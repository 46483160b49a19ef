"""Typing in a large spec: the server gathers the changes that arrive while an analysis
runs and analyses only the latest text, so it publishes far fewer diagnostics than there
were edits and answers a hover promptly after the last one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsp_session import SERVER, session
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from marshalike.lsp.server import SpecServer

FUNCTIONS = 1000
EDITS = 60

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Counting(dict):  # type: ignore[type-arg]
    """The client's diagnostics, counting how often each document's are published."""

    def __init__(self) -> None:
        super().__init__()
        self.count: dict[str, int] = {}

    def __setitem__(self, key: str, value: object) -> None:
        self.count[key] = self.count.get(key, 0) + 1
        super().__setitem__(key, value)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    async for _ in session(lsp_client):
        yield


def _spec(edit: int) -> str:
    parts = [
        f"# func f{i}(x: int): int\n\nAdd {i} to the number (edit {edit}).\n\n* f{i}(1) = {i + 1}\n"
        for i in range(FUNCTIONS)
    ]
    return "\n".join(parts)


async def test_rapid_changes_to_a_large_spec_are_coalesced(
    client: LanguageClient, tmp_path: Path
) -> None:
    counting = Counting()
    client.diagnostics = counting
    uri = (tmp_path / "big.mrsh").as_uri()
    item = types.TextDocumentItem(uri=uri, language_id="mrsh", version=1, text=_spec(0))
    client.text_document_did_open(types.DidOpenTextDocumentParams(item))
    deadline = time.monotonic() + 60
    while counting.count.get(uri, 0) < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    started = counting.count[uri]
    for version in range(2, EDITS + 2):
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                [types.TextDocumentContentChangeWholeDocument(text=_spec(version))],
            )
        )
        await asyncio.sleep(0.05)
    asked = time.monotonic()
    hover = await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri=uri), types.Position(0, 8))
        ),
        timeout=60,
    )
    answered = time.monotonic() - asked
    published = counting.count[uri] - started
    assert hover is not None
    assert published < EDITS / 2, published
    assert answered < 10, answered


async def test_changes_during_a_slow_analysis_wait_and_are_analysed_together() -> None:
    """As the stdio loop feeds them: one message per trip through a worker thread, each
    change 50 ms after the last, while each analysis takes 300 ms."""
    server = SpecServer(debounce_s=0.15)
    analysed: list[float] = []

    def slow(uris: object) -> list[object]:
        time.sleep(0.3)
        analysed.append(time.monotonic())
        return []

    server.editor.analyse = slow  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    for _ in range(30):
        server.schedule(["file:///big.mrsh"])
        await loop.run_in_executor(None, time.sleep, 0.05)
    while server._timer is not None:
        await asyncio.sleep(0.05)
    assert 1 <= len(analysed) <= 15, len(analysed)  # one per change without the wait
