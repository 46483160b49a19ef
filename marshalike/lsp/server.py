"""The language server over stdio, on pygls: the protocol's messages in, `Editor` calls,
protocol values out.

Diagnostics follow typing without falling behind it: a change is analysed at once when the
last analysis ended more than the debounce interval (150 ms) ago, and changes that arrive
sooner (or while an analysis runs) are gathered and analysed together, as the latest text,
when it has passed: a spec whose analysis is slow is analysed less often, never once per
edit. Each analysis publishes the changed
spec's diagnostics and those of every open spec that uses it. A request about a document
with changes still waiting analyses them first, so an answer never describes old text.

No handler lets an exception through: a failure is logged to the client
(`window/logMessage`) and the server carries on; a command's argument out of range is
answered with InvalidParams. How messages are read and answered, `shutdown` and `exit`
included, is `marshalike.lsp.protocol`; the loop over stdio and the process's end,
`marshalike.lsp.stdio`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, TypeVar, cast

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from marshalike import __version__
from marshalike.errors import MarshalikeError
from marshalike.lsp import compiling, stdio
from marshalike.lsp.actions import COMPILE, COMPILE_FUNCTION
from marshalike.lsp.editor import Editor
from marshalike.lsp.protocol import SpecProtocol
from marshalike.lsp.text import uri_to_path
from marshalike.synth.cancel import Cancel

DEBOUNCE_S = 0.15
R = TypeVar("R")
# The largest message the server reads: far above any spec's text. A header that claims
# more (or no number) would have the server allocate, or wait for, bytes that never come.
MAX_MESSAGE = 64 * 1024 * 1024
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*([^\r\n]*)", re.IGNORECASE)
_CHUNK = 65536  # the most read as one header line, so skipped bytes are never held whole
_HEADER_START = re.compile(rb"content-length:", re.IGNORECASE)
_KEEP = len(b"Content-Length:")


class SpecServer(LanguageServer):
    def __init__(
        self,
        flags: Mapping[str, Any] | None = None,
        *,
        quick: bool = False,
        main: bool = True,
        debounce_s: float = DEBOUNCE_S,
    ) -> None:
        super().__init__(
            "marshalike",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=SpecProtocol,
        )
        self.editor = Editor(flags=dict(flags or {}))
        self.quick, self.main = quick, main
        self.debounce_s = debounce_s
        self._pending: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._last = float("-inf")
        self.compiles = compiling.Compiles()

    @property
    def wire(self) -> SpecProtocol:
        """The protocol as this server makes it (pygls types it as its own base class)."""
        return cast(SpecProtocol, self.protocol)

    # diagnostics -------------------------------------------------------------------------

    def schedule(self, uris: list[str], *, at_once: bool = False) -> None:
        self._pending.update(uris)
        if self._timer is not None and not at_once:
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        wait = 0.0 if at_once else max(0.0, self._last + self.debounce_s - loop.time())
        self._timer = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        pending, self._pending = self._pending, set()
        try:
            self.publish(pending)
        finally:
            # Timed from the end: changes that came in during a long analysis wait the
            # interval too, and are analysed together, as the latest text, not one by one.
            self._last = asyncio.get_running_loop().time()

    def publish(self, uris: set[str] | list[str]) -> None:
        try:
            for analysis in self.editor.analyse(uris):
                self.text_document_publish_diagnostics(self.editor.diagnostics(analysis))
        except Exception as exc:  # never let one spec stop the server
            self.log(f"analysis failed: {type(exc).__name__}: {exc}")

    def fresh(self, uri: str) -> None:
        """Publish a document's waiting changes before answering a request about it."""
        if uri in self._pending:
            self.flush()

    def log(self, message: str) -> None:
        self.window_log_message(types.LogMessageParams(types.MessageType.Error, message))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(kind, message))

    # compile -----------------------------------------------------------------------------

    def function_at(self, uri: str, line: int) -> str | None:
        """The function whose section holds `line` (0-based) of the open spec at `uri`."""
        analysis = self.editor.analysis(uri)
        module = analysis.module if analysis is not None else None
        for func in module.funcs if module is not None else ():
            if func.span.line - 1 <= line <= func.span.end_line - 1:
                return func.name
        return None

    async def compile(self, uri: str, only: str | None = None) -> dict[str, Any]:
        """Compile the spec at `uri` (or only its function `only` and what that calls) in
        a thread, with `$/progress` while it runs; then publish what it found and say how
        it went."""
        self.fresh(uri)
        analysis = self.editor.analysis(uri)
        if analysis is None:
            return self._said(False, f"{uri} is not open", types.MessageType.Error)
        if only is not None and (analysis.module is None or analysis.module.func(only) is None):
            message = f"{uri_to_path(uri).name} has no function '{only}'"
            return self._said(False, message, types.MessageType.Error)
        path = uri_to_path(uri)
        why = compiling.unsaved(path, analysis.text)
        if why is not None:
            return self._said(False, why, types.MessageType.Warning)
        token = str(uuid.uuid4())
        progress = self._progress(token)
        if progress:
            await self.work_done_progress.create_async(token)
            what = f"{only} in {path.name}" if only else path.name
            begin = types.WorkDoneProgressBegin(title=f"Compiling {what}", cancellable=False)
            self.work_done_progress.begin(token, begin)
        loop = asyncio.get_running_loop()

        def note(message: str) -> None:
            if progress:
                report = types.WorkDoneProgressReport(message=message)
                with contextlib.suppress(RuntimeError):  # the loop has closed: no client
                    loop.call_soon_threadsafe(self.work_done_progress.report, token, report)

        cancel = Cancel()
        run = functools.partial(
            compiling.compile_spec, path, self.editor.flags,
            quick=self.quick, main=self.main, note=note, only=only, cancel=cancel,
        )  # fmt: skip
        try:
            report = await self.compiles.run(run, cancel)
        except MarshalikeError as exc:
            return self._said(False, compiling.failure(exc), types.MessageType.Error)
        finally:
            if progress:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))
        self.editor.reports[self.editor.paths.get(uri, path)] = report
        self.publish([uri])
        ok, line = compiling.outcome(report, path)
        return self._said(ok, line, types.MessageType.Info if ok else types.MessageType.Error)

    def stop_compiles(self) -> None:
        self.compiles.stop()

    def _progress(self, token: str) -> bool:
        window = self.client_capabilities.window
        return bool(window is not None and window.work_done_progress)

    def _said(self, ok: bool, message: str, kind: types.MessageType) -> dict[str, Any]:
        self.show(message, kind)
        return {"ok": ok, "message": message}


