"""What the tests of the language server's compile commands share: a session of the real
server over stdio whose compiles go to a scripted OpenAI-compatible server, and hover's
text at a position."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

from fake_openai import FakeOpenAI
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

SERVER = [sys.executable, "-m", "marshalike", "lsp"]


def settings(model: FakeOpenAI) -> dict[str, str]:
    return {"backend": "openai", "base_url": model.base_url, "model": "fake-model"}


async def session(
    lsp_client: LanguageClient, model: FakeOpenAI | None = None
) -> AsyncIterator[None]:
    """Initialize the server, with `model` as its backend (--quick) where given, and shut
    it down."""
    options = None if model is None else {"settings": settings(model), "quick": True}
    params = types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options=options
    )
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def at(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


async def hover_text(client: LanguageClient, uri: str, where: types.Position) -> str:
    found = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri=uri), where)
    )
    assert found is not None and isinstance(found.contents, types.MarkupContent)
    return found.contents.value
