"""`marshalike lsp` driven over stdio by a real LSP client (pytest-lsp): documents opened and
changed, the diagnostics published for them and for the specs that use them, the outline,
folding, hover, definition, references, completion, code actions, and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest
import pytest_lsp
from lsp_session import SERVER, session
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

MAIN = """\
# use geo.mrsh

# type Person
name, age
Alice, 31

# func sort_by_age(list of Person): list of Person

Return the people sorted by age.

* sort_by_ag([]) = []
* sort_by_age([Persn('a', 1)]) = [Person('a', 1)]
* area(1, 2) = 2
"""

GEO = """\
# func area(width: int, height: int): int

The area of a rectangle.

* area(2, 3) = 6
* area(0, 3) = 0
* area(1, 1) = 1
"""

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    async for _ in session(lsp_client):
        yield


def uri_of(path: Path) -> str:
    return path.absolute().as_uri()


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = uri_of(path)
    item = types.TextDocumentItem(uri=uri, language_id="mrsh", version=version, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(item))
    return uri


def change_doc(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def published(
    client: LanguageClient,
    uri: str,
    wanted: Callable[[Sequence[types.Diagnostic]], bool],
    timeout: float = 20.0,
) -> Sequence[types.Diagnostic]:
    """The document's diagnostics, once they are as `wanted`."""

    async def until() -> Sequence[types.Diagnostic]:
        while uri not in client.diagnostics or not wanted(client.diagnostics[uri]):
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return client.diagnostics[uri]

    return await asyncio.wait_for(until(), timeout)


