"""The SQLite store: migrations, transactions, and every write.

Connections (one per thread, over one WAL file) come from a Pool
(crm_workspace/data/pool.py). Writes in this process are serialised by the
Pool's lock and take SQLite's write lock up front (``BEGIN IMMEDIATE``) so
concurrent writers queue on the busy timeout instead of failing. Every write
runs, in one transaction: validation hooks → the write with ``version`` checked
and bumped → ``audit_log`` (crm_workspace/data/audit.py) → ``crm_record_changed``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from crm_workspace.data import audit as audit_trail
from crm_workspace.data import permissions, schema, statements
from crm_workspace.data.actor import Actor
from crm_workspace.data.pool import READ_CACHE_KIB, WRITE_CACHE_KIB, Pool
from crm_workspace.data.reads import StoreReads
from crm_workspace.data.settings import Settings
from crm_workspace.data.sqlerrors import translate as _translate
from crm_workspace.data.validation import Validator
from crm_workspace.errors import (
    ConflictError,
    CrmError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from crm_workspace.types import Change


def utcnow() -> str:
    """Now as ISO-8601 UTC text, the one time format the store uses."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store(StoreReads):
    """The only way data is written. Reads (``query``, ``get``: crm_workspace/data/reads.py) cannot write.

    A Store writes as an ``Actor`` (crm_workspace/data/actor.py): the acting
    user, their permissions, the write-path hooks and what to do after a commit.
    Several Stores (a Workspace's ``as_user`` copies) share one Pool.
    """

    def __init__(self, pool: Pool, actor: Actor | str):
        self.pool = pool
        self.actor = Actor(actor) if isinstance(actor, str) else actor
        self.settings = Settings(self)
        self._columns: dict[str, dict[str, str]] = {}
        self._defaults: dict[str, set[str]] = {}

    # ----------------------------------------------------------------- reads
    def _translate_error(self, error: sqlite3.Error) -> CrmError:
        return _translate(error)

    def data_version(self) -> tuple[int, int, int] | object:
        """A token that changes whenever any connection, in any process, commits (see ``Pool.data_version``)."""
        token = getattr(self.pool._local, "transaction", None)  # a transaction's own: no connection lookup
        return token if token is not None else self.pool.data_version(self.conn)

    # ------------------------------------------------------------ migrations
    def migrate(self, migration_sets: Iterable[sqlite_utils.Migrations]) -> None:
        """Apply the core set, then each plugin's named set; each migration once."""
        db = self.db
        if db.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.conn.execute("PRAGMA journal_mode = WAL")
        with self.pool.write_lock, self.pool.writing():
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
        left to abort the whole transaction, not caught and carried on from; its
        statements' own journals are kept in memory (``Pool.journals_in_memory``).

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
        with self.pool.write_lock, self.pool.writing(), self.pool.journals_in_memory(db.conn, self.pool._local.flat):
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
        self.actor.on_commit()

    @contextlib.contextmanager
    def erasing(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction whose overwritten and deleted bytes are zeroed in the file (``secure_delete``)."""
        conn = self.db.conn
        with self.pool.write_lock, self.pool.writing():
            previous = conn.execute("PRAGMA secure_delete").fetchone()[0]
            conn.execute("PRAGMA secure_delete = ON")
            try:
                with self.transaction() as db:
                    yield db
            finally:
                conn.execute(f"PRAGMA secure_delete = {int(previous)}")

    def purge_free_pages(self) -> bool:
        """Copy the WAL into the file and truncate it (old page images leave); True unless a reader kept it."""
        with self.pool.write_lock, self.pool.writing():
            return self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0

    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        """Reads inside see the database as of one moment; for planning over many rows.

        Settings are read once for the whole snapshot instead of checked per row.
        Writing inside is refused (a read transaction cannot safely become a write).
        """
        return self.pool.snapshot(self.conn)

    def context(self, **info: Any) -> contextlib.AbstractContextManager[None]:
        """Tag every write inside with ``info`` (in Change.context and the audit row).

        The importer uses ``store.context(import_batch=id)`` so undo can find its
        writes.
        """
        return self.pool.context(**info)

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
        validated: Validator | None = None,
        batch_size: int = 20_000,
    ) -> list[Any]:
        """Insert many records in one transaction (streamed in chunks); returns their ids.

        ``audit``, ``events`` and ``validate`` may be turned off only for rows that are
        not a user's change: by an admin (the demo and benchmark generators), or by a
        hook of a Store write (rows derived from an audited change, such as a
        lifecycle event). Anyone else may skip validation only by handing over, as
        ``validated``, the ``store.validator(table)`` that checked the records (the
        importer validates while planning, to report every row's problems).
        """
        self._refuse_append_only_write(table, "insert")
        records = self.actor.permissions(self).authorize_inserts(table, records)
        if not (audit and events and validate):
            self._authorize_switches(table, audit=audit, events=events, validated=validate or validated)
        ids: list[Any] = []
        with self.transaction():
            for chunk in statements.chunks(records, batch_size):
                ids.extend(self._insert_chunk(table, chunk, audit=audit, events=events, validate=validate))
            self._forget_settings(table)
        return ids

    def _authorize_switches(self, table: str, *, audit: bool, events: bool, validated: Any) -> None:
        """PermissionDenied unless this caller may write without the audit trail, events or validation."""
        if getattr(self.pool._local, "announcing", 0):  # a hook deriving rows from an audited write
            return
        if audit and events and (validated is True or self._proves(validated, table)):
            return
        if permissions.is_admin(self):
            return
        off = [name for name, on in (("audit", audit), ("events", events), ("validate", validated)) if not on]
        raise PermissionDenied(
            f"only an admin may insert into {table} with {'/'.join(off) or 'validate'} turned off "
            f"({self.actor.user} is not one; pass validated=store.validator(table) after checking the records)"
        )

    def _proves(self, token: Any, table: str) -> bool:
        return isinstance(token, Validator) and token.table == table and token.user == self.actor.user

    def _insert_chunk(self, table: str, records: list[dict], *, audit: bool, events: bool, validate: bool) -> list[Any]:
        columns = self.columns(table)
        pk = self.primary_key(table)
        now, user = utcnow(), self.actor.user
        versioned = "version" in columns
        check = self._validator(table) if validate else None
        rows = []
        stamps = {"updated_at": now, "updated_by": user, "version": 1}
        checked: set[tuple[str, ...]] = set()  # the fields of records already checked (bulk writes share them)
        for original in records:
            record = dict(original)
            given = tuple(record)
            if given not in checked:
                self._check_columns(table, record, columns)
                checked.add(given)
            if check:
                check(record, None)
            if versioned:
                record.setdefault("created_at", now)
                record.update(stamps)
            rows.append(record)
        if pk == "id" and columns.get("id", "").upper() == "INTEGER":
            next_id = (self.scalar(f"SELECT max(id) FROM [{table}]") or 0) + 1
            for row in rows:
                if row.get("id") is None:
                    row["id"] = next_id
                    next_id += 1
                else:
                    next_id = max(next_id, int(row["id"]) + 1)
        shapes = statements.by_shape(rows)
        names = {name for shape in shapes for name in shape}
        try:
            for shape, group in shapes.items():
                statements.insert_rows(self.conn, table, list(shape), group)
        except sqlite3.Error as error:
            raise _translate(error, table) from error
        ids = [row.get(pk) for row in rows]
        context = self.pool.current_context()
        if audit:
            defaulted = self._defaulted(table)
            fields = [c for c in columns if c in names or c in defaulted]
            audit_trail.record_inserts(self.conn, table, pk, fields, ids, user=user, now=now, context=context)
        if events and self.actor.hooks.listens_to_changes():
            blank = dict.fromkeys(columns)
            changes = [Change(table, row.get(pk), "insert", None, {**blank, **row}, user, now, context) for row in rows]
            self._announce(changes)
        return ids

    def update(self, table: str, row_id: Any, changes: dict[str, Any], *, version: int | None = None) -> dict[str, Any]:
        """Update one record; returns the stored row.

        Pass the ``version`` the user saw: if the record changed since, a
        ``ConflictError`` carries both versions and nothing is written. Fields that
        do not actually change are not written, audited or announced.
        """
        return self.update_many(table, [(row_id, changes, version)])[0]

    def update_many(
        self,
        table: str,
        updates: Iterable[tuple[Any, dict[str, Any], int | None]],
        *,
        validated: Validator | None = None,
    ) -> list[dict[str, Any]]:
        """Apply ``(id, changes, expected_version)`` updates in one transaction.

        ``validated``: the ``store.validator(table)`` that already checked these changes
        (the importer, while planning) vouches for them, so they are not checked twice;
        any other value leaves the write path's check on.
        """
        self._refuse_append_only_write(table, "update")
        perms = self.actor.permissions(self)
        columns = self.columns(table)
        pk = self.primary_key(table)
        versioned = "version" in columns
        now, user, context = utcnow(), self.actor.user, self.pool.current_context()
        results, recorded = [], []
        check = None if self._proves(validated, table) else self._validator(table)
        pending: dict[tuple[str, ...], list[tuple[Any, dict]]] = {}  # written a statement per few hundred rows
        pending_ids: set[str] = set()

        def flush() -> None:
            try:
                for names, group in pending.items():
                    statements.update_rows(self.conn, table, pk, names, group)
            except sqlite3.Error as error:
                raise _translate(error, table) from error
            pending.clear()
            pending_ids.clear()

        written: set[str] = set()
        with self.transaction():
            for part in statements.chunks(updates, 500):
                current = self.rows_by_id(table, [row_id for row_id, _wanted, _expected in part])
                for index, (row_id, wanted, expected) in enumerate(part):
                    key = str(row_id)
                    if key in pending_ids:
                        flush()  # the same record twice in one batch: the second sees the first
                        current = self.rows_by_id(table, [later for later, _w, _e in part[index:]])  # as do the rest
                    before = current.get(row_id) if key not in written else None
                    if before is None:
                        before = self.get(table, row_id)  # NotFound, an id of another type, or written above
                    written.add(key)
                    perms.check(table, "update", before, wanted)
                    if versioned and expected is not None and int(expected) != before["version"]:
                        raise ConflictError(table, row_id, int(expected), before, dict(wanted))
                    self._check_columns(table, wanted, columns)
                    diff = {k: v for k, v in wanted.items() if k != pk and before.get(k) != v}
                    diff.pop("version", None)
                    if diff and check:
                        check(diff, before)
                        diff = {k: v for k, v in diff.items() if before.get(k) != v}
                    if not diff:
                        results.append(before)
                        continue
                    stamped = dict(diff)
                    if versioned:
                        stamped.update(updated_at=now, updated_by=user, version=before["version"] + 1)
                    pending.setdefault(tuple(stamped), []).append((row_id, stamped))
                    pending_ids.add(key)
                    after = {**before, **stamped}
                    results.append(after)
                    recorded.append(Change(table, row_id, "update", before, after, user, now, context))
            flush()
            self._forget_settings(table)
            self._record(recorded)
        return results

    def delete(self, table: str, row_id: Any, *, version: int | None = None) -> dict[str, Any]:
        """Delete one record (checked against ``version`` when given); returns what it was."""
        return self.delete_many(table, [(row_id, version)])[0]

    def delete_many(self, table: str, deletions: Iterable[tuple[Any, int | None]]) -> list[dict[str, Any]]:
        self._refuse_append_only_write(table, "delete")
        perms = self.actor.permissions(self)
        pk = self.primary_key(table)
        now, user, context = utcnow(), self.actor.user, self.pool.current_context()
        removed, recorded = [], []
        seen: set[str] = set()
        with self.transaction():
            for part in statements.chunks(deletions, 500):
                current = self.rows_by_id(table, [row_id for row_id, _expected in part])
                for row_id, expected in part:
                    before = current.get(row_id) if str(row_id) not in seen else None
                    before = before or self.get(table, row_id)  # NotFound (deleted above), or an id of another type
                    seen.add(str(row_id))
                    perms.check(table, "delete", before)
                    if expected is not None and "version" in before and int(expected) != before["version"]:
                        raise ConflictError(table, row_id, int(expected), before, {})
                    try:
                        if not self.conn.execute(f"DELETE FROM [{table}] WHERE [{pk}] = ?", [row_id]).rowcount:
                            raise NotFound(f"{table} #{row_id} does not exist")  # removed since read (a trigger)
                    except sqlite3.IntegrityError as error:
                        if "FOREIGN KEY" not in str(error):  # a trigger's refusal says why
                            raise _translate(error, table) from error
                        raise CrmError(
                            f"{table} #{row_id} cannot be deleted: other records still refer to it"
                        ) from error
                    removed.append(before)
                    recorded.append(Change(table, row_id, "delete", before, None, user, now, context))
            self._forget_settings(table)
            self._record(recorded)
        return removed

    # ------------------------------------------------------------- internals
    def _refuse_append_only_write(self, table: str, action: str) -> None:
        """Refused before any work: tables the core alone writes (the audit log...), changes to append-only ones."""
        if table in schema.CORE_WRITTEN:
            raise CrmError(f"{table} is {schema.CORE_WRITTEN[table]}: {action} refused")
        if action != "insert" and (table in schema.APPEND_ONLY or action in self.append_only(table)):
            raise CrmError(f"{table} is append-only: {action} refused")

    def _forget_settings(self, table: str) -> None:
        """A write to the settings table is seen by the next read, even inside this transaction."""
        if table == "settings":
            self.settings.forget()

    def _check_columns(self, table: str, record: dict, columns: dict[str, str]) -> None:
        unknown = [name for name in record if name not in columns]
        if unknown:
            raise ValidationError(table, {name: f"no such field on {table}" for name in unknown})

    def validator(self, table: str) -> Validator:
        """Every plugin's ``crm_validate_record`` for records of ``table``, looked up once.

        The returned ``check(record, before)`` normalizes ``record`` in place and
        returns the problems by field (empty when valid): for checking many records,
        as the importer does before it writes anything. A plugin that raises gives
        a ``PluginError`` naming it. Handing ``check`` back as ``insert_many(...,
        validate=False, validated=check)`` skips the write path's second check.
        """
        return Validator(table, self.actor.user, self.actor.hooks.validator(table))

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
        audit_trail.record_changes(self.conn, changes)
        self._announce(changes)

    def _announce(self, changes: list[Change]) -> None:
        local = self.pool._local
        local.announcing = getattr(local, "announcing", 0) + 1
        try:
            self.actor.hooks.record_changed(changes)
        finally:
            local.announcing -= 1
