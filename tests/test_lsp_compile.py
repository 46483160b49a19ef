"""The language server's "Compile this spec" command over stdio, against a scripted
OpenAI-compatible server: `$/progress` while it runs, the outputs written as `compile`
writes them, then hover telling the function's state and code, an example's verdict, and
the lock's open questions offered as "Add example" code actions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_lsp
from fake_openai import FakeOpenAI, Request
from lsp_session import SERVER, at, hover_text, session
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SPEC = """\
# func area(width: int, height: int): int

The area of a rectangle.

* area(2, 3) = 6
* area(0, 3) = 0
* area(1, 1) = 1
"""

pytestmark = pytest.mark.asyncio(loop_scope="module")


def answer(request: Request) -> str:
    return "```python\ndef area(width, height):\n    return width * height\n```"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(script=answer) as server:
        yield server


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient, model: FakeOpenAI) -> AsyncIterator[None]:
    async for _ in session(lsp_client, model):
        yield


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compile") / "area.mrsh"
    path.write_text(SPEC, encoding="utf-8")
    return path


async def test_compile_command_reports_progress_and_hover_shows_the_result(
    client: LanguageClient, spec: Path
) -> None:
    uri = spec.as_uri()
    item = types.TextDocumentItem(uri=uri, language_id="mrsh", version=1, text=SPEC)
    client.text_document_did_open(types.DidOpenTextDocumentParams(item))
    assert "not compiled yet" in await hover_text(client, uri, at(0, 8))
    result = await asyncio.wait_for(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="marshalike.compile", arguments=[uri])
        ),
        120,
    )
    assert result["ok"], result
    assert result["message"].startswith("area.mrsh: ok (wrote area.py, test_area.py")
    assert (spec.parent / "area.py").is_file() and (spec.parent / "area.lock.json").is_file()
    (kinds,) = [[type(v).__name__ for v in values] for values in client.progress_reports.values()]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    assert "WorkDoneProgressReport" in kinds
    shown = await hover_text(client, uri, at(0, 8))
    assert "**verified** with 3 examples" in shown
    assert "return width * height" in shown
    assert "**passes**" in await hover_text(client, uri, at(4, 4))
    # the go-to-definition of a heading: the generated function
    found = await client.text_document_definition_async(
        types.DefinitionParams(types.TextDocumentIdentifier(uri=uri), at(0, 8))
    )
    assert isinstance(found, list) and found[0].uri == (spec.parent / "area.py").as_uri()

    # an edit makes it stale
    changed = SPEC + "* area(2, 2) = 4\n"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=2, uri=uri),
            [types.TextDocumentContentChangeWholeDocument(text=changed)],
        )
    )
    assert "**stale**" in await hover_text(client, uri, at(0, 8))
    assert "not checked yet" in await hover_text(client, uri, at(7, 4))


async def test_unsaved_changes_are_not_compiled(client: LanguageClient, spec: Path) -> None:
    uri = spec.as_uri()
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="marshalike.compile", arguments=[uri])
    )
    assert result == {
        "ok": False,
        "message": "area.mrsh has unsaved changes: save it to compile it",
    }


async def test_open_questions_become_add_example_actions(
    client: LanguageClient, spec: Path
) -> None:
    uri = spec.as_uri()
    lock = spec.parent / "area.lock.json"
    data = json.loads(lock.read_text())
    replies = [
        {"shown": "-6", "support": 2, "expected": "-6"},
        {"shown": "raises ValueError", "support": 1, "expected": "raises ValueError"},
    ]
    data["units"]["area"]["questions"] = [{"call": "area(-2, 3)", "replies": replies}]
    lock.write_text(json.dumps(data))
    found = await client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri=uri),
            types.Range(at(0, 0), at(0, 1)),
            types.CodeActionContext(diagnostics=[]),
        )
    )
    assert found is not None
    titles = [a.title for a in found]
    assert "Add example: `area(-2, 3) = -6`" in titles
    assert "Add example: `area(-2, 3) = raises ValueError`" in titles
    action = next(a for a in found if isinstance(a, types.CodeAction) and "-6" in a.title)
    assert action.edit is not None and action.edit.changes is not None
    (edit,) = action.edit.changes[uri]
    assert edit.new_text == "* area(-2, 3) = -6\n"
    assert edit.range.start == at(8, 0)


async def test_a_lock_cannot_offer_code_as_an_example(client: LanguageClient, spec: Path) -> None:
    """A lock is untrusted: a reply or a call in it that is no plain value, which would run
    wherever the spec's tests run once written into the spec, is never offered."""
    uri = spec.as_uri()
    lock = spec.parent / "area.lock.json"
    data = json.loads(lock.read_text())
    evil = "6 if __import__('os').path.isdir('/sandbox') else len(__import__('os').sep)*0+6"
    reply = {"shown": "6", "support": 1, "expected": "6"}
    data["units"]["area"]["questions"] = [
        {
            "call": "area(2, 4)",
            "replies": [{**reply, "expected": evil}, {**reply, "expected": "8"}],
        },
        {"call": "area(__import__('os').getpid(), 1)", "replies": [reply]},
    ]
    lock.write_text(json.dumps(data))
    found = await client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri=uri),
            types.Range(at(0, 0), at(0, 1)),
            types.CodeActionContext(diagnostics=[]),
        )
    )
    assert found is not None
    titles = [a.title for a in found if a.title.startswith("Add example")]
    assert titles == ["Add example: `area(2, 4) = 8`"]
