"""The server's state, apart from the protocol: the open documents, their analyses, the
specs' graph, and the compiles this session ran. Every feature the server offers is a call
here that takes and returns protocol values, so tests can drive it without a client."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types

from marshalike.build.results import SpecReport
from marshalike.codegen import emit
from marshalike.language.diagnostics import Diagnostic, Span
from marshalike.lsp import actions, complete, navigate, outline
from marshalike.lsp.specs import Analysis, OpenGraph, analyse, spec_path, to_lsp, users
from marshalike.lsp.text import uri_to_path

_TOP = Span(1, 1, 1, 2)


@dataclass
class Editor:
    flags: Mapping[str, Any] = field(default_factory=dict)  # the compile settings' flags
    graph: OpenGraph = field(default_factory=OpenGraph)
    texts: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # uri -> text
    paths: dict[str, Path] = field(default_factory=dict)  # uri -> the path it is read as
    analyses: dict[str, Analysis] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)  # uris changed since their analysis
    reports: dict[Path, SpecReport] = field(default_factory=dict)  # this session's compiles

    # documents ---------------------------------------------------------------------------

    def open(self, uri: str, text: str, version: int | None = None) -> None:
        self.paths[uri] = spec_path(uri_to_path(uri))
        self.change(uri, text, version)

    def change(self, uri: str, text: str, version: int | None = None) -> None:
        if uri not in self.paths:
            self.paths[uri] = spec_path(uri_to_path(uri))
        self.texts[uri] = (text, version)
        self.graph.set_text(self.paths[uri], text)
        self.stale.add(uri)

    def close(self, uri: str) -> list[str]:
        """Forget the document; the open specs that used it (to analyse again)."""
        path = self.paths.pop(uri, None)
        self.texts.pop(uri, None)
        self.analyses.pop(uri, None)
        self.stale.discard(uri)
        if path is None:
            return []
        self.graph.set_text(path, None)
        self.graph.refresh()
        return self._uris(users(self.graph, [path]))

    def files_changed(self, paths: Iterable[Path]) -> list[str]:
        """Files changed on disk (a used spec, a CSV file): the open specs to analyse."""
        changed = list(paths)
        self.graph.refresh(changed)
        return self._uris(users(self.graph, changed))

    def _uris(self, paths: Iterable[Path]) -> list[str]:
        wanted = set(paths)
        return [uri for uri, path in self.paths.items() if path in wanted]

    # analysis ----------------------------------------------------------------------------

    def analyse(self, uris: Iterable[str]) -> list[Analysis]:
        """Analyse the documents at `uris` and every open spec that uses one of them."""
        wanted = [uri for uri in dict.fromkeys(uris) if uri in self.texts]
        self.graph.refresh()
        using = self._uris(users(self.graph, [self.paths[uri] for uri in wanted]))
        done = []
        for uri in dict.fromkeys([*wanted, *using]):
            text, version = self.texts[uri]
            self.analyses[uri] = analyse(self.graph, uri, self.paths[uri], text, version)
            self.stale.discard(uri)
            done.append(self.analyses[uri])
        return done

    def analysis(self, uri: str) -> Analysis | None:
        """The document's analysis, brought up to date with its text."""
        if uri in self.stale or (uri in self.texts and uri not in self.analyses):
            self.analyse([uri])
        return self.analyses.get(uri)

    def diagnostics(self, analysis: Analysis) -> types.PublishDiagnosticsParams:
        found = [to_lsp(d, analysis.map) for d in self._with_compile(analysis)]
        return types.PublishDiagnosticsParams(analysis.uri, found, analysis.version)

    def _with_compile(self, analysis: Analysis) -> list[Diagnostic]:
        """The analysis's diagnostics, and what this session's last compile of the spec
        found, while the text is the one it compiled."""
        found = list(analysis.diagnostics)
        report = self.reports.get(analysis.path)
        if report is None or emit.spec_hash(report.source) != emit.spec_hash(analysis.text):
            return found
        where = str(analysis.path)
        seen = {(d.code, d.span, d.message) for d in found}
        found += [d for d in report.diagnostics if (d.code, d.span, d.message) not in seen]
        if report.problem is not None:
            found.append(Diagnostic("error", "compile", report.problem, _TOP, where))
        module = analysis.module
        for unit in report.units:
            func = module.func(unit.name) if module is not None else None
            if unit.status != "failed" or func is None:
                continue
            why = "; ".join(unit.failures[:3]) or "no candidate passed every example"
            message = f"the compile of '{unit.name}' failed: {why}"
            found.append(Diagnostic("error", "compile", message, func.name_span, where))
        return found

    # features ----------------------------------------------------------------------------

    def symbols(self, uri: str) -> list[types.DocumentSymbol]:
        analysis = self.analysis(uri)
        return outline.symbols(analysis) if analysis is not None else []

    def folding(self, uri: str) -> list[types.FoldingRange]:
        analysis = self.analysis(uri)
        return outline.folding(analysis) if analysis is not None else []

    def hover(self, uri: str, position: types.Position) -> types.Hover | None:
        analysis = self.analysis(uri)
        if analysis is None:
            return None
        report = self.reports.get(analysis.path)
        return navigate.hover(analysis, analysis.map.at(position), report, self.flags)

    def definition(self, uri: str, position: types.Position) -> list[types.Location]:
        analysis = self.analysis(uri)
        if analysis is None:
            return []
        offset = analysis.map.at(position)
        return navigate.definition(analysis, self.graph, offset, self.flags)

    def references(
        self, uri: str, position: types.Position, declaration: bool
    ) -> list[types.Location]:
        analysis = self.analysis(uri)
        if analysis is None:
            return []
        others = [self.analysis(u) for u in self._uris(users(self.graph, [analysis.path]))]
        seen = [a for a in others if a is not None and a.uri != uri]
        offset = analysis.map.at(position)
        return navigate.references(analysis, self.graph, offset, seen, declaration)

    def completion(self, uri: str, position: types.Position) -> list[types.CompletionItem]:
        analysis = self.analysis(uri)
        if analysis is None:
            return []
        return complete.complete(analysis, self.graph, analysis.map.at(position))

    def code_actions(
        self, uri: str, where: types.Range, only: list[str] | None = None
    ) -> list[types.CodeAction]:
        analysis = self.analysis(uri)
        if analysis is None:
            return []
        report = self.reports.get(analysis.path)
        return actions.code_actions(analysis, where, report, self.flags, only)
