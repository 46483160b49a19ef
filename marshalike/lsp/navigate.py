"""Hover, go to definition and find references in a spec.

Names are functions and types: a function called in an example, a type in a heading's type
phrase or constructed in an example, the spec a `# use` names. A function's or type's own
heading leads on to the Python compile generated for it. Hover tells a function's state
(`project.func_state`) with its compiled code, a type's generated dataclass, and whether an
example's test passes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types

from marshalike.build.results import SpecReport
from marshalike.codegen.emit import types_source
from marshalike.language.diagnostics import Span
from marshalike.language.spec import Func, Module, TypeDef
from marshalike.lsp.project import example_state, func_state, generated_line, outputs
from marshalike.lsp.specs import Analysis, OpenGraph
from marshalike.lsp.text import TextMap, path_to_uri

Flags = Mapping[str, Any]  # the settings the server was started with (`settings.resolve`)
_ORIGIN = types.Range(types.Position(0, 0), types.Position(0, 0))


def _named(module: Module, word: str) -> Func | TypeDef | None:
    found = module.func(word) or module.type(word)
    if found is None:  # declared types are matched as type phrases match them
        lowered = word.lower()
        found = next((t for t in module.types if t.name.lower() in (lowered, lowered[:-1])), None)
    return found


def _used(graph: OpenGraph, path: Path, word: str) -> Iterator[tuple[Path, Func | TypeDef]]:
    """Declarations named `word` in the specs `path` uses, nearest first."""
    for reached in graph.reached(path):
        module = graph.file(reached.path).module
        found = module.func(word) if module is not None else None
        if found is not None:
            yield reached.path, found


def _location(graph: OpenGraph, path: Path, span: Span) -> types.Location:
    return types.Location(path_to_uri(path), TextMap(graph.file(path).source).range(span))


def definition(
    analysis: Analysis, graph: OpenGraph, offset: int, flags: Flags
) -> list[types.Location]:
    module, text_map = analysis.module, analysis.map
    if module is None:
        return []
    for use in module.uses:
        if text_map.in_span(offset, use.span):
            return [types.Location(path_to_uri(graph.target(analysis.path, use)), _ORIGIN)]
    word = text_map.word(offset)
    if word is None:
        return []
    found = _named(module, word[0])
    if found is not None:
        if text_map.in_span(offset, found.name_span):  # its heading: the generated code
            return _generated(analysis, found, flags)
        return [types.Location(analysis.uri, text_map.range(found.name_span))]
    return [_location(graph, path, f.name_span) for path, f in _used(graph, analysis.path, word[0])]


def _generated(analysis: Analysis, found: Func | TypeDef, flags: Flags) -> list[types.Location]:
    assert analysis.module is not None
    out = outputs(analysis.path, analysis.module, analysis.text, None, flags)
    kind = "def" if isinstance(found, Func) else "class"
    line = generated_line(out.module_file, found.name, kind)
    if line is None:
        return []
    place = types.Range(types.Position(line, 0), types.Position(line, 0))
    return [types.Location(path_to_uri(out.module_file), place)]


def references(
    analysis: Analysis, graph: OpenGraph, offset: int, others: list[Analysis], declaration: bool
) -> list[types.Location]:
    """Every whole-word use of the function or type at `offset`, in this spec and in the
    open specs (`others`) that can see it."""
    module = analysis.module
    word = analysis.map.word(offset)
    if module is None or word is None:
        return []
    found = _named(module, word[0])
    used = next(_used(graph, analysis.path, word[0]), None)
    if found is None and used is None:
        return []
    name = found.name if found is not None else word[0]
    home = analysis if found is not None else None
    found_in = [analysis, *others]
    locations = []
    for each in found_in:
        for start, end in _occurrences(each.text, name):
            if not declaration and home is each and found is not None:
                if each.map.in_span(start, found.name_span):
                    continue
            place = types.Range(each.map.position(start), each.map.position(end))
            locations.append(types.Location(each.uri, place))
    if declaration and used is not None:
        locations.append(_location(graph, used[0], used[1].name_span))
    return locations


def _occurrences(text: str, name: str) -> Iterator[tuple[int, int]]:
    for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
        yield match.start(), match.end()


def hover(
    analysis: Analysis, offset: int, report: SpecReport | None, flags: Flags
) -> types.Hover | None:
    module, text_map = analysis.module, analysis.map
    if module is None:
        return None
    line, _ = text_map.parser_point(offset)
    word = text_map.word(offset)
    typedef = _named(module, word[0]) if word is not None else None
    if isinstance(typedef, TypeDef):
        source = types_source(dataclasses.replace(module, types=(typedef,)))
        return _shown(f"type `{typedef.name}`, generated as:", source, None)
    for func in module.funcs:
        if func.span.line == line:
            out = outputs(analysis.path, module, analysis.text, report, flags)
            state, code = func_state(out, func)
            return _shown(f"`{func.name}`: {state}", code, text_map.range(func.name_span))
        for example in func.examples:
            if example.span.line <= line <= example.span.end_line:
                out = outputs(analysis.path, module, analysis.text, report, flags)
                shown = f"example of `{func.name}`: {example_state(out, func, example)}"
                return _shown(shown, None, text_map.range(example.span))
    return None


def _shown(head: str, code: str | None, where: types.Range | None) -> types.Hover:
    text = head if code is None else f"{head}\n\n```python\n{code.rstrip()}\n```"
    contents = types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)
    return types.Hover(contents=contents, range=where)
