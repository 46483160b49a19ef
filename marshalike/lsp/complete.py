"""Completion in a spec: section keywords at the start of a line, spec files after
`# use`, type phrases in a `# func` heading (the declared types and every English word and
phrase the type mapper reads, `language.typemap`), and elsewhere the spec's functions and
types and those of the specs it uses."""

from __future__ import annotations

import re

from lsprotocol import types

from marshalike.language.load import SPEC_SUFFIX
from marshalike.language.typemap import phrases
from marshalike.lsp.specs import Analysis, OpenGraph

_KEYWORD_LINE = re.compile(r" {0,3}(#{1,6})?[ \t]*\w*")
_FUNC_HEAD = re.compile(r" {0,3}#{1,6}[ \t]*func\b.*\(")
_USE_HEAD = re.compile(r" {0,3}#{1,6}[ \t]*use[ \t]+\S*")
_SNIPPETS = {
    "func": "func ${1:name}(${2:params}): ${3:return type}\n\n${4:What it does.}\n\n* $1($5) = $0",
    "type": "type ${1:Name}\n${2:field, other}\n$0",
    "use": "use ${1:other}.mrsh",
}
_DOCS = {
    "func": "a function: `# func NAME(PARAMS): RETURN`, a description, examples",
    "type": "a record type: a CSV header and sample rows follow",
    "use": "the functions of another spec may be called here",
}


def complete(analysis: Analysis, graph: OpenGraph, offset: int) -> list[types.CompletionItem]:
    text_map = analysis.map
    line, column = text_map.parser_point(offset)
    before = text_map.line_text(line)[: column - 1]
    keyword = _KEYWORD_LINE.fullmatch(before)
    if keyword is not None:
        return _keywords(hashes=keyword.group(1) is None)
    if _USE_HEAD.match(before):
        folder = analysis.path.parent
        names = sorted(p.name for p in folder.glob(f"*{SPEC_SUFFIX}") if p != analysis.path)
        return [types.CompletionItem(label=n, kind=types.CompletionItemKind.File) for n in names]
    declared_types, functions = _names(analysis, graph)
    if _FUNC_HEAD.match(before):
        return _type_phrases(declared_types)
    items = [
        types.CompletionItem(
            label=name,
            kind=types.CompletionItemKind.Function,
            detail=detail,
            insert_text=f"{name}($1) = $0",
            insert_text_format=types.InsertTextFormat.Snippet,
        )
        for name, detail in functions.items()
    ]
    items += [
        types.CompletionItem(label=name, kind=types.CompletionItemKind.Struct, detail="type")
        for name in declared_types
    ]
    return items


def _keywords(*, hashes: bool) -> list[types.CompletionItem]:
    return [
        types.CompletionItem(
            label=f"# {word}" if hashes else word,
            kind=types.CompletionItemKind.Keyword,
            detail=_DOCS[word],
            insert_text=(f"# {snippet}" if hashes else snippet),
            insert_text_format=types.InsertTextFormat.Snippet,
        )
        for word, snippet in _SNIPPETS.items()
    ]


def _type_phrases(declared: list[str]) -> list[types.CompletionItem]:
    words, containers, optional_words = phrases()
    optional = [f"{w} " for w in optional_words]
    items = [
        types.CompletionItem(label=name, kind=types.CompletionItemKind.Struct, detail="type")
        for name in declared
    ]
    items += [
        types.CompletionItem(label=f"list of {name}", kind=types.CompletionItemKind.Struct)
        for name in declared
    ]
    for group, kind in ((words, types.CompletionItemKind.TypeParameter),
                        (containers, types.CompletionItemKind.Keyword),
                        (optional, types.CompletionItemKind.Keyword)):  # fmt: skip
        items += [types.CompletionItem(label=w.strip(), kind=kind, insert_text=w) for w in group]
    return items


def _names(analysis: Analysis, graph: OpenGraph) -> tuple[list[str], dict[str, str]]:
    """The declared types, and every callable function with its heading (or spec)."""
    module = analysis.module
    functions: dict[str, str] = {}
    if module is not None:
        declared = [t.name for t in module.types]
        for func in module.funcs:
            functions[func.name] = analysis.map.line_text(func.span.line).strip()
    else:
        headings = analysis.headings()
        declared = [h.name for h in headings if h.kind == "type"]
        functions = {h.name: "" for h in headings if h.kind == "func"}
    for reached in graph.reached(analysis.path):
        used = graph.file(reached.path).module
        for func in used.funcs if used is not None else ():
            functions.setdefault(func.name, f"from {reached.path.name}")
    return declared, functions
