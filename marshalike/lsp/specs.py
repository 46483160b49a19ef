"""A spec as the editor has it: the text of an open document, read and checked exactly as
`marshalike parse` reads the file, with the same codes, ranges and hints.

`OpenGraph` is the compiler's spec graph with the open documents laid over the disk: a spec
that is open is read from its editor's text, saved or not, and every other spec (one a
`# use` names) from its file. So a change to an open spec shows in the specs that use it
before it is saved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

from marshalike.errors import SpecError
from marshalike.language.diagnostics import Diagnostic
from marshalike.language.files import SpecText
from marshalike.language.graph import SpecFile, SpecGraph
from marshalike.language.load import SPEC_SUFFIX, load_spec
from marshalike.language.parse import parse
from marshalike.language.spec import Module
from marshalike.lsp.text import TextMap

SOURCE = "marshalike"


class OpenGraph(SpecGraph):
    """A spec graph that reads open documents from memory and the rest from disk."""

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[Path, str] = {}
        self._stale: set[Path] = set()

    def set_text(self, path: Path, text: str | None) -> None:
        """The editor's text of the spec at `path`; None: read it from disk again. It is
        read (parsed) at the next `refresh`, so a burst of keystrokes parses once."""
        key = self.key(path)
        if text is None:
            self._open.pop(key, None)
        else:
            self._open[key] = text
        self._stale.add(key)

    def refresh(self, paths: Iterable[Path] = ()) -> None:
        """Read again what changed since the last refresh, and the files at `paths` (saved
        or changed on disk)."""
        stale = self._stale | {self.key(p) for p in paths}
        self._stale = set()
        if stale:
            self.changed(stale)

    def is_open(self, path: Path) -> bool:
        return self.key(path) in self._open

    def open_paths(self) -> tuple[Path, ...]:
        return tuple(self._open)

    def _read(self, key: Path, before: SpecFile | None) -> SpecFile:
        text = self._open.get(key)
        if text is None:
            return super()._read(key, before)
        if before is not None and before.content is not None and before.content.text == text:
            return before
        content = SpecText(text.encode("utf-8", "surrogatepass"), text)
        parsed = parse(text, str(key))
        kept = before.reads if before is not None else frozenset()
        reads = kept if parsed.module is None else self._reads(key, parsed.module)
        return SpecFile(key, content, parsed=parsed, reads=reads)


@dataclass(frozen=True)
class Heading:
    """A section heading found by a plain scan: the outline of a spec that does not parse."""

    kind: str  # func | type | use
    name: str
    line: int  # 1-based, as the parser counts


@dataclass(frozen=True)
class Analysis:
    """One document's text, read and checked."""

    uri: str
    path: Path
    text: str
    map: TextMap
    module: Module | None
    diagnostics: tuple[Diagnostic, ...]
    version: int | None = None

    def headings(self) -> list[Heading]:
        return scan_headings(self.map)


_HEADING = re.compile(r" {0,3}#{1,6}[ \t]*(func|type|use)\b[ \t]*([\w.\-/]*)")


def scan_headings(text_map: TextMap) -> list[Heading]:
    found = []
    for line in range(1, text_map.parser_lines + 1):
        match = _HEADING.match(text_map.line_text(line))
        if match is not None:
            found.append(Heading(match.group(1), match.group(2) or "?", line))
    return found


def analyse(
    graph: OpenGraph, uri: str, path: Path, text: str, version: int | None = None
) -> Analysis:
    """Read and check the open document at `path` (a `.mrsh` name: `spec_path`), whose
    text the graph holds."""
    text_map = TextMap(text)
    try:
        loaded = load_spec(path, graph)
    except SpecError as exc:  # cannot happen to an open spec (`spec_path`); never a crash
        return Analysis(uri, path, text, text_map, None, tuple(exc.diagnostics), version)
    return Analysis(uri, path, text, text_map, loaded.module, loaded.diagnostics, version)


def spec_path(path: Path) -> Path:
    """The name an open document is read under: any open document is a spec, and one
    named without `.mrsh` is read as if it had it (loading would refuse to treat such a
    file as a spec when it has errors)."""
    return path if path.suffix == SPEC_SUFFIX else path.with_name(path.name + SPEC_SUFFIX)


def to_lsp(diagnostic: Diagnostic, text_map: TextMap) -> types.Diagnostic:
    """A diagnostic as the protocol has it: the message, then the hint on a line of its own
    (and in `data`, for the quick fixes)."""
    message = diagnostic.message
    if diagnostic.hint:
        message += f"\nhint: {diagnostic.hint}"
    severity = (
        types.DiagnosticSeverity.Error if diagnostic.is_error else types.DiagnosticSeverity.Warning
    )
    return types.Diagnostic(
        range=text_map.range(diagnostic.span),
        message=message,
        severity=severity,
        code=str(diagnostic.code),
        source=SOURCE,
        data={"hint": diagnostic.hint} if diagnostic.hint else None,
    )


def users(graph: OpenGraph, paths: Iterable[Path]) -> list[Path]:
    """The open specs that use a spec at `paths`, directly or through others."""
    found = graph.users_of(paths)
    return [p for p in graph.open_paths() if p in found]
