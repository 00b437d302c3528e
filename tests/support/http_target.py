"""A real HTTP server on loopback that records what it receives and answers as told.

``http_target()`` starts the standard library's ``ThreadingHTTPServer`` in a thread on
127.0.0.1 (a random port). Every request is recorded on arrival (method, path, query, headers,
body, arrival time) before it is answered; the answer (status, body, headers, delay) is set per
path or for all paths with :meth:`HTTPTarget.respond`:

    with http_target() as target:
        target.respond(503, path="/health", body="down")
        requests.get(target.url + "/health")
        (request,) = target.wait_for_requests(1)
        assert request.method == "GET"

A delayed answer waits in the server's handler thread; closing the server cuts the wait short,
so tests that time out on a slow answer do not hold up teardown.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedHTTPRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    #: ``time.monotonic()`` when the request line and body had been read.
    arrived_at: float

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name (None if absent)."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Reply:
    """How to answer: status, body, extra headers, and seconds to wait before answering."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


class HTTPTarget:
    """The running server: its URL, what it received, and how it answers."""

    def __init__(self) -> None:
        self.url = ""
        self._requests: list[RecordedHTTPRequest] = []
        self._default = Reply()
        self._by_path: dict[str, Reply] = {}
        self._changed = threading.Condition()
        self.closing = threading.Event()

    # -- how to answer -----------------------------------------------------------------------

    def respond(
        self,
        status: int = 200,
        *,
        body: str | bytes = b"",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        path: str | None = None,
    ) -> None:
        """Answer requests for ``path`` (all paths if None) this way from now on."""
        reply = Reply(
            status=status,
            body=body.encode() if isinstance(body, str) else body,
            headers=dict(headers or {}),
            delay=delay,
        )
        with self._changed:
            if path is None:
                self._default = reply
            else:
                self._by_path[path] = reply

    def reply_for(self, path: str) -> Reply:
        with self._changed:
            return self._by_path.get(path, self._default)

    # -- what was received -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedHTTPRequest]:
        """Requests received so far, oldest first."""
        with self._changed:
            return list(self._requests)

    def record(self, request: RecordedHTTPRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedHTTPRequest]:
        """The first ``count`` requests, waiting up to ``timeout`` seconds for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} request(s) within {timeout} s, got {len(self._requests)}"
                    )
                self._changed.wait(remaining)
            return list(self._requests[:count])

    def reset(self) -> None:
        """Forget received requests and answer 200 with an empty body again."""
        with self._changed:
            self._requests.clear()
            self._default = Reply()
            self._by_path.clear()


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _TargetServer
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        target = self.server.target
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        target.record(
            RecordedHTTPRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=dict(self.headers.items()),
                body=body,
                arrived_at=time.monotonic(),
            )
        )
        reply = target.reply_for(parts.path)
        if reply.delay > 0 and target.closing.wait(reply.delay):
            return  # the server is closing: drop the answer
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests are the log."""


class _TargetServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # delayed answers are cut short by ``closing`` instead

    def __init__(self, target: HTTPTarget) -> None:
        self.target = target
        super().__init__(("127.0.0.1", 0), _RecordingHandler)


@contextmanager
def http_target() -> Iterator[HTTPTarget]:
    """Start a recording HTTP server on loopback; stop it on exit."""
    target = HTTPTarget()
    server = _TargetServer(target)
    target.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        target.closing.set()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
