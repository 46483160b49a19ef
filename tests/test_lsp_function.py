"""The language server's "Compile this function" command over stdio, against a scripted
OpenAI-compatible server: the model is asked for the function and what it calls, not the
rest; the lock keeps the result and hover calls it verified while the module waits for the
rest of the spec; a later compile writes the module without asking again for what
compiled. A compile that failed outside the editor shows its failures in hover, from the
lock."""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from fake_openai import FakeOpenAI, Request
from lsp_session import SERVER, at, hover_text, session, settings
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from marshalike.language.graph import SpecGraph
from marshalike.language.load import load_spec
from marshalike.lsp import compiling
from marshalike.lsp.project import example_state, func_state, outputs

SPEC = """\
# func area(width: int, height: int): int

The area of a rectangle.

* area(2, 3) = 6
* area(1, 1) = 1

# func double_area(width: int, height: int): int

Twice the area, from area.

* double_area(2, 3) = 12
* double_area(1, 1) = 2

# func perimeter(width: int, height: int): int

The perimeter of a rectangle.

* perimeter(2, 3) = 10
* perimeter(1, 1) = 4
"""
CODE = {
    "area": "def area(width, height):\n    return width * height\n",
    "double_area": "def double_area(width, height):\n    return 2 * area(width, height)\n",
    "perimeter": "def perimeter(width, height):\n    return 2 * (width + height)\n",
}

ASYNC = pytest.mark.asyncio(loop_scope="module")


def asked_for(request: Request) -> str:
    found = re.search(r"Implement the function `(\w+)`", request.prompt_text)
    assert found is not None, request.prompt_text
    return found.group(1)


def answer(request: Request) -> str:
    return "```python\n" + CODE[asked_for(request)] + "```"


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
    path = tmp_path_factory.mktemp("function") / "shapes.mrsh"
    path.write_text(SPEC, encoding="utf-8")
    return path


async def compile_function(client: LanguageClient, *arguments: Any) -> Any:
    params = types.ExecuteCommandParams(
        command="marshalike.compileFunction", arguments=[*arguments]
    )
    return await asyncio.wait_for(client.workspace_execute_command_async(params), 120)


@ASYNC
async def test_a_function_compiles_with_what_it_calls_and_the_module_waits(
    client: LanguageClient, spec: Path, model: FakeOpenAI
) -> None:
    uri = spec.as_uri()
    item = types.TextDocumentItem(uri=uri, language_id="mrsh", version=1, text=SPEC)
    client.text_document_did_open(types.DidOpenTextDocumentParams(item))

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri=uri),
            types.Range(at(8, 0), at(8, 1)),
            types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    (offered,) = [a for a in actions if a.title.startswith("Compile this function")]
    assert offered.title == "Compile this function (double_area)"
    # The client's converter reads a code action that carries a command as a Command
    # whose `command` is the nested object's repr: read it back from there.
    run = offered.command
    nested = ast.literal_eval(run) if isinstance(run, str) else {
        "command": run.command, "arguments": run.arguments
    }  # fmt: skip
    assert nested["command"] == "marshalike.compileFunction"
    assert nested["arguments"] == [uri, "double_area"]

    result = await compile_function(client, uri, "double_area")
    assert result == {
        "ok": True,
        "message": "shapes.mrsh: area, double_area compiled; perimeter not yet, outputs unchanged",
    }
    assert sorted(asked_for(r) for r in model.requests) == ["area", "double_area"]
    assert not (spec.parent / "shapes.py").exists()  # a module is written whole
    lock = json.loads((spec.parent / "shapes.lock.json").read_text())
    assert sorted(lock["units"]) == ["area", "double_area"]
    assert lock["pending"]["compiled"] == ["area", "double_area"]

    shown = await hover_text(client, uri, at(7, 8))
    assert "**verified** with 2 examples" in shown
    assert "written once the whole spec compiles" in shown
    assert "return 2 * area(width, height)" in shown
    assert "**passes**" in await hover_text(client, uri, at(11, 4))
    assert "not compiled yet" in await hover_text(client, uri, at(14, 8))

    # The last function, named by a line of its section as the editor's palette command
    # names it: the others come from the lock, and the module is written.
    result = await compile_function(client, uri, 18)  # `* perimeter(2, 3) = 10`
    assert result["ok"], result
    assert result["message"].startswith("shapes.mrsh: ok (wrote shapes.py, test_shapes.py")
    assert sorted(asked_for(r) for r in model.requests) == ["area", "double_area", "perimeter"]
    module = (spec.parent / "shapes.py").read_text()
    assert all(code.strip() in module for code in CODE.values())
    lock = json.loads((spec.parent / "shapes.lock.json").read_text())
    assert "pending" not in lock and sorted(lock["units"]) == sorted(CODE)
    shown = await hover_text(client, uri, at(7, 8))
    assert "**verified** with 2 examples" in shown and "written once" not in shown


@ASYNC
async def test_a_function_the_spec_lacks_is_refused(client: LanguageClient, spec: Path) -> None:
    result = await compile_function(client, spec.as_uri(), "volume")
    assert result == {"ok": False, "message": "shapes.mrsh has no function 'volume'"}
    result = await compile_function(client, spec.as_uri())
    assert result["ok"] is False
    assert "takes the spec's URI and a function's name or line" in result["message"]
    result = await compile_function(client, spec.as_uri(), 99)
    assert result == {"ok": False, "message": "line 100 of shapes.mrsh is in no function's section"}


def test_failures_of_a_compile_outside_the_editor_show_from_the_lock(tmp_path: Path) -> None:
    wrong = {**CODE, "perimeter": "def perimeter(width, height):\n    return width + height\n"}
    path = tmp_path / "shapes.mrsh"
    path.write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=lambda r: "```python\n" + wrong[asked_for(r)] + "```") as model:
        report = compiling.compile_spec(
            path, settings(model), quick=True, main=True, note=lambda line: None
        )
    assert not report.ok
    lock = json.loads((tmp_path / "shapes.lock.json").read_text())
    assert "perimeter(2, 3)" in " ".join(lock["pending"]["failures"]["perimeter"])

    loaded = load_spec(path, SpecGraph())
    assert loaded.module is not None
    found = outputs(path, loaded.module, SPEC)  # no report: as a new editor session sees it
    perimeter = loaded.module.func("perimeter")
    assert perimeter is not None
    state, _ = func_state(found, perimeter)
    assert state.startswith("**failed** in the last compile: ") and "perimeter(2, 3)" in state
    assert example_state(found, perimeter, perimeter.examples[0]).startswith("**fails**")
    # an edit: the failures were of another text
    edited = outputs(path, loaded.module, SPEC + "* perimeter(0, 0) = 0\n")
    assert not func_state(edited, perimeter)[0].startswith("**failed** in the last compile: ")
