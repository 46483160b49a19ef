"""How the server reads the client's messages and answers them: pygls's protocol, with the
messages pygls would leave unanswered, answer with a traceback, or fail on, taken care of.

- A body that is not JSON in UTF-8 is answered with ParseError; one that is no JSON-RPC
  2.0 request (no `"jsonrpc": "2.0"`, no method, an id that is no number or string) with
  InvalidRequest; both with the id null where it cannot be read, as JSON-RPC says.
- A request whose params do not fit the protocol's types (a negative position, command
  arguments that are no array) is answered with InvalidParams; such a notification, which
  has no answer, is dropped with a line on stderr.
- Before `initialize`, a request is answered with ServerNotInitialized and a notification
  dropped; after `shutdown`, which cancels the requests in flight and stops the compiles,
  every request but `exit` is answered with InvalidRequest (the protocol's rules).
- `exit` stops the compiles and ends the read loop (`marshalike.lsp.stdio`), with exit
  status 0 after `shutdown` and 1 without.
- `$/cancelRequest` for a command cancels the command's own work too (a compile stops
  before it writes), where pygls cancels only the request that waits for it.
- A change of a document that is not open is dropped: there is no text to apply it to.
- An error answer never carries a traceback; pygls's internal errors lose theirs (it is
  logged on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Generator
from concurrent.futures import Future
from typing import Any, Protocol, cast
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    MsgId,
)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
NOT_INITIALIZED = -32002
VERSION = "2.0"


class Owner(Protocol):
    """What the protocol asks of the server it belongs to."""

    def stop_compiles(self) -> None: ...


class SpecProtocol(LanguageServerProtocol):
    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.exit_status: int | None = None  # set by `exit`: the status the process ends with
        self._awaiting: Future[Any] | None = None  # the request whose handler starts next

    @property
    def is_shut_down(self) -> bool:
        return self._shutdown

    def receive(self, body: bytes) -> None:
        """Read one message's body and handle it; never raises but for a lost client."""
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past reading
            self.refuse(None, PARSE_ERROR, "the message is not JSON in UTF-8")
            return
        try:
            message = self._read(data)
            if message is not None:
                self.handle_message(message)
        except BrokenPipeError:
            raise
        except Exception as exc:
            warn(f"a message could not be handled: {type(exc).__name__}: {exc}")

    def refuse(self, ident: MsgId | None, code: int, message: str) -> None:
        """Answer the request `ident` (None: one whose id cannot be read) with an error.
        A plain dict, because lsprotocol's answer type leaves out an id that is null."""
        error = {"code": code, "message": message}
        self._send_data({"jsonrpc": VERSION, "id": ident, "error": error})

    def _read(self, data: Any) -> Any:
        """`data` as a message of the protocol's types, or None where it is no message
        this server can take (answered, where it is a request, or dropped)."""
        if not isinstance(data, dict):
            self.refuse(None, INVALID_REQUEST, "a message is a JSON object")
            return None
        ident = data.get("id")
        readable = isinstance(ident, int | str) and not isinstance(ident, bool)
        if "method" not in data and ("result" in data or "error" in data):
            if data.get("jsonrpc") == VERSION and readable:
                return self._structured(data)
            warn("ignored a response that is no JSON-RPC 2.0 response")
            return None
        problem = _request_problem(data, readable)
        if problem is not None:
            self.refuse(ident if readable else None, INVALID_REQUEST, problem)
            return None
        return self._structured(data)

    def _structured(self, data: dict[str, Any]) -> Any:
        """The message of the protocol's type that `data` is (as pygls reads it, without
        the traceback pygls logs for params that do not fit)."""
        method = data.get("method")
        try:
            _check_arguments(data)
            if not isinstance(method, str):
                kind = (
                    types.ResponseErrorMessage
                    if "error" in data
                    else self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                )
            elif "id" in data:
                kind = self.get_message_type(method) or JsonRPCRequestMessage
            else:
                kind = self.get_message_type(method) or JsonRPCNotification
            return self._converter.structure(data, kind)
        except Exception:  # cattrs's errors, and the values it refuses
            if not isinstance(method, str):
                warn("ignored a response that does not fit the protocol")
            elif "id" in data:
                self.refuse(data["id"], JsonRpcInvalidParams.CODE, f"invalid params for {method}")
            else:
                warn(f"ignored a {method} notification whose params do not fit the protocol")
            return None

    def handle_message(self, message: Any) -> None:
        """pygls's dispatch, but for the protocol's rules on what comes before
        `initialize` (a request is refused, a notification dropped) and after
        `shutdown` (a request is refused, where pygls leaves it unanswered)."""
        method = getattr(message, "method", None)
        request = hasattr(message, "id")
        if self._workspace is None and method not in (None, types.INITIALIZE, types.EXIT):
            if request:
                self.refuse(message.id, NOT_INITIALIZED, "the server is not initialized yet")
            else:
                warn(f"ignored {method}, which came before initialize")
            return
        if self._shutdown and method not in (None, types.EXIT) and request:
            self.refuse(message.id, INVALID_REQUEST, "the server is shut down: only exit is left")
            return
        super().handle_message(message)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """Cancel every request in flight but this one and stop the compiles. The futures
        are copied first: cancelling one runs the callback that removes it."""
        if (handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield handler, args, None
        current = self.msg_id
        for ident, future in list(self._request_futures.items()):
            if ident != current and not future.done():
                future.cancel()
        self._shutdown = True
        cast(Owner, self._server).stop_compiles()

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Stop the compiles and end the read loop; the process ends in `stdio.end`, which
        does not wait for a compile stuck on a model server."""
        if (handler := self.fm.features.get(types.EXIT)) is not None:
            yield handler, args, None
        cast(Owner, self._server).stop_compiles()
        self.exit_status = 0 if self._shutdown else 1

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        uri = params.text_document.uri
        if self._workspace is None or unquote(uri) not in self._workspace.text_documents:
            warn(f"ignored a change of {uri}, which is not open")
            return
        yield from super().lsp_text_document__did_change(params)

    def _run_generator(
        self,
        future: Future[Any] | None,
        *,
        gen: Generator[Any, Any, Any],
        result_future: Future[Any],
    ) -> None:
        """pygls's, but a handler that was cancelled (as the end of the session cancels
        every task) cancels its request, where pygls would raise CancelledError in a
        callback."""
        if future is not None and future.cancelled():
            gen.close()
            result_future.cancel()
            return
        self._awaiting = result_future
        try:
            super()._run_generator(future, gen=gen, result_future=result_future)
        finally:
            self._awaiting = None

    def _execute_handler(
        self,
        msg_id: MsgId,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls's; a handler that a request's generator starts (a command's) is held by
        that request, so cancelling the request cancels it, rather than by an id of its
        own that no one cancels or removes."""
        request, self._awaiting = self._awaiting, None
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        started = self._request_futures.pop(msg_id, None) if request is not None else None
        if request is not None and started is not None:
            request.add_done_callback(lambda done: started.cancel() if done.cancelled() else None)

    def _send_handler_result(self, future: Future[Any], *, msg_id: MsgId) -> None:
        """A handler's protocol error (InvalidParams) is answered as it is, without the
        traceback pygls logs for it."""
        error = None if future.cancelled() else future.exception()
        if isinstance(error, JsonRpcException):
            self._request_futures.pop(msg_id, None)
            self._send_response(msg_id, error=error.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def _send_response(
        self,
        msg_id: MsgId,
        result: Any | None = None,
        error: types.ResponseError | None = None,
    ) -> None:
        if error is not None and error.code == JsonRpcInternalError.CODE:
            error = types.ResponseError(code=error.code, message=error.message)
        super()._send_response(msg_id, result, error)


def _request_problem(data: dict[str, Any], readable: bool) -> str | None:
    """Why `data` is no JSON-RPC 2.0 request or notification; None when it is one."""
    if data.get("jsonrpc") != VERSION:
        return 'a message says "jsonrpc": "2.0"'
    if not isinstance(data.get("method"), str):
        return "a request names its method, a string"
    if "id" in data and not readable:
        return "a request's id is a number or a string"
    return None


def _check_arguments(data: dict[str, Any]) -> None:
    """Refuse a command's arguments that are no array, which pygls would read as the
    characters of a string or the keys of an object."""
    params = data.get("params")
    if data.get("method") == types.WORKSPACE_EXECUTE_COMMAND and isinstance(params, dict):
        if params.get("arguments") is not None and not isinstance(params["arguments"], list):
            raise ValueError("a command's arguments are an array")


def warn(message: str) -> None:
    print(f"marshalike: warning: lsp: {message}", file=sys.stderr, flush=True)
