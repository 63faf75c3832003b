"""A real webhook receiver for the tests: http.server in a thread, verifying signatures as docs/webhooks.md says.

``Receiver(answer)`` serves on a free loopback port; ``answer(request)`` returns the status
to send (or sleeps first, to hang). Every request is kept in ``requests`` with its headers,
body and whether its signature verified.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def verify(secret: str, headers, body: bytes, *, now: float | None = None, window: int = 300) -> bool:
    """The receiver's check from docs/webhooks.md: fresh timestamp, and the HMAC of timestamp + "." + body."""
    timestamp = headers.get("X-CRM-Timestamp", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > window:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-CRM-Signature", ""))


@dataclass
class Request:
    headers: dict
    body: bytes
    status: int
    verified: bool | None = None

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers.get("X-CRM-Delivery", "")


@dataclass
class Receiver:
    answer: Callable[[Request], int] = lambda request: 200
    secret: str | None = None
    requests: list[Request] = field(default_factory=list)
    tls: Any = None  # an ssl.SSLContext: serve https on "localhost"

    def __post_init__(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Request(dict(self.headers), body, 0)
                if receiver.secret is not None:
                    request.verified = verify(receiver.secret, self.headers, body)
                try:
                    request.status = receiver.answer(request)
                except Exception:
                    request.status = 500
                receiver.requests.append(request)
                try:
                    self.send_response(request.status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ok(self) -> list[Request]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver did not get what was expected in {timeout} s: {self.requests}")
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
