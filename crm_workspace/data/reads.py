"""The Store's reads: every one a policy read (crm_workspace/data/access.py).

``query``, ``scalar`` and ``get`` cannot write and never see password hashes;
``read(run, as_actor=True)`` also applies the acting user's role (the audit log
for admins only), for SQL a person typed (``ws.df``, ``ws.query``, exports).
Authentication reads the hash through ``password_hash`` alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from crm_workspace.data import permissions
from crm_workspace.errors import CrmError, NotFound, PermissionDenied

if TYPE_CHECKING:
    import sqlite_utils

    from crm_workspace.data.actor import Actor
    from crm_workspace.data.pool import Pool

T = TypeVar("T")


class AuditRefused(Exception):
    """A policy read touched the audit log before the reader's role was looked up."""


class StoreReads:
    """The read half of the Store (a mixin: the Store provides the attributes below)."""

    pool: Pool
    actor: Actor
    _columns: dict[str, dict[str, str]]
    _defaults: dict[str, set[str]]
    #: (schema version, table → writes its append-only triggers refuse), read by ``append_only``
    _append_only: tuple[int, dict[str, set[str]]] | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's sqlite-utils Database: for reads and schema work."""
        return self.pool.connect()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def _translate_error(self, error: sqlite3.Error) -> CrmError:
        return CrmError(f"query failed: {error}")

    def query(self, sql: str, params: Sequence | dict | None = None, *, as_actor: bool = False) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts. It cannot write (crm_workspace/data/access.py).

        ``as_actor=True`` applies the acting user's whole read policy (the audit log
        for admins only): for SQL a person typed (``ws.query``); plugins' own reads
        leave it off, password hashes read as NULL either way.
        """

        def run(conn: sqlite3.Connection, tag: str) -> list[dict[str, Any]]:
            cursor = conn.execute(tag + sql, params or ())
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        return self.read(run, as_actor=as_actor)

    def scalar(self, sql: str, params: Sequence | dict | None = None) -> Any:
        """The first column of the first row of a read query (None for no rows)."""

        def run(conn: sqlite3.Connection, tag: str) -> Any:
            row = conn.execute(tag + sql, params or ()).fetchone()
            return row[0] if row else None

        return self.read(run)

    def read(self, run: Callable[[sqlite3.Connection, str], T], *, as_actor: bool = False) -> T:
        """``run(conn, tag)`` as a policy read: no writes, no password hashes, and with
        ``as_actor`` the audit log only for a user who may read it.

        ``run`` must prefix every SQL text with ``tag`` (see access.py: the statement
        cache). A refusal raises PermissionDenied in one line; other SQLite errors are
        translated as before. The audit log is decided lazily: the role is looked up
        only when a query of a non-admin actually touched it.
        """
        try:
            return self._read_once(run, audit=not as_actor)
        except AuditRefused:
            pass
        if not self._may_read_audit():
            raise PermissionDenied(f"only an admin may read the audit log ({self.actor.user} is not one)")
        return self._read_once(run, audit=True)

    def _read_once(self, run: Callable[[sqlite3.Connection, str], T], *, audit: bool) -> T:
        with self.pool.reading(audit=audit) as scope:
            try:
                return run(self.conn, scope.tag)
            except Exception as error:
                if scope.refused is not None:
                    raise PermissionDenied(
                        f"queries are read-only: {scope.refused} refused (data changes only through the Store)"
                    ) from error
                if scope.refused_audit:
                    raise AuditRefused from error
                if isinstance(error, sqlite3.OperationalError):
                    raise self._translate_error(error) from error
                raise

    def _may_read_audit(self) -> bool:
        return permissions.is_admin(self)  # the same rule as `crm audit` and the Audit trail page

    def password_hash(self, username: str) -> str | None:
        """The stored password hash of an active user: for checking a login only.

        Every other read sees ``users.password_hash`` as NULL (the read policy).
        """
        with self.pool.writing():
            return permissions.password_hash_of(self.conn, username)

    def secret(self, table: str, column: str, row_id: Any) -> Any:
        """The value of a hidden column (``schema.hide_column``) of one row, for checking a credential only.

        Every other read sees hidden columns as NULL (the read policy).
        """
        from crm_workspace.data.access import HIDDEN_COLUMNS

        if (table, column) not in HIDDEN_COLUMNS:
            raise CrmError(f"{table}.{column} is not a hidden column")
        pk = self.primary_key(table)
        with self.pool.writing():
            row = self.conn.execute(
                f"/*crm:auth*/ SELECT [{column}] FROM [{table}] WHERE [{pk}] = ?", [row_id]
            ).fetchone()
        return row[0] if row else None

    def users_with_password(self) -> set[str]:
        """Usernames that have a login password (for listing users; the hashes stay hidden)."""
        with self.pool.writing():
            rows = self.conn.execute(
                "/*crm:auth*/ SELECT username FROM users WHERE password_hash IS NOT NULL AND password_hash != ''"
            ).fetchall()
        return {row[0] for row in rows}

    def get(self, table: str, row_id: Any) -> dict[str, Any]:
        """One row by primary key, or NotFound.

        Read as a policy read, except inside the Store's own write: there the row
        is the ``before`` of a change and must be whole (a password can be cleared).
        """
        pk = self.primary_key(table)
        sql = f"SELECT * FROM [{table}] WHERE [{pk}] = ?"
        if self.pool.is_writing:
            cursor = self.conn.execute(sql, [row_id])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        else:
            rows = self.query(sql, [row_id])
        if not rows:
            raise NotFound(f"{table} #{row_id} does not exist")
        return rows[0]

    def rows_by_id(self, table: str, ids: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        """The rows of ``ids`` that exist, by primary key, read as ``get`` reads them: one query per 500 ids.

        Keyed by the stored key: an id given in another type (``"12"`` for 12) is missing here,
        ``get`` finds it.
        """
        pk = self.primary_key(table)
        found: dict[Any, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            sql = f"SELECT * FROM [{table}] WHERE [{pk}] IN ({', '.join('?' * len(part))})"
            if self.pool.is_writing:
                cursor = self.conn.execute(sql, part)
                names = [d[0] for d in cursor.description]
                rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            else:
                rows = self.query(sql, part)
            for row in rows:
                found[row[pk]] = row
        return found

    def append_only(self, table: str) -> frozenset[str]:
        """The writes (``"update"``, ``"delete"``) ``table``'s append-only triggers refuse (``schema.append_only``).

        Read from the schema, so a plugin's append-only table is known like a core one;
        kept until the schema changes (``PRAGMA schema_version``, any process).
        """
        version = self.conn.execute("PRAGMA schema_version").fetchone()[0]
        if self._append_only is None or self._append_only[0] != version:
            refused: dict[str, set[str]] = {}
            for owner, name in self.conn.execute(
                "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%is append-only%'"
            ):
                for action in ("update", "delete"):
                    if name == f"{owner}_no_{action}":
                        refused.setdefault(owner, set()).add(action)
            self._append_only = (version, refused)
        return frozenset(self._append_only[1].get(table, ()))

    def columns(self, table: str) -> dict[str, str]:
        """Column name → declared type (cached; cleared by migrations)."""
        if table not in self._columns:
            info = self.conn.execute(f"PRAGMA table_info([{table}])").fetchall()
            if not info:
                raise NotFound(f"no table named '{table}'")
            self._columns[table] = {row[1]: row[2] for row in info}
        return self._columns[table]

    def _defaulted(self, table: str) -> set[str]:
        """Columns the schema fills with a default when an insert leaves them out (cached)."""
        if table not in self._defaults:
            info = self.conn.execute(f"PRAGMA table_info([{table}])").fetchall()
            self._defaults[table] = {row[1] for row in info if row[4] is not None}
        return self._defaults[table]

    def primary_key(self, table: str) -> str:
        # cached like columns(): asked once per row by get/update/delete
        key = f"pk:{table}"
        if key not in self._columns:
            self._columns[key] = {"pk": self.db[table].pks[0]}
        return self._columns[key]["pk"]
