"""Workspace files made before the modules owned their tables open unchanged.

``tests/data/workspace-v0.1-demo.db.gz`` is a small demo workspace written by
``crm init --demo`` when the core still created deals, relationships,
lifecycle_events and import_batches itself. Today those tables come from the
pipeline, relationships, lifecycle and excel plugins' own migrations, which
must accept the tables already there and leave every column, index, trigger
and row as it was (but for the triggers a later, named migration replaces:
``REPLACED_TRIGGERS``); a new workspace must have the same tables and columns.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from crm_workspace_lifecycle.schema import STAYS_TRIGGER

from crm_workspace import CrmError, ValidationError, Workspace
from crm_workspace.cli import cli

OLD_DEMO = Path(__file__).parent / "data" / "workspace-v0.1-demo.db.gz"
MOVED = ("deals", "relationships", "lifecycle_events", "import_batches")
# Triggers a later, named migration drops and recreates (same effect, new SQL): name -> (migration, new SQL).
REPLACED_TRIGGERS = {
    "lifecycle_stays_on_event": ("crm_workspace.lifecycle m003_stays_trigger_without_derived_table", STAYS_TRIGGER),
}


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    with gzip.open(OLD_DEMO) as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    return path


def schema_of(path: Path) -> dict:
    """Tables with their columns (name, type, not null, default, pk) and foreign keys; indexes; triggers."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            "columns": {t: [tuple(c[1:]) for c in conn.execute(f"PRAGMA table_info([{t}])")] for t in tables},
            "foreign_keys": {
                t: sorted(tuple(k[2:5]) for k in conn.execute(f"PRAGMA foreign_key_list([{t}])")) for t in tables
            },
            "indexes": dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")),
            "triggers": dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")),
        }


def counts_of(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
                " AND name != '_sqlite_migrations'"
            )
        ]
        return {t: conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}


def test_an_old_workspace_opens_with_every_table_column_index_trigger_and_row(old_file: Path):
    before, rows = schema_of(old_file), counts_of(old_file)
    assert set(MOVED) <= set(before["columns"]) and rows["deals"] and rows["lifecycle_events"]
    Workspace.open(old_file, user="ana", builtins_only=True).close()
    after = schema_of(old_file)
    for table, columns in before["columns"].items():
        assert after["columns"][table] == columns, table
        assert after["foreign_keys"][table] == before["foreign_keys"][table], table
    assert {name: sql for name, sql in after["indexes"].items() if name in before["indexes"]} == before["indexes"]
    assert set(before["indexes"]) <= set(after["indexes"])
    kept = {name: sql for name, sql in before["triggers"].items() if name not in REPLACED_TRIGGERS}
    assert {name: sql for name, sql in after["triggers"].items() if name in kept} == kept
    assert set(before["triggers"]) <= set(after["triggers"])
    for name, (migration, sql) in REPLACED_TRIGGERS.items():
        assert after["triggers"][name].split() == sql.split() != before["triggers"][name].split(), migration
        assert migration.split() in applied_migrations(old_file)
    assert {t: n for t, n in counts_of(old_file).items() if t in rows} == rows  # new tables may be added


def applied_migrations(path: Path) -> list[list[str]]:
    with sqlite3.connect(path) as conn:
        return [list(row) for row in conn.execute("SELECT migration_set, name FROM _sqlite_migrations")]


def test_an_old_workspace_gains_the_retention_indexes_and_prunes_through_them(old_file: Path):
    from crm_workspace.services import outbox

    ws = Workspace.open(old_file, user="ana", builtins_only=True)
    try:
        indexes = set(schema_of(old_file)["indexes"])
        assert {"idx_mail_outbox_removable", "idx_mail_outbox_emptiable", "idx_webhook_deliveries_finished"} <= indexes
        assert outbox.prune(ws, days=1) == {"removed": 0, "emptied": 0}  # INDEXED BY: refused if unusable
    finally:
        ws.close()


