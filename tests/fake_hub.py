"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests: the few endpoints that
huggingface_hub calls to list a repository and download a file from it.

    with FakeHub({"acme/tiny-GGUF": {"tiny-Q4_K_M.gguf": data}}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)

- `GET /api/models/OWNER/REPO[/revision/REV]`: the repository's commit and `siblings`;
- `HEAD` and `GET /OWNER/REPO/resolve/REV/FILE`: the file, with the headers the hub sends
  an LFS file with (`X-Repo-Commit`, `X-Linked-Etag` = its sha256, `X-Linked-Size`,
  `ETag`, `Content-Length`); a `Range: bytes=N-` request gets the rest (206);
- unknown repositories and files: 404 with the hub's `X-Error-Code`.

`requests` keeps every (method, path, Range header); `cut_after` makes the next GET send
only that many bytes and then close the connection, as a dropped download does;
`corrupt` serves one byte changed while announcing the true checksum.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str, str | None]] = []
        self.cut_after: int | None = None
        self.corrupt = False
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub._answer(self, "GET")

            def do_HEAD(self) -> None:
                hub._answer(self, "HEAD")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def downloads(self) -> list[str]:
        """The paths of the GETs that fetched file content."""
        return [
            path for method, path, _ in self.requests if method == "GET" and "/resolve/" in path
        ]

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        self.requests.append((method, path, handler.headers.get("Range")))
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path)
        if api:
            files = self.repos.get(api[1])
            if files is None:
                return _send(handler, 404, {"X-Error-Code": "RepoNotFound"}, b"{}")
            body = {
                "id": api[1],
                "modelId": api[1],
                "sha": COMMIT,
                "siblings": [{"rfilename": name} for name in sorted(files)],
            }
            return _send(
                handler, 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
            )
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if not resolve:
            return _send(handler, 404, {}, b"")
        files = self.repos.get(resolve[1])
        if files is None:
            return _send(handler, 404, {"X-Error-Code": "RepoNotFound"}, b"")
        data = files.get(resolve[3])
        if data is None:
            return _send(handler, 404, {"X-Error-Code": "EntryNotFound"}, b"")
        sha = hashlib.sha256(data).hexdigest()
        headers = {
            "X-Repo-Commit": COMMIT,
            "X-Linked-Etag": f'"{sha}"',
            "X-Linked-Size": str(len(data)),
            "ETag": f'"{sha}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return _send(handler, 200, headers, b"", head=True)
        if self.corrupt:
            data = bytes([data[0] ^ 1]) + data[1:]
        start = 0
        wanted = re.fullmatch(r"bytes=(\d+)-", handler.headers.get("Range") or "")
        status = 200
        if wanted:
            start, status = int(wanted[1]), 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        if self.cut_after is not None:
            body, self.cut_after = body[: self.cut_after], None
            headers["Connection"] = "close"
            handler.close_connection = True
        _send(handler, status, headers, body)


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    headers: dict[str, str],
    body: bytes,
    *,
    head: bool = False,
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if "Content-Length" not in headers:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if not head:
        handler.wfile.write(body)