def codes(diagnostics: Sequence[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("specs")
    (folder / "geo.mrsh").write_text(GEO, encoding="utf-8")
    (folder / "main.mrsh").write_text(MAIN, encoding="utf-8")
    return folder


def at(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def test_diagnostics_on_open_have_the_codes_ranges_and_hints_of_parse(
    client: LanguageClient, specs: Path
) -> None:
    uri = open_doc(client, specs / "main.mrsh", MAIN)
    found = await published(client, uri, lambda d: len(d) >= 2)
    assert "M012" in codes(found) and "M015" in codes(found)
    unknown = next(d for d in found if d.code == "M012")
    assert unknown.range == types.Range(at(10, 2), at(10, 12))
    assert unknown.severity == types.DiagnosticSeverity.Error
    assert unknown.source == "marshalike"
    assert unknown.message.endswith("hint: did you mean 'sort_by_age'?")


async def test_a_change_is_diagnosed_and_a_fixed_spec_is_clean(
    client: LanguageClient, specs: Path
) -> None:
    uri = open_doc(client, specs / "main.mrsh", MAIN)
    broken = MAIN + "\n# fucn g(x): int\n"
    change_doc(client, uri, broken, 2)
    found = await published(client, uri, lambda d: "M004" in codes(d))
    assert found[0].message.endswith("hint: did you mean '# func'?")
    fixed = MAIN.replace("sort_by_ag(", "sort_by_age(").replace("Persn", "Person")
    change_doc(client, uri, fixed, 3)
    found = await published(client, uri, lambda d: not [c for c in codes(d) if c < "M020"])
    assert [d for d in found if d.severity == types.DiagnosticSeverity.Error] == []


async def test_a_used_spec_with_errors_is_reported_in_the_open_spec_that_uses_it(
    client: LanguageClient, specs: Path
) -> None:
    main = open_doc(client, specs / "main.mrsh", MAIN)
    geo = open_doc(client, specs / "geo.mrsh", GEO)
    await published(client, main, lambda d: "M036" not in codes(d))
    change_doc(client, geo, GEO.replace("# func area(", "# func area("), 2)
    change_doc(client, geo, GEO + "\n# func broken(\n", 3)
    found = await published(client, main, lambda d: "M036" in codes(d))
    use = next(d for d in found if d.code == "M036")
    assert use.range.start.line == 0
    change_doc(client, geo, GEO, 4)
    await published(client, main, lambda d: "M036" not in codes(d))


async def test_outline_and_folding(client: LanguageClient, specs: Path) -> None:
    uri = open_doc(client, specs / "main.mrsh", MAIN)
    found = await client.text_document_document_symbol_async(types.DocumentSymbolParams(doc(uri)))
    assert found is not None
    names = [(s.name, s.kind) for s in found if isinstance(s, types.DocumentSymbol)]
    assert names == [
        ("geo.mrsh", types.SymbolKind.File),
        ("Person", types.SymbolKind.Struct),
        ("sort_by_age", types.SymbolKind.Function),
    ]
    folds = await client.text_document_folding_range_async(types.FoldingRangeParams(doc(uri)))
    assert folds is not None
    assert sorted((f.start_line, f.end_line) for f in folds) == [(2, 4), (6, 12)]


async def test_definition_and_references(client: LanguageClient, specs: Path) -> None:
    uri = open_doc(client, specs / "main.mrsh", MAIN)
    geo = uri_of(specs / "geo.mrsh")
    # `area` in an example: its heading in the used spec
    found = await client.text_document_definition_async(types.DefinitionParams(doc(uri), at(12, 3)))
    assert isinstance(found, list) and found[0].uri == geo
    assert found[0].range.start == at(0, 7)
    # the `# use` line: the used spec
    found = await client.text_document_definition_async(types.DefinitionParams(doc(uri), at(0, 8)))
    assert isinstance(found, list) and found[0].uri == geo
    # `Person` in a heading: its `# type`
    found = await client.text_document_definition_async(types.DefinitionParams(doc(uri), at(6, 30)))
    assert isinstance(found, list) and found[0].range.start == at(2, 7)
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            context=types.ReferenceContext(include_declaration=True),
            text_document=doc(uri),
            position=at(2, 8),
        )
    )
    assert refs is not None and len(refs) == 4


async def test_hover_on_a_type_shows_its_dataclass(client: LanguageClient, specs: Path) -> None:
    uri = open_doc(client, specs / "main.mrsh", MAIN)
    found = await client.text_document_hover_async(types.HoverParams(doc(uri), at(2, 9)))
    assert found is not None and isinstance(found.contents, types.MarkupContent)
    assert "class Person:\n    name: str\n    age: int" in found.contents.value
    found = await client.text_document_hover_async(types.HoverParams(doc(uri), at(6, 10)))
    assert found is not None and isinstance(found.contents, types.MarkupContent)
    assert "not compiled yet" in found.contents.value


async def labels(client: LanguageClient, uri: str, where: types.Position) -> set[str]:
    found = await client.text_document_completion_async(types.CompletionParams(doc(uri), where))
    items = found.items if isinstance(found, types.CompletionList) else found or []
    return {item.label for item in items}


async def test_completion(client: LanguageClient, specs: Path) -> None:
    uri = open_doc(client, specs / "main.mrsh", MAIN + "\n\n")
    assert {"# func", "# type", "# use"} <= await labels(client, uri, at(14, 0))
    phrases = {"Person", "list of Person", "integer", "list of", "date and time"}
    assert phrases <= await labels(client, uri, at(6, 26))
    assert {"sort_by_age", "area", "Person"} <= await labels(client, uri, at(12, 2))


async def test_quick_fixes_replace_what_the_hint_names(client: LanguageClient, specs: Path) -> None:
    uri = open_doc(client, specs / "main.mrsh", MAIN)
    await published(client, uri, lambda d: "M012" in codes(d))
    found = await client.text_document_code_action_async(
        types.CodeActionParams(
            doc(uri), types.Range(at(10, 0), at(11, 40)), types.CodeActionContext(diagnostics=[])
        )
    )
    assert found is not None
    titles = [a.title for a in found]
    assert "Replace with 'sort_by_age'" in titles and "Replace with 'Person'" in titles
    assert "Compile this spec" in titles
    fix = next(a for a in found if isinstance(a, types.CodeAction) and "sort_by_age" in a.title)
    assert fix.edit is not None and fix.edit.changes is not None
    (edit,) = fix.edit.changes[uri]
    assert edit.range == types.Range(at(10, 2), at(10, 12)) and edit.new_text == "sort_by_age"


async def test_a_missing_colon_gets_its_fix(client: LanguageClient, specs: Path) -> None:
    text = GEO.replace("): int", ") int")
    uri = open_doc(client, specs / "colon.mrsh", text)
    found = await published(client, uri, lambda d: "M008" in codes(d))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            doc(uri), found[0].range, types.CodeActionContext(diagnostics=list(found))
        )
    )
    assert actions is not None
    fix = next(a for a in actions if isinstance(a, types.CodeAction) and "':'" in a.title)
    assert fix.edit is not None and fix.edit.changes is not None
    (edit,) = fix.edit.changes[uri]
    assert edit.new_text == ": " and edit.range == types.Range(at(0, 36), at(0, 37))


async def test_any_text_leaves_the_server_answering(client: LanguageClient, specs: Path) -> None:
    uri = open_doc(client, specs / "odd.mrsh", "")
    texts = ["\x00\r\r\n# func", "# type\n\u2028x, y\n\U0001f600, 1", "```\n# func f(", "<!--"]
    for version, text in enumerate(texts, 2):
        change_doc(client, uri, text, version)
        for line in range(3):
            await client.text_document_hover_async(types.HoverParams(doc(uri), at(line, 3)))
            await labels(client, uri, at(line, 9))
    found = await client.text_document_document_symbol_async(types.DocumentSymbolParams(doc(uri)))
    assert found is not None
