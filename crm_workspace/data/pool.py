"""Connections to one workspace file: one per thread, the in-process write lock, per-thread state.

One SQLite file in WAL mode is shared by served sessions (threads), several
processes and notebooks. Each thread gets its own connection; what a thread is
doing (a write transaction, a read snapshot, the write context, a policy read)
is kept here, beside its connection, and shared by every Store over this Pool.
Every connection carries the authorizer of crm_workspace/data/access.py: what a
statement may do depends on that state (reads never write).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from crm_workspace.data.access import Authorizer, ReadScope
from crm_workspace.errors import CrmError

#: A number per connection ever opened in this process: part of every data-version token.
_CONNECTIONS = itertools.count(1)

#: How long a writer waits for another writer's lock before giving up (``$CRM_BUSY_TIMEOUT``).
BUSY_TIMEOUT_S = float(os.environ.get("CRM_BUSY_TIMEOUT", "10"))

#: Page cache of a connection while it reads (KiB).
READ_CACHE_KIB = 32_000
#: Page cache ceiling while a connection holds a write transaction (KiB, ``$CRM_WRITE_CACHE_MB``).
#: A bulk write (an import, 100k contacts) dirties ~1.2 KiB of pages per contact
#: with indexes, FTS and audit; when they no longer fit, SQLite spills them to the
#: WAL mid-transaction and every later page lookup searches that growing WAL, which
#: made 100k-row writes 2-5x slower. The cache grows only as pages are touched and
#: shrinks back to ``READ_CACHE_KIB`` at commit.
WRITE_CACHE_KIB = int(float(os.environ.get("CRM_WRITE_CACHE_MB", "256")) * 1024)


class Pool:
    """Per-thread connections to one database file, and the in-process write lock."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        self.write_lock = threading.RLock()
        self.local_writes = 0
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()

    def connect(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
                db = sqlite_utils.Database(conn, execute_plugins=False)  # sets its PRAGMAs
                conn.set_authorizer(Authorizer(self._local))  # last: the setup above is the Pool's own
            except sqlite3.DatabaseError as error:
                raise CrmError(f"cannot open workspace database {self.path}: {error}") from error
            self._local.db = db
            self._local.serial = next(_CONNECTIONS)
            with self._all_lock:
                self._all.append(conn)
        return db

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------- this thread's state
    @property
    def in_write(self) -> bool:
        return getattr(self._local, "transaction", None) is not None

    def data_version(self, conn: sqlite3.Connection) -> tuple[int, int, int] | object:
        """A token that changes whenever any connection, in any process, commits.

        Inside a write transaction nobody else can commit, so the token is that
        transaction's own (no query per call: validation asks for every row).
        Outside, SQLite's ``data_version`` counts commits *this connection* saw:
        two threads' connections may show the same number at different moments, so
        the token names the connection too, and a cache shared by threads (a Store's
        settings and roles, used by the API's worker threads) never takes one
        thread's token for another's.
        """
        token = getattr(self._local, "transaction", None)
        if token is not None:
            return token
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        return (getattr(self._local, "serial", 0), version, self.local_writes)

    @contextlib.contextmanager
    def snapshot(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Reads on ``conn`` inside see the database as of one moment (see ``Store.snapshot``)."""
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts at the first read
        self._local.transaction = self._local.snapshot = object()
        try:
            yield
        finally:
            self._local.transaction = self._local.snapshot = None
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def reading(self, *, audit: bool) -> Iterator[ReadScope]:
        """Statements of this thread inside are policy reads (see crm_workspace/data/access.py).

        Nested scopes only narrow: an inner scope reads the audit log only if the
        outer one may. Run the SQL prefixed with the scope's ``tag``.
        """
        outer: ReadScope | None = getattr(self._local, "read", None)
        scope = ReadScope(audit=audit and (outer is None or outer.audit))
        self._local.read = scope
        try:
            yield scope
        finally:
            self._local.read = outer

    @contextlib.contextmanager
    def journals_in_memory(self, conn: sqlite3.Connection, wanted: bool = True) -> Iterator[None]:
        """Statement journals inside kept in memory (``temp_store``), for an all-or-nothing bulk write.

        Each multi-row INSERT on a table with triggers and constraints keeps a journal of the
        pages it changes, to undo itself alone on an error; in a temporary file that was ~1 GB
        of writes per 100k-row import. A bulk write that an error aborts whole needs none of it
        on disk. Left as it is while temporary tables are open (SQLite refuses the change).
        """
        previous = conn.execute("PRAGMA temp_store").fetchone()[0] if wanted else 2
        if previous != 2:
            try:
                conn.execute("PRAGMA temp_store = MEMORY")
            except sqlite3.OperationalError:
                previous = 2
        try:
            yield
        finally:
            if previous != 2:
                with contextlib.suppress(sqlite3.OperationalError):
                    conn.execute(f"PRAGMA temp_store = {int(previous)}")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Statements of this thread inside are the Store's own: they may write.

        Held for a Store write transaction and for migrations. A policy read opened
        inside (``reading``) is still read-only.
        """
        outer = getattr(self._local, "read", None)
        self._local.read = None
        self._local.writing = getattr(self._local, "writing", 0) + 1
        try:
            yield
        finally:
            self._local.writing -= 1
            self._local.read = outer

    @property
    def is_writing(self) -> bool:
        """True while this thread's statements may write: inside the Store's write, outside a policy read."""
        return bool(getattr(self._local, "writing", 0)) and getattr(self._local, "read", None) is None

    @contextlib.contextmanager
    def context(self, **info: Any) -> Iterator[None]:
        """Tag every write of this thread inside with ``info`` (see ``Store.context``)."""
        stack = self._context_stack()
        stack.append(info)
        try:
            yield
        finally:
            stack.pop()

    def _context_stack(self) -> list[dict]:
        local = self._local
        if not hasattr(local, "context"):
            local.context = []
        return local.context

    def current_context(self) -> dict[str, Any]:
        """Every ``context`` open on this thread, merged (inner wins)."""
        merged: dict[str, Any] = {}
        for info in self._context_stack():
            merged.update(info)
        return merged
