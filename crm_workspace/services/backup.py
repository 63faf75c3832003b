"""Backups with SQLite's online backup API: safe while the app is serving.

``backup(db, file)`` copies a consistent snapshot page by page (writers in other
processes keep working; the copy is of one committed state). ``restore(file,
db)`` refuses anything that is not a crm-workspace database and then, inside one
write transaction on the live file, keeps the current content aside as
``<db>.before-restore-<timestamp>`` and replaces it with the backup's, so
connections already open (a running server) see the restored data instead of a
replaced file, and no commit made meanwhile is lost.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from crm_workspace.errors import CrmError, NotFound

#: The core's own tables: a workspace has them whichever plugins are enabled.
_REQUIRED_TABLES = {"users", "contacts", "organizations", "activities", "audit_log", "settings"}


def _connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    uri = f"file:{Path(path).resolve()}{'?mode=ro' if readonly else ''}"
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def check_workspace(path: Path | str) -> None:
    """Raise a CrmError unless ``path`` is a healthy crm-workspace database."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise CrmError(f"{path} is not a crm-workspace database (not an SQLite file)")
    try:
        conn = _connect(path, readonly=True)
    except sqlite3.Error as error:
        raise CrmError(f"{path} cannot be opened: {error}") from error
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = _REQUIRED_TABLES - tables
        if missing or "_sqlite_migrations" not in tables:
            raise CrmError(f"{path} is an SQLite file but not a crm-workspace database (missing tables)")
        core = conn.execute("SELECT count(*) FROM _sqlite_migrations WHERE migration_set = 'crm_workspace.core'")
        if not core.fetchone()[0]:
            raise CrmError(f"{path} is an SQLite file but not a crm-workspace database (no core migrations)")
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise CrmError(f"{path} is damaged: {result}")
    except sqlite3.DatabaseError as error:
        raise CrmError(f"{path} is not a crm-workspace database: {error}") from error
    finally:
        conn.close()


def backup(db_path: Path | str, target: Path | str) -> Path:
    """Copy the workspace at ``db_path`` to ``target`` (a new file, written atomically)."""
    db_path, target = Path(db_path), Path(target)
    if not db_path.is_file():
        raise NotFound(f"no workspace at {db_path}")
    if target.resolve() == db_path.resolve():
        raise CrmError("the backup file must not be the workspace itself")
    if target.is_dir():
        raise CrmError(f"{target} is a directory; give a file name")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = _connect(db_path)
    dest = sqlite3.connect(partial)
    try:
        source.backup(dest, pages=1024)
        dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    except sqlite3.Error as error:
        raise CrmError(f"backup failed: {error}") from error
    finally:
        dest.close()
        source.close()
    check_workspace(partial)
    partial.replace(target)
    return target


def restore(source: Path | str, db_path: Path | str) -> Path | None:
    """Replace the workspace's content with ``source``; returns where the old content was kept.

    One write transaction on the live database does all of it: it takes SQLite's
    write lock first, copies the current content aside from inside that lock, then
    replaces every table, index, trigger and search index with the backup's. A
    writer in any process either committed before (its rows are in the kept copy)
    or waits on the lock and commits after (its rows land in the restored data):
    no acknowledged commit falls between the two.
    """
    source, db_path = Path(source), Path(db_path)
    check_workspace(source)
    if source.resolve() == db_path.resolve():
        raise CrmError("the backup file must not be the workspace itself")
    if not db_path.exists():
        backup(source, db_path)
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
    partial = kept.with_name(f".{kept.name}.partial")
    partial.unlink(missing_ok=True)
    conn = _connect(db_path)  # foreign keys stay off on this connection: tables are replaced whole
    try:
        # attached before the transaction (SQLite refuses ATTACH inside one); written inside it
        conn.execute("ATTACH DATABASE ? AS backup", [f"file:{source.resolve()}?mode=ro"])
        conn.execute("ATTACH DATABASE ? AS kept", [str(partial)])
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise CrmError(f"restore refused: the workspace stayed busy for 30 s ({error})") from error
        try:
            _copy_database(conn, "main", "kept")
            _copy_database(conn, "backup", "main")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise CrmError(f"restore failed (the workspace is unchanged): {error}") from error
    finally:
        conn.close()
    partial.replace(kept)
    return kept


_SHADOW = ("_data", "_idx", "_docsize", "_config", "_content")
_CREATE = re.compile(
    r"^\s*CREATE\s+((?:UNIQUE\s+|VIRTUAL\s+)?(?:TABLE|INDEX|TRIGGER|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?)", re.I
)


def _copy_database(conn: sqlite3.Connection, source: str, target: str) -> None:
    """Make schema ``target`` an exact copy of schema ``source``: objects, rows and search indexes."""

    def objects(schema: str) -> list[tuple[str, str, str]]:
        rows = conn.execute(
            f"SELECT type, name, sql FROM {schema}.sqlite_master"
            " WHERE name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY rowid"
        )
        return rows.fetchall()

    def shadow_tables(items: list[tuple[str, str, str]]) -> set[str]:
        virtual = [name for kind, name, sql in items if kind == "table" and _is_virtual(sql)]
        return {f"{name}{suffix}" for name in virtual for suffix in _SHADOW}

    def create(sql: str) -> None:
        conn.execute(_CREATE.sub(lambda m: f"CREATE {m.group(1)}{target}.", sql, count=1))

    current = objects(target)
    skip = shadow_tables(current)
    for kind, name, _sql in reversed(current):
        if kind in ("trigger", "view"):
            conn.execute(f"DROP {kind.upper()} IF EXISTS {target}.[{name}]")
    for kind, name, _sql in current:
        if kind == "table" and name not in skip:
            conn.execute(f"DROP TABLE IF EXISTS {target}.[{name}]")
    wanted = objects(source)
    skip = shadow_tables(wanted)
    for kind, name, sql in wanted:  # tables first, then what refers to them
        if kind == "table" and name not in skip:
            create(sql)
            if not _is_virtual(sql):
                conn.execute(f"INSERT INTO {target}.[{name}] SELECT * FROM {source}.[{name}]")
    for kind, name, _sql in wanted:  # a search index's stored data, copied as it was
        if kind == "table" and name in skip:
            conn.execute(f"DELETE FROM {target}.[{name}]")
            conn.execute(f"INSERT INTO {target}.[{name}] SELECT * FROM {source}.[{name}]")
    for kind, _name, sql in wanted:
        if kind in ("index", "trigger", "view"):
            create(sql)
    if conn.execute(f"SELECT 1 FROM {source}.sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        conn.execute(f"DELETE FROM {target}.sqlite_sequence")
        conn.execute(f"INSERT INTO {target}.sqlite_sequence SELECT * FROM {source}.sqlite_sequence")
    user_version = conn.execute(f"PRAGMA {source}.user_version").fetchone()[0]
    conn.execute(f"PRAGMA {target}.user_version = {int(user_version)}")


def _is_virtual(sql: str) -> bool:
    return sql.lstrip().upper().startswith("CREATE VIRTUAL")
