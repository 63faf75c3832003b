"""Backup and restore while other processes write: nothing acknowledged is lost."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.services.backup import backup, restore


def _subjects(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT subject FROM activities WHERE subject LIKE 'writer-%'")}
    finally:
        conn.close()


def _writer(path: Path, name: str, stop: threading.Event, acknowledged: list[str], errors: list[str]) -> None:
    """Another process's writer: one insert per transaction, counted once COMMIT returned."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    number = 0
    try:
        while not stop.is_set():
            subject = f"writer-{name}-{number}"
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO activities (kind, subject) VALUES ('note', ?)", [subject])
            conn.execute("COMMIT")
            acknowledged.append(subject)
            number += 1
    except sqlite3.Error as error:
        errors.append(f"{name}: {error}")
    finally:
        conn.close()


def test_restore_with_four_writers_loses_no_acknowledged_commit(demo_db: Path, tmp_path: Path):
    saved = backup(demo_db, tmp_path / "saved.db")
    stop = threading.Event()
    acknowledged: list[str] = []
    errors: list[str] = []
    writers = [threading.Thread(target=_writer, args=(demo_db, str(n), stop, acknowledged, errors)) for n in range(4)]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    kept = restore(saved, demo_db)
    restored_at = len(acknowledged)
    while len(acknowledged) < restored_at + 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for thread in writers:
        thread.join(30)

    assert not errors
    assert kept is not None and restored_at >= 40
    before, after = _subjects(kept), _subjects(demo_db)
    assert not before & after, "a commit is both before and after the restore"
    lost = set(acknowledged) - before - after
    assert not lost, f"{len(lost)} acknowledged commits lost, e.g. {sorted(lost)[:3]}"
    assert after, "writers kept writing into the restored workspace"


def test_restore_brings_back_content_schema_and_search(demo_db: Path, tmp_path: Path):
    ws = Workspace.open(demo_db, user="ana", builtins_only=True)
    name = ws.store.get("contacts", 1)["last_name"]
    saved = backup(demo_db, tmp_path / "saved.db")
    ws.store.update("contacts", 1, {"last_name": "Changedafterbackup"})
    ws.store.insert("organizations", {"name": "Made after the backup"})

    kept = restore(saved, demo_db)

    assert ws.store.get("contacts", 1)["last_name"] == name  # an open connection sees the restored data
    assert not ws.store.query("SELECT 1 FROM organizations WHERE name = 'Made after the backup'")
    assert ws.search(name)["id"].tolist(), "the search index came back with the content"
    assert ws.search("Changedafterbackup").empty
    ws.store.update("contacts", 1, {"title": "Written after restore"})  # triggers, indexes and FTS work
    ws.close()
    conn = sqlite3.connect(kept)
    assert conn.execute("SELECT last_name FROM contacts WHERE id = 1").fetchone()[0] == "Changedafterbackup"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    conn = sqlite3.connect(demo_db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_restore_of_a_file_that_is_not_a_workspace_changes_nothing(demo_db: Path, tmp_path: Path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    before = demo_db.read_bytes()
    with pytest.raises(CrmError, match="not a crm-workspace database"):
        restore(other, demo_db)
    assert demo_db.read_bytes() == before
    assert not list(tmp_path.glob("crm.db.before-restore-*"))
