"""What every API handler of one served workspace shares: the thread pool, rate limits, callers' workspaces.

Blocking SQLite work runs in a small thread pool, never on tornado's loop; the
Store's Pool gives each thread its own connection. A caller's workspace (the
token's user, capped at the token's role) is made once and reused by every thread.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from crm_workspace import ApiResource, NotFound
from crm_workspace.services.http import RateLimiter

from .records import Table
from .tokens import LastUsed

DEFAULT_RATE = 600  # requests per minute and token
WORKERS = 4
_RESOURCES_TTL_S = 10.0


class ApiState:
    """One per served workspace: the system workspace, the pool, the limiter and the caches."""

    def __init__(self, workspace: Any = None, *, workers: int = WORKERS):
        #: acting as the system (token lookups, last-use stamps); ``crm serve`` hands it to the
        #: handlers (``bind``), ``crm api`` gives it here
        self.workspace = workspace
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm-api")
        self._limiters: dict[int, RateLimiter] = {}
        self.last_used = LastUsed()
        self._local = threading.local()  # each worker thread's callers' workspaces (their caches are its own)
        self._tables: tuple[float, dict[str, Table]] = (0.0, {})
        self._lock = threading.Lock()

    def bind(self, workspace: Any) -> None:
        """Serve ``workspace`` (the served workspace acting as ``system:api``) unless one is bound already."""
        if self.workspace is None and workspace is not None:
            with self._lock:
                if self.workspace is None:
                    self.workspace = workspace

    def caller_workspace(self, user: str, role: str) -> Any:
        """The workspace acting as ``user`` capped at ``role``, made once per worker thread."""
        callers = getattr(self._local, "callers", None)
        if callers is None or len(callers) > 1000:
            callers = self._local.callers = {}
        found = callers.get((user, role))
        if found is None:
            found = callers[(user, role)] = self.workspace.as_user(user, max_role=role)
        return found

    def tables(self) -> dict[str, Table]:
        """Every API resource with its columns, by name (looked up again every few seconds)."""
        at, tables = self._tables
        if time.monotonic() - at > _RESOURCES_TTL_S:
            resources: list[ApiResource] = self.workspace.api_resources()
            tables = {r.name: Table.of(self.workspace, r) for r in resources if _exists(self.workspace, r)}
            self._tables = (time.monotonic(), tables)
        return tables

    def table(self, name: str) -> Table:
        tables = self.tables()
        if name not in tables:
            raise NotFound(f"no API resource '{name}' (resources: {', '.join(sorted(tables)) or 'none'})")
        return tables[name]

    def limiter(self) -> RateLimiter:
        """The per-token limiter of the current ``api_rate_limit`` (one per value the setting takes)."""
        rate = self.rate()
        limiter = self._limiters.get(rate)
        if limiter is None:
            with self._lock:
                limiter = self._limiters.setdefault(rate, RateLimiter(rate))
        return limiter

    def rate(self) -> int:
        try:
            return int(self.workspace.setting("api_rate_limit", DEFAULT_RATE))
        except (TypeError, ValueError):
            return DEFAULT_RATE

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _exists(workspace: Any, resource: ApiResource) -> bool:
    try:
        workspace.store.columns(resource.table)
    except NotFound:
        return False
    return True
