"""The tornado handlers of ``/api/``: authentication, JSON errors, limits, and the work in a thread pool.

Each request authenticates its ``Authorization: Bearer`` token, takes one unit of
the token's rate limit and does its Store work in one trip to the thread pool,
acting as the token's user capped at the token's role. Errors are JSON
``{"error": {"status", "message", "fields"?}}`` (see docs/api.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import tornado.web
from tornado.ioloop import IOLoop

from crm_workspace import ConflictError, CrmError, NotFound, PermissionDenied, ValidationError
from crm_workspace.errors import DatabaseLocked
from crm_workspace.services.http import RouteHandler

from . import records
from .records import BadRequest
from .state import ApiState
from .tokens import Caller, Unauthorized, authenticate

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, fields: dict | None = None, headers: dict | None = None, **extra: Any
    ):
        super().__init__(message)
        self.status, self.message, self.fields, self.headers, self.extra = status, message, fields, headers or {}, extra


def _encode(obj: Any) -> str:
    return json.dumps(obj, default=str, ensure_ascii=False, separators=(",", ":"))


@tornado.web.stream_request_body
class ApiHandler(RouteHandler):
    """The base of every API handler: ``state`` shared, the body read up to 1 MB, errors as JSON.

    The body is streamed (``stream_request_body``): a body declared or grown over 1 MB
    is refused with 413 as soon as that is known, never read whole into memory.
    """

    json_errors = True

    def initialize(self, workspace: Any = None, state: ApiState | None = None, **_kwargs: Any) -> None:
        super().initialize(workspace)
        self.state = state
        state.bind(workspace)
        self._body = bytearray()

    def set_default_headers(self) -> None:
        super().set_default_headers()  # nosniff, no-referrer, no framing, a CSP that loads nothing, no-store
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.clear_header("Server")

    def check_xsrf_cookie(self) -> None:  # bearer tokens, never cookies: no cross-site forgery to guard
        return None

    def prepare(self) -> None:
        # Instead of RouteHandler.prepare, which measures a body read whole: this one is streamed.
        length = self.request.headers.get("Content-Length")
        if length is not None:
            try:
                too_big = int(length) > MAX_BODY
            except ValueError:
                raise tornado.web.HTTPError(400, reason="bad Content-Length") from None
            if too_big:
                raise tornado.web.HTTPError(413)

    def data_received(self, chunk: bytes) -> None:
        self._body.extend(chunk)
        if len(self._body) > MAX_BODY:
            raise tornado.web.HTTPError(413)

    # ---------------------------------------------------------- answers
    def send(self, status: int, obj: Any, headers: dict | None = None) -> None:
        self.set_status(status)
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        self.finish(obj if isinstance(obj, str | bytes) else _encode(obj))

    def send_error_json(self, status: int, message: str, fields: dict | None = None, **extra: Any) -> None:
        body: dict[str, Any] = {"status": status, "message": message}
        if fields:
            body["fields"] = fields
        body.update(extra)
        self.send(status, {"error": body})

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """tornado's own errors (413 while reading the body, 405, 500) as JSON too."""
        messages = {
            413: f"request body too large (at most {MAX_BODY // 1024} KiB)",
            405: f"method {self.request.method} not allowed here",
            404: "not found",
        }
        self.set_header("Content-Type", "application/json; charset=utf-8")
        message = messages.get(status_code) or self._reason or "internal error"
        self.finish(_encode({"error": {"status": status_code, "message": message}}))

    def json_body(self) -> Any:
        if not self._body.strip():
            return {}
        try:
            return json.loads(bytes(self._body))
        except (ValueError, UnicodeDecodeError) as error:
            raise ApiError(400, f"malformed JSON: {error}") from None

    def url_for_path(self, path: str) -> str:
        return f"{self.request.protocol}://{self.request.host}{path}"

    # ------------------------------------------------------------- work
    async def run(
        self, work: Callable[[Any, Caller], tuple[int, Any] | tuple[int, Any, dict]], *, public=False
    ) -> None:
        """Authenticate, rate-limit and call ``work(caller_workspace, caller)`` in the pool; answer its result."""
        state = self.state
        header = self.request.headers.get("Authorization")

        def in_thread() -> tuple:
            caller = None if public else authenticate(state.workspace, header)
            if caller is not None:
                wait = state.limiter().wait(str(caller.token_id))
                if wait > 0:
                    wait = max(1, round(wait))
                    raise ApiError(
                        429,
                        f"rate limit: at most {state.rate()} requests a minute per token; retry in {wait:.0f} s",
                        headers={"Retry-After": str(wait)},
                    )
            ws = state.workspace if caller is None else state.caller_workspace(caller.user, caller.role)
            try:
                return work(ws, caller)
            finally:
                if caller is not None and state.last_used.due(caller):
                    state.last_used.write(state.workspace, caller)

        try:
            result = await IOLoop.current().run_in_executor(state.executor, in_thread)
        except Exception as error:  # one JSON answer for every failure
            self._answer_error(error)
            return
        self.send(*result)

    def _answer_error(self, error: Exception) -> None:
        if isinstance(error, ApiError):
            for name, value in error.headers.items():
                self.set_header(name, value)
            self.send_error_json(error.status, error.message, error.fields, **error.extra)
        elif isinstance(error, Unauthorized):
            self.set_header("WWW-Authenticate", 'Bearer realm="crm-workspace"')
            self.send_error_json(401, str(error))
        elif isinstance(error, BadRequest):
            self.send_error_json(400, str(error), error.fields)
        elif isinstance(error, ValidationError):
            self.send_error_json(422, str(error), error.errors)
        elif isinstance(error, ConflictError):
            current = self._current(error)
            self.send_error_json(409, str(error), None, current=current)
        elif isinstance(error, PermissionDenied):
            self.send_error_json(403, str(error))
        elif isinstance(error, NotFound):
            self.send_error_json(404, str(error))
        elif isinstance(error, DatabaseLocked):
            self.set_header("Retry-After", "1")
            self.send_error_json(503, str(error))
        elif isinstance(error, CrmError):
            self.send_error_json(409 if "refer to it" in str(error) else 400, str(error))
        else:
            log.exception("API request failed: %s %s", self.request.method, self.request.path, exc_info=error)
            self.send_error_json(500, "internal error (logged on the server)")

    def _current(self, error: ConflictError) -> dict:
        for table in self.state.tables().values():
            if table.resource.table == error.table:
                return records.shown(table, error.theirs)
        return {}


def _query_args(handler: tornado.web.RequestHandler) -> dict[str, str]:
    return {key: handler.get_query_argument(key) for key in handler.request.query_arguments}