def _guarded(default: Callable[[], R]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A handler that answers `default()` instead of raising, and logs why."""

    def wrap(handler: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(handler)
        def guarded(ls: SpecServer, params: Any) -> R:
            try:
                return handler(ls, params)
            except Exception as exc:
                ls.log(f"{handler.__name__} failed: {type(exc).__name__}: {exc}")
                return default()

        return guarded

    return wrap


def _nothing() -> Any:
    return None


def make_server(
    flags: Mapping[str, Any] | None = None,
    *,
    quick: bool = False,
    main: bool = True,
    debounce_s: float = DEBOUNCE_S,
) -> SpecServer:
    server = SpecServer(flags, quick=quick, main=main, debounce_s=debounce_s)

    @server.feature(types.INITIALIZE)
    def initialize(ls: SpecServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict):
            settings = options.get("settings")
            if isinstance(settings, dict):
                ls.editor.flags = {**ls.editor.flags, **settings}
            if isinstance(options.get("quick"), bool):
                ls.quick = options["quick"]
            if isinstance(options.get("debounceMs"), int | float):
                ls.debounce_s = max(0.0, float(options["debounceMs"]) / 1000)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @_guarded(lambda: None)
    def did_open(ls: SpecServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        ls.editor.open(doc.uri, doc.text, doc.version)
        ls.schedule([doc.uri], at_once=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @_guarded(lambda: None)
    def did_change(ls: SpecServer, params: types.DidChangeTextDocumentParams) -> None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        ls.editor.change(doc.uri, doc.source, params.text_document.version)
        ls.schedule([doc.uri])

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @_guarded(lambda: None)
    def did_close(ls: SpecServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls._pending.discard(uri)
        using = ls.editor.close(uri)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
        if using:
            ls.schedule(using, at_once=True)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @_guarded(lambda: None)
    def files_changed(ls: SpecServer, params: types.DidChangeWatchedFilesParams) -> None:
        using = ls.editor.files_changed(uri_to_path(change.uri) for change in params.changes)
        if using:
            ls.schedule(using, at_once=True)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_guarded(list)
    def symbols(ls: SpecServer, params: types.DocumentSymbolParams) -> list[Any]:
        ls.fresh(params.text_document.uri)
        return list(ls.editor.symbols(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
    @_guarded(list)
    def folding(ls: SpecServer, params: types.FoldingRangeParams) -> list[Any]:
        ls.fresh(params.text_document.uri)
        return list(ls.editor.folding(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_guarded(_nothing)
    def hover(ls: SpecServer, params: types.HoverParams) -> types.Hover | None:
        ls.fresh(params.text_document.uri)
        return ls.editor.hover(params.text_document.uri, params.position)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @_guarded(list)
    def definition(ls: SpecServer, params: types.DefinitionParams) -> list[Any]:
        ls.fresh(params.text_document.uri)
        return list(ls.editor.definition(params.text_document.uri, params.position))

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    @_guarded(list)
    def references(ls: SpecServer, params: types.ReferenceParams) -> list[Any]:
        ls.fresh(params.text_document.uri)
        declaration = params.context.include_declaration
        return list(ls.editor.references(params.text_document.uri, params.position, declaration))

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["#", "("])
    )
    @_guarded(list)
    def completion(ls: SpecServer, params: types.CompletionParams) -> list[Any]:
        ls.fresh(params.text_document.uri)
        return list(ls.editor.completion(params.text_document.uri, params.position))

    kinds = [types.CodeActionKind.QuickFix, types.CodeActionKind.Source]

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=kinds)
    )
    @_guarded(list)
    def code_action(ls: SpecServer, params: types.CodeActionParams) -> list[Any]:
        ls.fresh(params.text_document.uri)
        only = [str(k) for k in params.context.only] if params.context.only else None
        return list(ls.editor.code_actions(params.text_document.uri, params.range, only))

    @server.command(COMPILE)
    async def compile_command(ls: SpecServer, *args: Any) -> dict[str, Any]:
        uri = args[0] if args and isinstance(args[0], str) else None
        if uri is None:
            return {"ok": False, "message": f"{COMPILE} takes the spec's URI"}
        return await _compiled(ls, uri)

    @server.command(COMPILE_FUNCTION)
    async def compile_function_command(ls: SpecServer, *args: Any) -> dict[str, Any]:
        """Arguments: the spec's URI, then the function's name or a line (0-based, as the
        protocol counts) in its section, so an editor needs no parser of its own."""
        uri = args[0] if args and isinstance(args[0], str) else None
        which = args[1] if len(args) >= 2 else None
        line = which if isinstance(which, int) and not isinstance(which, bool) else None
        if uri is None or not (isinstance(which, str) or line is not None):
            message = f"{COMPILE_FUNCTION} takes the spec's URI and a function's name or line"
            return {"ok": False, "message": message}
        if line is not None and line < 0:
            raise JsonRpcInvalidParams(f"{COMPILE_FUNCTION}: a line is 0 or more, not {line}")
        name = which if isinstance(which, str) else ls.function_at(uri, line or 0)
        if name is None:
            where = f"line {(line or 0) + 1} of {uri_to_path(uri).name}"
            return ls._said(
                False, f"{where} is in no function's section", types.MessageType.Warning
            )
        return await _compiled(ls, uri, name)

    return server


async def _compiled(ls: SpecServer, uri: str, only: str | None = None) -> dict[str, Any]:
    """What a compile command answers: the compile's outcome, or, where the server itself
    failed, the exception in one line (logged too), never a failed request."""
    try:
        return await ls.compile(uri, only)
    except Exception as exc:
        ls.log(f"compile failed: {type(exc).__name__}: {exc}")
        return {"ok": False, "message": f"{type(exc).__name__}: {exc}"}


class FramedInput:
    """The client's stream as pygls reads it, with what pygls cannot frame taken care of:
    a message whose Content-Length is no number, or over `MAX_MESSAGE`, is skipped with a
    line on stderr, up to the next message's Content-Length header (the editor's session
    goes on); a header pygls would not recognize (other case, other spacing) is given to
    it in the form it reads; bytes before a header on its line are dropped. pygls reads
    headers with `readline` and a body with `read`, so every line read here is read where
    a header is due."""

    def __init__(self, stream: BinaryIO, warn: Callable[[str], None] | None = None) -> None:
        self.stream = stream
        self.warn = warn or _warn
        self._carry = b""

    def readline(self) -> bytes:
        while True:
            line = self._line()
            found = _CONTENT_LENGTH.search(line)
            if found is None:
                return line  # another header, the blank line, or bytes pygls passes over
            size = found[1].strip()
            if size.isdigit() and int(size) <= MAX_MESSAGE:
                return b"Content-Length: %d\r\n" % int(size)
            shown = size[:40].decode("ascii", "replace")
            self.warn(
                f"marshalike: warning: lsp: skipped a message with Content-Length {shown!r} (not a "
                f"size up to {MAX_MESSAGE} bytes); reading on from the next message"
            )

    def read(self, size: int) -> bytes:
        return self.stream.read(size)

    def _line(self) -> bytes:
        """The next line, or the next `_CHUNK` bytes of a longer one. Where a chunk ends
        mid-line, a header that may begin near its end is read again with the next chunk,
        so that it is found whole."""
        while True:
            chunk = self.stream.readline(_CHUNK)
            line, self._carry = self._carry + chunk, b""
            if len(chunk) < _CHUNK or chunk.endswith(b"\n"):
                return line  # a whole line, or the end of the stream
            starts = [found.start() for found in _HEADER_START.finditer(line)]
            if starts and len(line) - starts[-1] <= _CHUNK:
                keep = starts[-1]  # a header whose value goes on in the next chunk
            else:
                keep = len(line) - (_KEEP - 1)  # room for "Content-Length:" cut short
            line, self._carry = line[:keep], line[keep:]
            if line:
                return line


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(flags: Mapping[str, Any], *, quick: bool, main: bool) -> None:
    """Run the server on stdin and stdout until the client says exit."""
    logging.basicConfig(level=logging.WARNING)  # pygls's own messages, on stderr
    server = make_server(flags, quick=quick, main=main)
    status = stdio.run(server.wire, FramedInput(sys.stdin.buffer), sys.stdout.buffer)
    server.stop_compiles()
    stdio.end(server.compiles.threads(), status)
