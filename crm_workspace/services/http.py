"""The base of every plugin route (``crm_routes``): a Tornado handler with safe defaults.

``RouteHandler`` gives a handler ``self.workspace`` (the served workspace acting as
``system:<plugin>``), JSON and plain-page answers, the client's address, security
headers on every answer, a body size limit, and errors answered in the handler's own
format (JSON for an API, a page for a person) without a traceback. ``RateLimiter``
counts requests per client in memory, for forms and APIs.

Used only by the server and by plugins' handlers: it imports Tornado (which Panel
brings), never Panel or pandas.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import threading
import time
from typing import Any

import tornado.web

from crm_workspace.errors import CrmError, NotFound, PermissionDenied

log = logging.getLogger(__name__)

#: The default largest request body a route accepts (a handler may set its own ``max_body_bytes``).
MAX_BODY_BYTES = 1_000_000
#: The largest body the server reads at all, for any route (``crm serve``'s HTTP server option).
SERVER_MAX_BODY_BYTES = 16 * 1024 * 1024

escape = html.escape

PAGE_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;background:#f4f6f8;margin:0}
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.5rem;margin:0 0 1rem;color:#1f4e79}
a{color:#1f4e79}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input,select,textarea{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #b8c2cc;
border-radius:4px}
input[type=checkbox],input[type=radio]{width:auto}
button{font:inherit;margin-top:1rem;padding:.5rem 1.25rem;border:0;border-radius:4px;background:#1f4e79;
color:#fff;cursor:pointer}
.error{color:#a61b1b}
.muted{color:#5b6875;font-size:.875rem}
""".strip()
_STYLE_HASH = base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()
#: A page may use the stylesheet above and nothing else: no script, no external request, no framing.
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
#: Any other answer (JSON, a feed, a redirect) loads nothing.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


