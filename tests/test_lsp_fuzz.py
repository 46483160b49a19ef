"""Property: no text makes the language server's handlers raise, and every range they
answer with lies inside the document. The inputs are the parser fuzz test's own families
(random characters, soups of spec-like lines, mutated specs), each sent through every
feature at positions spread over the text, with the previous text's analysis in place as
it would be in an editor."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from test_parse_fuzz import CHARS, FUZZ, SNIPPETS, mutated_specs

from marshalike.lsp.editor import Editor
from marshalike.lsp.text import path_to_uri

URI = path_to_uri(Path("/nonexistent-marshalike-fuzz/spec.mrsh"))
EDITOR = Editor()
EDITOR.open(URI, "", 0)


def lines_of(text: str) -> list[str]:
    """The document's lines as a client counts them (`\\n`, `\\r\\n`, `\\r`)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def assert_inside(where: types.Range, lines: list[str]) -> None:
    for position in (where.start, where.end):
        assert 0 <= position.line < len(lines)
        units = len(lines[position.line].encode("utf-16-le")) // 2
        assert 0 <= position.character <= units
    assert (where.start.line, where.start.character) <= (where.end.line, where.end.character)


def exercise(text: str) -> None:
    EDITOR.change(URI, text, None)
    (analysis,) = EDITOR.analyse([URI])
    lines = lines_of(text)
    for diagnostic in EDITOR.diagnostics(analysis).diagnostics:
        assert_inside(diagnostic.range, lines)
        assert diagnostic.code
    for symbol in EDITOR.symbols(URI):
        assert_inside(symbol.range, lines)
        assert_inside(symbol.selection_range, lines)
    for fold in EDITOR.folding(URI):
        assert 0 <= fold.start_line < fold.end_line < len(lines)
    whole = types.Range(types.Position(0, 0), types.Position(len(lines), 0))
    for action in EDITOR.code_actions(URI, whole):
        for edits in (action.edit.changes or {}).values() if action.edit else ():
            for edit in edits:
                assert_inside(edit.range, lines)
    step = max(1, len(lines) // 4)
    for line in range(0, len(lines) + 1, step):
        for character in (0, 3, 40):
            position = types.Position(line, character)
            EDITOR.hover(URI, position)
            EDITOR.completion(URI, position)
            EDITOR.references(URI, position, True)
            for location in EDITOR.definition(URI, position):
                if location.uri == URI:
                    assert_inside(location.range, lines)


@settings(FUZZ, max_examples=150)
@given(st.text(CHARS, max_size=300))
def test_random_text(text: str) -> None:
    exercise(text)


@settings(FUZZ, max_examples=150)
@given(st.lists(st.sampled_from(SNIPPETS), max_size=25).map("\n".join))
def test_line_soup(text: str) -> None:
    exercise(text)


@settings(FUZZ, max_examples=200)
@given(mutated_specs())
def test_mutated_specs(text: str) -> None:
    exercise(text)


def test_a_diagnostic_after_a_form_feed_lands_on_its_line() -> None:
    """A form feed or a line separator inside a line does not end it, for the parser as for
    the editor: the error on the third line is shown on the third line."""
    for inside in ("\x0c", "\u2028", "\x85"):
        text = f"# func f(integer): integer\n\nA{inside}B.\n* f(1) = \n"
        EDITOR.change(URI, text, None)
        (analysis,) = EDITOR.analyse([URI])
        lines = {d.range.start.line for d in EDITOR.diagnostics(analysis).diagnostics}
        assert 3 in lines and not lines - {0, 3}, (repr(inside), lines)
