"""What a workspace connection may do right now: SQLite's authorizer on every statement.

Reads must not write. Every connection of a Pool carries this authorizer, and
SQLite consults it for every statement it prepares (trigger bodies and views
included), whoever prepares it, so no read path can forget it. What it allows
depends on what the thread is doing (state kept by the Pool):

- **A policy read** (``Pool.reading``: ``store.query``/``scalar``/``get``, ``ws.df``,
  ``ws.query``, exports, the views): only ``SELECT`` over tables, allowed functions
  and read-only PRAGMAs. No writes, no schema changes, no transaction control, no
  ATTACH, no ``load_extension`` — even inside a Store write transaction, so an SQL
  string a user typed never writes. And the read policy: ``users.password_hash``
  reads as NULL for everyone (SQLite's IGNORE, so ``WHERE password_hash ...`` is no
  oracle either), ``audit_log`` is refused unless the reader may read it.
- **The Store writing** (the thread holds the Store's write transaction, or runs
  migrations): everything. The code running there is the Store itself, the plugins'
  hooks and services that write through ``store.transaction()`` (privacy erasure,
  the demo generator): trusted code, installed on the host.
- **Raw use** of ``store.conn`` outside a write: reads, transaction control,
  PRAGMAs; no data or schema change. Password hashes read as NULL. (A mistake
  guard for trusted code; see the statement cache below.)

Why one connection per thread and not a second, read-only one: reads issued inside
a write transaction (validation hooks read through ``store.query``) must see that
transaction's uncommitted rows, which only the same connection can.

The statement cache: SQLite authorizes a statement when it is prepared, and
Python's sqlite3 reuses prepared statements by their text. So a policy read
prefixes its SQL with a comment naming its mode (``ReadScope.tag``): it never
reuses a statement prepared while the Store wrote, nor one prepared under a
wider policy. Raw use is a guard against mistakes, not a boundary: the exact
text of a write the Store prepared inside its transaction could be replayed
through ``store.conn`` afterwards (expiring every statement after each write
would make small writes ~2x slower). Raw ``store.conn`` is for trusted code.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

#: PRAGMAs a policy read may run without a value (reading a setting, not changing it).
READ_PRAGMAS = frozenset(
    {
        "application_id",
        "collation_list",
        "compile_options",
        "data_version",
        "database_list",
        "encoding",
        "foreign_keys",
        "freelist_count",
        "function_list",
        "journal_mode",
        "module_list",
        "page_count",
        "page_size",
        "pragma_list",
        "schema_version",
        "table_list",
        "user_version",
    }
)
#: PRAGMAs a policy read may run with or without an argument (a table or index name, a limit).
TABLE_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
    }
)
#: SQL functions no connection may call (they reach outside the database).
REFUSED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
#: Tables SQLite's own machinery checks for UPDATE while a read prepares: FTS5's
#: xConnect does so on first use in a connection. Harmless: without
#: ``PRAGMA writable_schema`` (refused on every read) SQLite refuses to modify them.
SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema"})
#: PRAGMAs refused even to raw use outside a write (they can corrupt the file).
DANGEROUS_PRAGMAS = frozenset({"writable_schema", "trusted_schema"})
#: Columns that read as NULL on every policy read and raw use (plugins add theirs with
#: ``crm_workspace.data.schema.hide_column``; ``Store.secret`` reads one back).
HIDDEN_COLUMNS: set[tuple[str, str]] = {("users", "password_hash")}
#: Tables only readers allowed by their policy may read.
AUDIT_TABLES = frozenset({"audit_log"})

_READS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE, sqlite3.SQLITE_FUNCTION})
_ACTION_NAMES = {
    getattr(sqlite3, name): name.removeprefix("SQLITE_").replace("_", " ")
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE", "SQLITE_DROP", "SQLITE_ALTER"))
} | {
    sqlite3.SQLITE_INSERT: "INSERT",
    sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_TRANSACTION: "transaction control",
    sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
    sqlite3.SQLITE_PRAGMA: "PRAGMA",
    sqlite3.SQLITE_REINDEX: "REINDEX",
    sqlite3.SQLITE_ANALYZE: "ANALYZE",
}


@dataclass
class ReadScope:
    """One policy read: whether it may read the audit log, and what the authorizer refused."""

    audit: bool
    refused: str | None = None
    refused_audit: bool = False

    @property
    def tag(self) -> str:
        """The SQL prefix that keeps this mode's prepared statements apart in the cache."""
        return "/*crm:read*/ " if self.audit else "/*crm:read-no-audit*/ "


class Authorizer:
    """The callback given to ``conn.set_authorizer``; reads the thread's state from ``local``.

    ``local.read`` is the open ReadScope (or None), ``local.writing`` how deep the
    Store's writes are nested on this thread.
    """

    def __init__(self, local: threading.local):
        self._local = local

    def __call__(self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _source: str | None) -> int:
        local = self._local
        scope: ReadScope | None = getattr(local, "read", None)
        if scope is None and getattr(local, "writing", 0):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            if (arg1, arg2) in HIDDEN_COLUMNS:
                return sqlite3.SQLITE_IGNORE
            if scope is not None and not scope.audit and arg1 in AUDIT_TABLES:
                scope.refused_audit = True
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() in REFUSED_FUNCTIONS:
                return self._refuse(scope, f"the function {arg2}()")
            return sqlite3.SQLITE_OK
        if action in _READS or (action == sqlite3.SQLITE_UPDATE and arg1 in SCHEMA_TABLES):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if (
                (scope is None and name not in DANGEROUS_PRAGMAS)
                or (name in READ_PRAGMAS and arg2 is None)
                or name in TABLE_PRAGMAS
            ):
                return sqlite3.SQLITE_OK
            return self._refuse(scope, f"PRAGMA {name}{'' if arg2 is None else ' = ' + arg2}")
        if scope is None and action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            return sqlite3.SQLITE_OK
        what = _ACTION_NAMES.get(action, f"action {action}")
        return self._refuse(scope, f"{what}{' ' + arg1 if arg1 and action != sqlite3.SQLITE_TRANSACTION else ''}")

    @staticmethod
    def _refuse(scope: ReadScope | None, what: str) -> int:
        if scope is not None and scope.refused is None:
            scope.refused = what
        return sqlite3.SQLITE_DENY