class RouteHandler(tornado.web.RequestHandler):
    """A plugin route's handler: ``self.workspace``, ``write_json``, ``write_page``, ``client_ip``.

    ``initialize(workspace, **kwargs)`` receives the ``Route``'s kwargs; override it
    (calling ``super().initialize(workspace)``) to take named ones, or read
    ``self.route_kwargs``. Class attributes to set: ``max_body_bytes`` (default
    1 MB; a larger body is answered 413), ``json_errors`` (answer errors as JSON,
    for an API; default a page). A ``CrmError`` escaping a method is answered in
    that format: ``NotFound`` 404, ``PermissionDenied`` 403, other ones 400, with
    their message; anything else is a 500 with no detail (and logged). A subclass
    overriding ``prepare`` (to check a token, say) calls ``super().prepare()`` first
    and returns if ``self.answered``.
    """

    max_body_bytes: int = MAX_BODY_BYTES
    json_errors: bool = False
    #: Who may show these answers in a frame (CSP ``frame-ancestors``): nobody by default; a
    #: sign-up form meant to be embedded sets e.g. ``"https://www.example.com"`` (or ``"*"``).
    frame_ancestors: str = "'none'"

    def initialize(self, workspace: Any, **kwargs: Any) -> None:
        self.workspace = workspace
        self.route_kwargs = kwargs

    # ------------------------------------------------------------ requests
    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        if self.frame_ancestors == "'none'":
            self.set_header("X-Frame-Options", "DENY")
        self.set_header("Content-Security-Policy", self._csp(DEFAULT_CSP))
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        """Refuse a body larger than ``max_body_bytes`` (413) before the handler's method runs."""
        declared = self.request.headers.get("Content-Length", "")
        size = int(declared) if declared.isdigit() else len(self.request.body or b"")
        if size > self.max_body_bytes:
            self._answer_error(413, f"the request body is too large (at most {self.max_body_bytes:,} bytes)")

    @property
    def answered(self) -> bool:
        """True once a response was finished (by ``prepare``'s limit, ``check_rate`` or a write)."""
        return self._finished

    @property
    def client_ip(self) -> str:
        """The client's address (the connection's: the core trusts no proxy header)."""
        return self.request.remote_ip or ""

    def json_body(self) -> Any:
        """The request body parsed as JSON; a 400 answer (``tornado.web.HTTPError``) if it is not JSON."""
        try:
            return json.loads(self.request.body or b"null")
        except (UnicodeDecodeError, ValueError) as error:
            raise tornado.web.HTTPError(400, reason="the body is not valid JSON") from error

    def check_rate(self, limiter: RateLimiter, key: str | None = None) -> bool:
        """True if this client (or ``key``) is within ``limiter``'s rate; else answers 429 and returns False."""
        wait = limiter.wait(key if key is not None else self.client_ip)
        if wait <= 0:
            return True
        self.set_header("Retry-After", str(max(1, round(wait))))
        self._answer_error(429, f"too many requests: try again in {max(1, round(wait))} s")
        return False

    # ------------------------------------------------------------- answers
    def write_json(self, status: int, obj: Any) -> None:
        """Answer ``obj`` as JSON with ``status`` and finish."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(obj, default=str, ensure_ascii=False))

    def write_page(self, title: str, body_html: str, status: int = 200) -> None:
        """Answer a plain, self-contained HTML page and finish.

        ``title`` is text (escaped here); ``body_html`` is markup: escape every
        untrusted value in it with ``escape``. The page loads nothing from anywhere
        (one inline stylesheet, no script) and may not be framed.
        """
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", self._csp(PAGE_CSP))
        self.finish(render_page(title, body_html))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, CrmError):
            status_code = 404 if isinstance(error, NotFound) else 403 if isinstance(error, PermissionDenied) else 400
            message = str(error)
        elif isinstance(error, tornado.web.HTTPError) and status_code < 500:
            message = error.reason or self._reason
        else:
            message = "something went wrong on the server" if status_code >= 500 else self._reason
        self._answer_error(status_code, message, getattr(error, "errors", None))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, CrmError):  # a person's mistake, answered with its message: not a server fault
            log.info("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def _csp(self, policy: str) -> str:
        return policy.replace("frame-ancestors 'none'", f"frame-ancestors {self.frame_ancestors}")

    def _answer_error(self, status: int, message: str, fields: dict | None = None) -> None:
        self.clear_header("Content-Security-Policy")
        self.set_default_headers()
        if self.json_errors:
            body: dict[str, Any] = {"error": message}
            if fields:
                body["fields"] = fields
            self.write_json(status, body)
        else:
            self.write_page("Sorry", f'<p class="error">{escape(message)}</p>', status=status)


def render_page(title: str, body_html: str) -> str:
    """The HTML of a plain page: ``title`` escaped, ``body_html`` as given, the inline stylesheet."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{escape(title)}</title>'
        f"<style>{PAGE_STYLE}</style></head>\n<body><main><h1>{escape(title)}</h1>\n{body_html}\n</main></body></html>\n"
    )


class RateLimiter:
    """At most ``per_minute`` requests per key (a client address, a token), in this process's memory.

    A token bucket: a key may burst ``per_minute`` requests, then one more every
    ``60 / per_minute`` seconds. ``allow(key)`` counts a request and says whether it
    may go on; ``wait(key)`` does the same but says how long to wait (0: go on).
    Thread-safe; keys idle long enough to be full again are forgotten, so memory
    stays bounded by the clients of the last minute.
    """

    def __init__(self, per_minute: int, *, clock: Any = time.monotonic):
        if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 1:
            raise CrmError(f"a rate limit needs a positive number of requests per minute, not {per_minute!r}")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def wait(self, key: str) -> float:
        """0 if this request of ``key`` may go on (and count it), else the seconds until one may."""
        now = self._clock()
        with self._lock:
            if len(self._buckets) > 10_000:
                self._forget_idle(now)
            tokens, at = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * self._rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self._rate

    def allow(self, key: str) -> bool:
        """Count a request of ``key``; True if it is within the rate."""
        return self.wait(key) <= 0

    def _forget_idle(self, now: float) -> None:
        full = 60.0  # a bucket refills completely within a minute
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full}


__all__ = [
    "MAX_BODY_BYTES",
    "PAGE_CSP",
    "RateLimiter",
    "RouteHandler",
    "escape",
    "render_page",
]
