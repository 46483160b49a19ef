"""Parser positions and protocol positions of one text (`lsp.text.TextMap`)."""

from __future__ import annotations

from lsprotocol import types

from marshalike.language.diagnostics import Span
from marshalike.language.parse import parse
from marshalike.lsp.text import TextMap


def test_a_byte_order_mark_in_the_text_is_no_parser_column() -> None:
    """A client may send the mark as the text's first character: the parser counts no
    column for it, the protocol one, and a span still lands on the characters it names."""
    text = "\ufeff# func add(a: int): int\n\nAdd.\n\n* add(1) = 1\n"
    name = parse(text, "a.mrsh").module.funcs[0].name_span  # type: ignore[union-attr]
    found = TextMap(text)
    assert found.range(name) == types.Range(types.Position(0, 8), types.Position(0, 11))
    assert text[found.offset(name.line, name.column) :].startswith("add(")
    assert found.parser_point(8) == (1, 8)
    assert found.line_text(1) == "# func add(a: int): int"
    assert found.range(Span(3, 1, 3, 5)) == types.Range(types.Position(2, 0), types.Position(2, 4))
