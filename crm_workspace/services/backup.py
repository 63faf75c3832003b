"""Backups with SQLite's online backup API: safe while the app is serving.

``backup(db, file)`` copies a consistent snapshot page by page (writers in other
processes keep working; the copy is of one committed state). ``restore(file,
db)`` refuses anything that is not a crm-workspace database, keeps the current
database aside as ``<db>.before-restore-<timestamp>``, then copies the backup
into the live database through the same API, so connections already open (a
running server) see the restored data instead of a replaced file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from crm_workspace.errors import CrmError, NotFound

_REQUIRED_TABLES = {"users", "contacts", "organizations", "deals", "activities", "audit_log", "settings"}


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
    """Replace the workspace's content with ``source``; returns where the old content was kept."""
    source, db_path = Path(source), Path(db_path)
    check_workspace(source)
    kept = None
    if db_path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
        backup(db_path, kept)
    src = _connect(source, readonly=True)
    dest = _connect(db_path)
    try:
        with contextlib.suppress(sqlite3.Error):
            dest.execute("PRAGMA journal_mode = WAL")
        src.backup(dest)
    except sqlite3.Error as error:
        raise CrmError(f"restore failed (the workspace is unchanged; copy kept at {kept}): {error}") from error
    finally:
        src.close()
        dest.close()
    return kept
