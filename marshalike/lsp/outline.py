"""The outline of a spec (its functions, types and `# use`s, as document symbols) and the
folding ranges of its sections. A spec with syntax errors has no AST; its outline then
comes from a plain scan of its headings, so the outline never goes blank while typing."""

from __future__ import annotations

from lsprotocol import types

from marshalike.language.diagnostics import Span
from marshalike.lsp.specs import Analysis, Heading
from marshalike.lsp.text import TextMap

_KINDS = {
    "func": types.SymbolKind.Function,
    "type": types.SymbolKind.Struct,
    "use": types.SymbolKind.File,
}


def symbols(analysis: Analysis) -> list[types.DocumentSymbol]:
    text_map, module = analysis.map, analysis.module
    if module is None:
        return [_scanned(h, end, text_map) for h, end in _sections(analysis)]
    found: list[tuple[Span, types.DocumentSymbol]] = []
    for func in module.funcs:
        heading = text_map.line_text(func.span.line).strip()
        found.append((func.span, _symbol(func.name, "func", func.span, func.name_span, text_map,
                                         heading)))  # fmt: skip
    for typedef in module.types:
        detail = ", ".join(typedef.columns) or typedef.source or ""
        found.append((typedef.span, _symbol(typedef.name, "type", typedef.span,
                                            typedef.name_span, text_map, detail)))  # fmt: skip
    for use in module.uses:
        found.append((use.span, _symbol(use.path, "use", use.span, use.span, text_map, "")))
    return [symbol for _, symbol in sorted(found, key=lambda pair: pair[0])]


def folding(analysis: Analysis) -> list[types.FoldingRange]:
    text_map, module = analysis.map, analysis.module
    if module is None:
        spans = [(h.line, end) for h, end in _sections(analysis)]
    else:
        sections = [f.span for f in module.funcs] + [t.span for t in module.types]
        spans = [(span.line, span.end_line) for span in sections]
    ranges = []
    for first, last in spans:
        start = text_map.position(text_map.offset(first, 1)).line
        end = text_map.position(text_map.offset(last, 1)).line
        if end > start:
            ranges.append(types.FoldingRange(start, end, kind=types.FoldingRangeKind.Region))
    return ranges


def _symbol(
    name: str, kind: str, span: Span, name_span: Span, text_map: TextMap, detail: str
) -> types.DocumentSymbol:
    whole = text_map.range(span)
    chosen = text_map.range(name_span)
    if not _within(chosen, whole):
        chosen = whole
    return types.DocumentSymbol(
        name=name or "?", kind=_KINDS[kind], range=whole, selection_range=chosen, detail=detail
    )


def _within(inner: types.Range, outer: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(outer.start) <= key(inner.start) and key(inner.end) <= key(outer.end)


def _sections(analysis: Analysis) -> list[tuple[Heading, int]]:
    """Each scanned heading and the last line of its section."""
    headings = analysis.headings()
    if not headings:
        return []
    last = max(analysis.map.parser_lines, 1)
    ends = [h.line - 1 for h in headings[1:]] + [last]
    return [(h, max(end, h.line)) for h, end in zip(headings, ends, strict=True)]


def _scanned(heading: Heading, end: int, text_map: TextMap) -> types.DocumentSymbol:
    span = Span(heading.line, 1, end, len(text_map.line_text(end)) + 1)
    head = Span(heading.line, 1, heading.line, len(text_map.line_text(heading.line)) + 1)
    return _symbol(heading.name, heading.kind, span, head, text_map, "")
