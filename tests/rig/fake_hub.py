"""A small stand-in for the Hugging Face hub on loopback: it answers the metadata (HEAD) and
resolve (GET, with Range) requests huggingface_hub makes, so the real download code can be tested
without network or mocks. Knobs: gated repos, a corrupted file, a connection cut mid-file."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
_RANGE = re.compile(r"bytes=(\d+)-")


class FakeHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.gated: dict[str, int] = {}  # repo -> 401 or 403
        self.corrupt: set[tuple[str, str]] = set()  # served bytes differ from the advertised sha256
        self.cut_after: dict[tuple[str, str], int] = {}  # first GET sends only this many bytes
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range header
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def gets(self, filename: str) -> list[str | None]:
        return [
            rng for method, path, rng in self.requests if method == "GET" and path.endswith("/" + filename)
        ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _error(self, status: int, code: str, message: str) -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self, *, body: bool) -> None:
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                match = _RESOLVE.match(self.path)
                if match is None:
                    return self._error(404, "RepoNotFound", "not a resolve URL")
                repo, filename = match["repo"], match["filename"]
                if repo in hub.gated:
                    return self._error(hub.gated[repo], "GatedRepo", f"Access to model {repo} is restricted.")
                key = (repo, filename)
                if key not in hub.files:
                    known = any(r == repo for r, _ in hub.files)
                    return self._error(404, "EntryNotFound" if known else "RepoNotFound", "not found")
                data = hub.files[key]
                sha = hashlib.sha256(data + (b"x" if key in hub.corrupt else b"")).hexdigest()
                start = 0
                if body and (found := _RANGE.match(self.headers.get("Range") or "")):
                    start = int(found.group(1))
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("ETag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return None
                cut = hub.cut_after.pop(key, None)
                if cut is not None:  # send part of the file, then drop the connection
                    self.wfile.write(data[start:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                self.wfile.write(data[start:])
                return None

        return Handler
