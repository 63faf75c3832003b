"""The SQLite store: connections, migrations, and every write.

One SQLite file in WAL mode shared by served sessions (threads), several
processes and notebooks. Each thread gets its own connection; writes in this
process are serialised by a lock and take SQLite's write lock up front
(``BEGIN IMMEDIATE``) so concurrent writers queue on the busy timeout instead
of failing. Every write runs, in one transaction: validation hooks → the write
with ``version`` checked and bumped → ``audit_log`` → ``crm_record_changed``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from crm_workspace.data import permissions, schema
from crm_workspace.errors import ConflictError, CrmError, DatabaseLocked, NotFound, ValidationError
from crm_workspace.plugins import call_strict, strict_caller
from crm_workspace.types import Change

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace

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


def utcnow() -> str:
    """Now as ISO-8601 UTC text, the one time format the store uses."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_default(value: Any) -> str:
    return str(value)


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
            except sqlite3.DatabaseError as error:
                raise CrmError(f"cannot open workspace database {self.path}: {error}") from error
            db = sqlite_utils.Database(conn, execute_plugins=False)
            self._local.db = db
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


class Store:
    """The only way data is written. Reads are plain SQL through ``query``/``db``.

    A Store belongs to a Workspace (for its hooks and acting user); Workspaces
    made with ``as_user`` share one Pool.
    """

    def __init__(self, pool: Pool, workspace: Workspace):
        self.pool = pool
        self.workspace = workspace
        self._columns: dict[str, dict[str, str]] = {}
        self._defaults: dict[str, set[str]] = {}

    # ----------------------------------------------------------------- reads
    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's sqlite-utils Database: for reads and schema work."""
        return self.pool.connect()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def query(self, sql: str, params: Sequence | dict | None = None) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts."""
        try:
            cursor = self.conn.execute(sql, params or ())
        except sqlite3.OperationalError as error:
            raise _translate(error) from error
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence | dict | None = None) -> Any:
        row = self.conn.execute(sql, params or ()).fetchone()
        return row[0] if row else None

    def get(self, table: str, row_id: Any) -> dict[str, Any]:
        """One row by primary key, or NotFound."""
        pk = self.primary_key(table)
        rows = self.query(f"SELECT * FROM [{table}] WHERE [{pk}] = ?", [row_id])
        if not rows:
            raise NotFound(f"{table} #{row_id} does not exist")
        return rows[0]

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

    def data_version(self) -> tuple[int, int] | object:
        """A token that changes whenever any connection, in any process, commits.

        Inside a write transaction nobody else can commit, so the token is that
        transaction's own (no query per call: validation asks for every row).
        """
        token = getattr(self.pool._local, "transaction", None)
        if token is not None:
            return token
        return (self.scalar("PRAGMA data_version"), self.pool.local_writes)

    # ------------------------------------------------------------ migrations
    def migrate(self, migration_sets: Iterable[sqlite_utils.Migrations]) -> None:
        """Apply the core set, then each plugin's named set; each migration once."""
        db = self.db
        if db.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.conn.execute("PRAGMA journal_mode = WAL")
        with self.pool.write_lock:
            schema.migrations.apply(db)
            for migrations in migration_sets:
                migrations.apply(db)
        self._columns.clear()
        self._defaults.clear()

    # ---------------------------------------------------------- transactions
    @contextlib.contextmanager
    def transaction(self, *, savepoints: bool = True, cache_kib: int | None = None) -> Iterator[sqlite_utils.Database]:
        """One atomic unit of writes; nested calls become savepoints.

        Takes SQLite's write lock up front, so a concurrent writer waits on the
        busy timeout rather than failing half-way.

        ``savepoints=False`` is for bulk loads that are all or nothing (an import,
        the demo): writes nested inside do not open savepoints, because SQLite
        copies every page a savepoint modifies into its sub-journal, which made
        large nested writes several times slower. A write error inside must be
        left to abort the whole transaction, not caught and carried on from.

        ``cache_kib`` lowers the page-cache ceiling of this write transaction below
        ``WRITE_CACHE_KIB`` (for a caller already holding much in memory); it
        applies to the outermost transaction only.
        """
        db = self.db
        local = self.pool._local
        if getattr(local, "snapshot", None) is not None:
            raise CrmError("cannot write inside store.snapshot(): it is for reads only")
        if db.conn.in_transaction:
            if getattr(local, "flat", False):
                yield db
                return
            with db.atomic():
                yield db
            return
        local.flat = not savepoints
        try:
            yield from self._outer_transaction(db, min(cache_kib or WRITE_CACHE_KIB, WRITE_CACHE_KIB))
        finally:
            local.flat = False

    def _outer_transaction(self, db: sqlite_utils.Database, cache_kib: int) -> Iterator[sqlite_utils.Database]:
        with self.pool.write_lock:
            try:
                db.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise _translate(error) from error
            db.conn.execute(f"PRAGMA cache_size = -{cache_kib}")
            self.pool._local.transaction = object()
            try:
                try:
                    yield db
                except BaseException:
                    if db.conn.in_transaction:
                        db.conn.execute("ROLLBACK")
                    raise
                try:
                    db.conn.execute("COMMIT")
                except sqlite3.Error as error:
                    if db.conn.in_transaction:
                        db.conn.execute("ROLLBACK")
                    raise _translate(error) from error
            finally:
                self.pool._local.transaction = None
                db.conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
            self.pool.local_writes += 1
        self.workspace.changed()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see the database as of one moment; for planning over many rows.

        Settings are read once for the whole snapshot instead of checked per row.
        Writing inside is refused (a read transaction cannot safely become a write).
        """
        conn = self.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts at the first read
        self.pool._local.transaction = self.pool._local.snapshot = object()
        try:
            yield
        finally:
            self.pool._local.transaction = self.pool._local.snapshot = None
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def context(self, **info: Any) -> Iterator[None]:
        """Tag every write inside with ``info`` (in Change.context and the audit row).

        The importer uses ``store.context(import_batch=id)`` so undo can find its
        writes.
        """
        stack = self._context_stack()
        stack.append(info)
        try:
            yield
        finally:
            stack.pop()

    def _context_stack(self) -> list[dict]:
        local = self.pool._local
        if not hasattr(local, "context"):
            local.context = []
        return local.context

    def _current_context(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for info in self._context_stack():
            merged.update(info)
        return merged

    # ---------------------------------------------------------------- writes
    def insert(self, table: str, record: dict[str, Any]) -> dict[str, Any]:
        """Insert one record; returns the stored row."""
        with self.transaction():
            (row_id,) = self.insert_many(table, [record])
            return self.get(table, row_id)

    def insert_many(
        self,
        table: str,
        records: Iterable[dict[str, Any]],
        *,
        audit: bool = True,
        events: bool = True,
        validate: bool = True,
        batch_size: int = 20_000,
    ) -> list[Any]:
        """Insert many records in one transaction (streamed in chunks); returns their ids.

        ``audit``, ``events`` and ``validate`` may be turned off only for generated
        data that is not a user's change (the demo and benchmark generators).
        """
        self._refuse_append_only_write(table, "insert")
        records = self._authorize_inserts(table, records)
        ids: list[Any] = []
        with self.transaction():
            for chunk in _chunks(records, batch_size):
                ids.extend(self._insert_chunk(table, chunk, audit=audit, events=events, validate=validate))
        return ids

    def _insert_chunk(self, table: str, records: list[dict], *, audit: bool, events: bool, validate: bool) -> list[Any]:
        columns = self.columns(table)
        pk = self.primary_key(table)
        now, user = utcnow(), self.workspace.user
        versioned = "version" in columns
        check = self._validator(table) if validate else None
        rows = []
        for original in records:
            record = dict(original)
            self._check_columns(table, record, columns)
            if check:
                check(record, None)
            if versioned:
                record.setdefault("created_at", now)
                record["updated_at"] = now
                record["updated_by"] = user
                record["version"] = 1
            rows.append(record)
        if pk == "id" and columns.get("id", "").upper() == "INTEGER":
            next_id = (self.scalar(f"SELECT max(id) FROM [{table}]") or 0) + 1
            for row in rows:
                if row.get("id") is None:
                    row["id"] = next_id
                    next_id += 1
                else:
                    next_id = max(next_id, int(row["id"]) + 1)
        names = sorted({name for row in rows for name in row})
        try:
            self._insert_rows(table, names, rows)
        except sqlite3.Error as error:
            raise _translate(error, table) from error
        ids = [row.get(pk) for row in rows]
        context = self._current_context()
        if audit:
            self._audit_inserts(table, set(names), ids, user, now, context)
        if events and self.workspace.pm.hook.crm_record_changed.get_hookimpls():
            blank = dict.fromkeys(columns)
            changes = [Change(table, row.get(pk), "insert", None, {**blank, **row}, user, now, context) for row in rows]
            self._announce(changes)
        return ids

    def _insert_rows(self, table: str, names: list[str], rows: list[dict]) -> None:
        """Insert with many rows per statement (``VALUES (...), (...), ...``).

        Each statement on a table with constraints and triggers opens a
        statement savepoint, and FTS5 writes its pending index to disk at every
        savepoint: one row per statement (``executemany``) made the contacts
        search index cost ~80 µs a row; a few hundred rows per statement, ~10 µs.
        """
        if not names:
            for _row in rows:
                self.conn.execute(f"INSERT INTO [{table}] DEFAULT VALUES")
            return
        per_statement = self._rows_per_statement(len(names))
        one = "(" + ", ".join("?" * len(names)) + ")"
        head = "INSERT INTO [{}] ({}) VALUES ".format(table, ", ".join(f"[{n}]" for n in names))
        full = head + ", ".join([one] * per_statement)
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            sql = full if len(part) == per_statement else head + ", ".join([one] * len(part))
            self.conn.execute(sql, [row.get(n) for row in part for n in names])

    def _rows_per_statement(self, values_per_row: int) -> int:
        return max(1, min(500, self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // values_per_row))

    def _audit_inserts(self, table: str, names: set[str], ids: list[Any], user: str, now: str, context: dict) -> None:
        """The audit rows of inserted records, built by SQLite from the stored rows.

        ``after`` holds the fields any record of the batch gave plus those the
        schema filled with a default (the others are null), secrets redacted,
        and the write's context. One statement: JSON-encoding each row in
        Python was a third of a bulk insert's time.
        """
        pk = self.primary_key(table)
        defaulted = self._defaulted(table)
        fields = [c for c in self.columns(table) if c in names or c in defaulted]

        def pairs(group: list[str]) -> str:
            return ", ".join(
                f"'{c}', " + (f"CASE WHEN [{c}] IS NOT NULL THEN '<redacted>' END" if c in _REDACTED else f"[{c}]")
                for c in group
            )

        after = f"json_object({pairs(fields[:60])})"
        for start in range(60, len(fields), 60):  # SQLite functions take at most 127 arguments
            after = f"json_patch({after}, json_object({pairs(fields[start : start + 60])}))"
        body = (
            f"json_object('after', {after}, 'context', json(:context))" if context else f"json_object('after', {after})"
        )
        self.conn.execute(
            "INSERT INTO audit_log (at, user, table_name, row_id, action, changes)"
            f" SELECT :at, :user, :table, CAST([{pk}] AS TEXT), 'insert', {body}"
            f" FROM [{table}] WHERE [{pk}] IN (SELECT value FROM json_each(:ids))",
            {
                "at": now,
                "user": user,
                "table": table,
                "ids": json.dumps(ids, default=_json_default),
                "context": _AUDIT_ENCODER.encode(context),
            },
        )

    def update(self, table: str, row_id: Any, changes: dict[str, Any], *, version: int | None = None) -> dict[str, Any]:
        """Update one record; returns the stored row.

        Pass the ``version`` the user saw: if the record changed since, a
        ``ConflictError`` carries both versions and nothing is written. Fields that
        do not actually change are not written, audited or announced.
        """
        return self.update_many(table, [(row_id, changes, version)])[0]

    def update_many(
        self, table: str, updates: Iterable[tuple[Any, dict[str, Any], int | None]]
    ) -> list[dict[str, Any]]:
        """Apply ``(id, changes, expected_version)`` updates in one transaction."""
        self._refuse_append_only_write(table, "update")
        perms = permissions.permissions(self.workspace)
        columns = self.columns(table)
        pk = self.primary_key(table)
        versioned = "version" in columns
        now, user, context = utcnow(), self.workspace.user, self._current_context()
        results, recorded = [], []
        check = self._validator(table)
        pending: dict[tuple[str, ...], list[tuple[Any, dict]]] = {}  # written a statement per few hundred rows
        pending_ids: set[str] = set()

        def flush() -> None:
            try:
                for names, group in pending.items():
                    self._update_rows(table, pk, names, group)
            except sqlite3.Error as error:
                raise _translate(error, table) from error
            pending.clear()
            pending_ids.clear()

        with self.transaction():
            for row_id, wanted, expected in updates:
                if str(row_id) in pending_ids:
                    flush()  # the same record twice in one batch: the second sees the first
                before = self.get(table, row_id)
                perms.check(table, "update", before, wanted)
                if versioned and expected is not None and int(expected) != before["version"]:
                    raise ConflictError(table, row_id, int(expected), before, dict(wanted))
                self._check_columns(table, wanted, columns)
                diff = {k: v for k, v in wanted.items() if k != pk and before.get(k) != v}
                diff.pop("version", None)
                if diff:
                    check(diff, before)
                    diff = {k: v for k, v in diff.items() if before.get(k) != v}
                if not diff:
                    results.append(before)
                    continue
                stamped = dict(diff)
                if versioned:
                    stamped.update(updated_at=now, updated_by=user, version=before["version"] + 1)
                pending.setdefault(tuple(stamped), []).append((row_id, stamped))
                pending_ids.add(str(row_id))
                after = {**before, **stamped}
                results.append(after)
                recorded.append(Change(table, row_id, "update", before, after, user, now, context))
            flush()
            self._record(recorded)
        return results

    def _update_rows(self, table: str, pk: str, names: tuple[str, ...], group: list[tuple[Any, dict]]) -> None:
        """``UPDATE ... FROM (VALUES ...)``: many rows a statement, for the reason in ``_insert_rows``."""
        per_statement = self._rows_per_statement(len(names) + 1)
        assignments = ", ".join(f"[{name}] = v.column{i + 2}" for i, name in enumerate(names))
        one = "(" + ", ".join("?" * (len(names) + 1)) + ")"
        for start in range(0, len(group), per_statement):
            part = group[start : start + per_statement]
            self.conn.execute(
                f"UPDATE [{table}] SET {assignments} FROM (VALUES {', '.join([one] * len(part))}) AS v"
                f" WHERE [{table}].[{pk}] = v.column1",
                [value for row_id, stamped in part for value in (row_id, *(stamped[n] for n in names))],
            )

    def delete(self, table: str, row_id: Any, *, version: int | None = None) -> dict[str, Any]:
        """Delete one record (checked against ``version`` when given); returns what it was."""
        return self.delete_many(table, [(row_id, version)])[0]

    def delete_many(self, table: str, deletions: Iterable[tuple[Any, int | None]]) -> list[dict[str, Any]]:
        self._refuse_append_only_write(table, "delete")
        perms = permissions.permissions(self.workspace)
        pk = self.primary_key(table)
        now, user, context = utcnow(), self.workspace.user, self._current_context()
        removed, recorded = [], []
        with self.transaction():
            for row_id, expected in deletions:
                before = self.get(table, row_id)
                perms.check(table, "delete", before)
                if expected is not None and "version" in before and int(expected) != before["version"]:
                    raise ConflictError(table, row_id, int(expected), before, {})
                try:
                    self.conn.execute(f"DELETE FROM [{table}] WHERE [{pk}] = ?", [row_id])
                except sqlite3.IntegrityError as error:
                    raise CrmError(f"{table} #{row_id} cannot be deleted: other records still refer to it") from error
                removed.append(before)
                recorded.append(Change(table, row_id, "delete", before, None, user, now, context))
            self._record(recorded)
        return removed

    # ------------------------------------------------------------- internals
    def _refuse_append_only_write(self, table: str, action: str) -> None:
        if table == "audit_log" or (table in schema.APPEND_ONLY and action != "insert"):
            raise CrmError(f"{table} is append-only: {action} refused")

    def _authorize_inserts(self, table: str, records: Iterable[dict]) -> Iterable[dict]:
        """Refuse the insert if the acting user's role forbids it (see crm_workspace/data/permissions.py)."""
        perms = permissions.permissions(self.workspace)
        if not perms.enforced:
            return records
        if table != "settings":
            perms.check(table, "insert")
            return records
        records = list(records)
        for record in records:
            perms.check(table, "insert", None, record)
        return records

    def _check_columns(self, table: str, record: dict, columns: dict[str, str]) -> None:
        unknown = [name for name in record if name not in columns]
        if unknown:
            raise ValidationError(table, {name: f"no such field on {table}" for name in unknown})

    def validator(self, table: str) -> Callable[[dict, dict | None], dict[str, str]]:
        """Every plugin's ``crm_validate_record`` for records of ``table``, looked up once.

        The returned ``check(record, before)`` normalizes ``record`` in place and
        returns the problems by field (empty when valid): for checking many records,
        as the importer does before it writes anything. A plugin that raises gives
        a ``PluginError`` naming it.
        """
        call = strict_caller(self.workspace.pm, "crm_validate_record")
        workspace = self.workspace

        def check(record: dict, before: dict | None) -> dict[str, str]:
            errors: dict[str, str] = {}
            for result in call(workspace=workspace, table=table, record=record, before=before):
                for field, message in result.items():
                    errors.setdefault(field, message)
            return errors

        return check

    def _validator(self, table: str) -> Callable[[dict, dict | None], None]:
        """``validator`` that raises ValidationError with all problems: the write path's check."""
        check = self.validator(table)

        def check_or_raise(record: dict, before: dict | None) -> None:
            if errors := check(record, before):
                raise ValidationError(table, errors)

        return check_or_raise

    def _record(self, changes: list[Change]) -> None:
        """Audit rows for updates and deletes (inserts: ``_audit_inserts``), then announce them."""
        if not changes:
            return
        self.conn.executemany(
            "INSERT INTO audit_log (at, user, table_name, row_id, action, changes) VALUES (?, ?, ?, ?, ?, ?)",
            ((c.at, c.user, c.table, str(c.id), c.action, _audit_json(c)) for c in changes),
        )
        self._announce(changes)

    def _announce(self, changes: list[Change]) -> None:
        call_strict(self.workspace.pm, "crm_record_changed", workspace=self.workspace, changes=changes)