def test_the_moved_tables_take_writes_in_an_old_workspace(old_file: Path):
    ws = Workspace.open(old_file, user="ana", builtins_only=True)
    try:
        store = ws.store
        contact = store.query("SELECT id, organization_id, email FROM contacts WHERE email IS NOT NULL LIMIT 1")[0]
        deal = store.insert("deals", {"title": "Migrated", "contact_id": contact["id"], "amount": "1200"})
        assert deal["currency"] == "EUR" and deal["stage"] == "qualification" and deal["amount"] == 1200.0
        assert store.update("deals", deal["id"], {"amount": 1500}, version=deal["version"])["version"] == 2
        with pytest.raises(ValidationError, match="probability"):
            store.insert("deals", {"title": "Bad", "probability": 140})
        other = store.scalar("SELECT max(id) FROM contacts WHERE id != ?", [contact["id"]])
        ends = {"source_type": "contacts", "source_id": contact["id"], "target_type": "contacts", "target_id": other}
        with pytest.raises(ValidationError, match="kind"):
            store.insert("relationships", ends)
        assert store.insert("relationships", {**ends, "kind": "introduced"})["strength"] == 3
        event = store.insert(
            "lifecycle_events",
            {"contact_id": contact["id"], "from_stage": "lead", "to_stage": "customer", "at": "2024-01-02T10:00:00Z"},
        )
        with pytest.raises(CrmError, match="append-only"):
            store.update("lifecycle_events", event["id"], {"to_stage": "lead"})
        store.insert("import_batches", {"id": "b1", "file_name": "x.xlsx", "entity": "contacts", "status": "done"})
        assert store.query("SELECT status FROM import_batches WHERE id = 'b1'") == [{"status": "done"}]
        with pytest.raises(ValidationError) as duplicate:
            store.insert("contacts", {"last_name": "Twin", "email": contact["email"].upper()})
        assert duplicate.value.errors == {"email": "another contact already has this email address"}
    finally:
        ws.close()


def test_a_new_workspace_has_the_tables_and_columns_of_an_old_one(old_file: Path, tmp_path: Path):
    Workspace.open(old_file, user="ana", builtins_only=True).close()
    new_file = tmp_path / "new.db"
    result = CliRunner().invoke(cli, ["--db", str(new_file), "init", "--demo", "--contacts", "60"])
    assert result.exit_code == 0, result.output
    old, new = schema_of(old_file), schema_of(new_file)
    assert set(new["columns"]) == set(old["columns"])
    for table, columns in old["columns"].items():
        assert sorted(new["columns"][table]) == sorted(columns), table
    assert set(new["indexes"]) == set(old["indexes"])
    assert set(old["triggers"]) <= set(new["triggers"])
    # the core declares no key to a module's table: the pipeline's triggers keep activities.deal_id honest
    assert ("deals", "deal_id", "id") not in new["foreign_keys"]["activities"]
    with sqlite3.connect(new_file) as conn, pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO activities (kind, deal_id) VALUES ('call', 999999)")
    with sqlite3.connect(new_file) as conn, pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("DELETE FROM deals WHERE id = (SELECT deal_id FROM activities WHERE deal_id IS NOT NULL LIMIT 1)")


def test_unique_errors_take_the_message_declared_with_the_schema(workspace: Workspace, monkeypatch):
    from crm_workspace.data import schema

    contact = workspace.store.insert("contacts", {"last_name": "Tagged"})
    workspace.store.insert("contact_tags", {"contact_id": contact["id"], "tag": "vip"})
    with pytest.raises(ValidationError) as generic:
        workspace.store.insert("contact_tags", {"contact_id": contact["id"], "tag": "vip"})
    assert set(generic.value.errors.values()) == {"must be unique; this value is already used"}
    both = "contact_tags.contact_id, contact_tags.tag"
    monkeypatch.setitem(schema.UNIQUE_MESSAGES, both, "this contact already has this tag")
    with pytest.raises(ValidationError) as declared:
        workspace.store.insert("contact_tags", {"contact_id": contact["id"], "tag": "vip"})
    assert declared.value.errors == {"contact_id": "this contact already has this tag"}