_UNSTAMPED = {"updated_at", "updated_by", "version", "created_at"}
_REDACTED = frozenset({"password_hash"})


#: one encoder for every audit row (json.dumps with options builds a new encoder per call)
_AUDIT_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _audit_json(change: Change) -> str:
    if change.action == "insert":
        body: dict[str, Any] = {"after": {k: v for k, v in change.after.items() if v is not None}}
    elif change.action == "delete":
        body = {"before": change.before}
    else:
        names = [k for k in change.after if k not in _UNSTAMPED and change.changed(k)]
        body = {
            "before": {k: change.before.get(k) for k in names},
            "after": {k: change.after.get(k) for k in names},
        }
    for part in ("before", "after"):  # secrets never reach the audit trail, even hashed
        if body.get(part) and _REDACTED & body[part].keys():
            body[part] = {k: ("<redacted>" if k in _REDACTED and v else v) for k, v in body[part].items()}
    if change.context:
        body["context"] = change.context
    return _AUDIT_ENCODER.encode(body)


def _chunks(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '(?P<index>[^']+)'|(?P<cols>.+))")


def _translate(error: sqlite3.Error, table: str = "") -> CrmError:
    """Turn an SQLite error into one a person can read."""
    message = str(error)
    if "database is locked" in message or "database is busy" in message:
        return DatabaseLocked(
            f"the workspace database is busy (locked by another writer for more than {BUSY_TIMEOUT_S:.0f} s); try again"
        )
    match = _UNIQUE.search(message)
    if match:
        # SQLite names the columns ("contacts.email"), or the index when it is on an expression
        constraint = match.group("cols") or f"index '{match.group('index')}'"
        columns = (match.group("cols") or match.group("index") or "").split(", ")
        owner = columns[0].split(".")[0] if match.group("cols") else table
        fields = [c.split(".")[-1] for c in columns]
        declared = schema.UNIQUE_MESSAGES.get(constraint)
        if declared:
            return ValidationError(owner or "record", {fields[0]: declared})
        return ValidationError(table or "record", {f: "must be unique; this value is already used" for f in fields})
    if "FOREIGN KEY constraint failed" in message:
        return ValidationError(table or "record", {"reference": "points to a record that does not exist"})
    if "NOT NULL constraint failed" in message:
        field = message.rsplit(".", 1)[-1]
        return ValidationError(table or "record", {field: "is required"})
    if "append-only" in message:
        return CrmError(message)
    if "no such table" in message or "no such column" in message or "syntax error" in message:
        return CrmError(f"query failed: {message}")
    if "file is not a database" in message or "malformed" in message:
        return CrmError(f"not a crm-workspace database: {message}")
    return CrmError(f"database error: {message}")
