"""The core's one list of erased people (``erased_contacts``), read by every module.

``crm privacy erase`` records the person in it in its own write; a file made before it
existed gets it from the audit trail's ``erase`` entries; the marketing and scoring plugins
read it (``privacy.not_erased`` / ``privacy.erased``) instead of keeping their own copies.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from crm_workspace_marketing import segments

from crm_workspace import CrmError, Workspace
from crm_workspace.services import privacy


def someone(ws: Workspace, n: int = 0) -> dict:
    return ws.query("SELECT id, email FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 1 OFFSET ?", [n])[0]


def test_the_erasure_records_the_person_and_nothing_else_writes_the_list(demo_db: Path, tmp_path: Path):
    ws = Workspace.open(demo_db, user="ana")
    try:
        person, other = someone(ws), someone(ws, 1)
        assert privacy.erased(ws) == set()
        privacy.erase(ws, person["email"], tmp_path)
        assert privacy.erased(ws) == {person["id"]}
        assert privacy.erased(ws, [person["id"], other["id"], None]) == {person["id"]}
        assert privacy.erased(ws, []) == set()
        audit = ws.store.scalar(
            "SELECT at FROM audit_log WHERE table_name = 'contacts' AND row_id = ? AND action = 'erase'",
            [str(person["id"])],
        )
        assert ws.query("SELECT * FROM erased_contacts") == [{"contact_id": person["id"], "erased_at": audit}]
        kept = ws.query(f"SELECT c.id FROM contacts c WHERE {privacy.not_erased('c.id')}")
        assert len(kept) == ws.store.scalar("SELECT count(*) FROM contacts") - 1
        assert person["id"] not in {r["id"] for r in kept}
        assert ws.store.scalar(f"SELECT count(*) FROM ({privacy.ERASED_IDS})") == 1
        with pytest.raises(CrmError, match="written by the privacy erasure alone: insert refused"):
            ws.store.insert("erased_contacts", {"contact_id": other["id"], "erased_at": "2026-01-01T00:00:00Z"})
        with pytest.raises(CrmError, match="written by the privacy erasure alone: delete refused"):
            ws.store.delete("erased_contacts", person["id"])
        with pytest.raises(sqlite3.DatabaseError, match="append-only"), ws.store.transaction():
            ws.store.conn.execute("DELETE FROM erased_contacts")
        assert privacy.erased(ws) == {person["id"]}
    finally:
        ws.close()


def test_an_older_file_gets_the_list_from_the_audit_trail_and_loses_the_plugins_copies(demo_db: Path, tmp_path: Path):
    ws = Workspace.open(demo_db, user="ana")
    person = someone(ws)
    privacy.erase(ws, person["email"], tmp_path)
    ws.close()
    with sqlite3.connect(demo_db) as conn:  # as the previous version left it
        conn.execute("DROP TABLE erased_contacts")
        for table in ("marketing_erased", "score_erased"):
            conn.execute(f"CREATE TABLE {table} (contact_id INTEGER PRIMARY KEY, erased_at TEXT)")
            conn.execute(f"INSERT INTO {table} VALUES (?, '2026-01-01T00:00:00Z')", [person["id"]])
        conn.execute(
            "DELETE FROM _sqlite_migrations WHERE (migration_set, name) IN (VALUES"
            " ('crm_workspace.core', 'm006_erased_contacts'),"
            " ('crm_workspace.marketing', 'm008_drop_own_erased'),"
            " ('crm_workspace.scoring', 'm003_drop_own_erased'))"
        )
    conn.close()
    ws = Workspace.open(demo_db, user="ana")
    try:
        assert privacy.erased(ws) == {person["id"]}
        tables = set(ws.store.db.table_names())
        assert "erased_contacts" in tables and not {"marketing_erased", "score_erased"} & tables
    finally:
        ws.close()


def test_a_module_enabled_after_the_erasure_still_never_takes_the_person(demo_db: Path, tmp_path: Path):
    ws = Workspace.open(demo_db, user="ana")
    try:
        person = someone(ws)
        ws.disable("marketing")
        privacy.erase(ws, person["email"], tmp_path)
        ws.enable("marketing")
        segments.save_segment(ws, "Everyone", [{"field": "id", "op": "gt", "value": 0}])
        members = {r["contact_id"] for r in ws.query("SELECT contact_id FROM segment_members")}
        assert len(members) == ws.store.scalar("SELECT count(*) FROM contacts") - 1
        assert person["id"] not in members
    finally:
        ws.close()


def test_a_forged_erasure_flag_on_an_ordinary_update_takes_nobody_off(demo_db: Path, tmp_path: Path):
    ws = Workspace.open(demo_db, user="ben")  # a member: may update contacts, may not erase
    try:
        cid = ws.store.scalar(
            "SELECT e.contact_id FROM sequence_enrollments e JOIN segment_members m USING (contact_id)"
            " JOIN lead_scores s USING (contact_id) WHERE e.status = 'active' ORDER BY e.contact_id LIMIT 1"
        )
        before = ws.query("SELECT segment_id FROM segment_members WHERE contact_id = ? ORDER BY 1", [cid])
        with ws.store.context(privacy_erasure=True):
            ws.store.update("contacts", cid, {"notes": "forged"})
        assert privacy.erased(ws) == set()
        assert ws.query("SELECT segment_id FROM segment_members WHERE contact_id = ? ORDER BY 1", [cid]) == before
        assert ws.store.scalar("SELECT count(*) FROM lead_scores WHERE contact_id = ?", [cid]) == 1
        assert ws.store.scalar(
            "SELECT count(*) FROM sequence_enrollments WHERE contact_id = ? AND status = 'active'", [cid]
        )
        changes = [privacy.Change("contacts", cid, "update", {}, {}, "ben", "", {"privacy_erasure": True})]
        assert privacy.erased_in(ws, changes) == set()
    finally:
        ws.close()
    ws = Workspace.open(demo_db, user="ana")
    try:  # the real erasure still takes the person off everything
        privacy.erase(ws, ws.store.get("contacts", cid)["email"], tmp_path)
        assert privacy.erased_in(ws, changes) == {cid}
        assert ws.store.scalar("SELECT count(*) FROM segment_members WHERE contact_id = ?", [cid]) == 0
        assert ws.store.scalar("SELECT count(*) FROM lead_scores WHERE contact_id = ?", [cid]) == 0
        assert not ws.store.scalar(
            "SELECT count(*) FROM sequence_enrollments WHERE contact_id = ? AND status = 'active'", [cid]
        )
    finally:
        ws.close()


def test_an_erased_contact_stays_as_a_tombstone_so_its_id_is_never_reused(demo_db: Path, tmp_path: Path):
    from crm_workspace_contacts.merge import merge_contacts, undo_merge
    from crm_workspace_excel.batches import undo

    from crm_workspace.data import schema

    ws = Workspace.open(demo_db, user="ana")
    try:
        with ws.store.transaction(), ws.store.context(import_batch="b-erased"):
            ws.store.insert("import_batches", {"id": "b-erased", "at": "2026-01-01T00:00:00Z", "status": "done"})
            last = ws.store.insert("contacts", {"first_name": "Last", "last_name": "One", "email": "last@example.com"})
        other = someone(ws)
        log_id = merge_contacts(ws, other["id"], someone(ws, 1)["id"])
        privacy.erase(ws, "last@example.com", tmp_path)
        privacy.erase(ws, other["email"], tmp_path)
        with pytest.raises(CrmError) as refused:
            ws.store.delete("contacts", last["id"])
        assert str(refused.value) == schema.TOMBSTONE and "tombstone" in schema.TOMBSTONE
        with pytest.raises(sqlite3.IntegrityError, match="tombstone"), ws.store.transaction():
            ws.store.conn.execute("DELETE FROM contacts WHERE id = ?", [last["id"]])
        new = ws.store.insert("contacts", {"first_name": "New", "last_name": "Person"})
        assert new["id"] > last["id"] and privacy.erased(ws, [new["id"]]) == set()
        with pytest.raises(CrmError, match=rf"contact #{last['id']} was erased .* tombstone .* cannot be merged"):
            merge_contacts(ws, new["id"], last["id"])
        with pytest.raises(CrmError, match=rf"contact #{last['id']} was erased .* cannot be merged"):
            merge_contacts(ws, last["id"], new["id"])
        with pytest.raises(CrmError, match=rf"contact #{other['id']} was erased .* cannot be unmerged"):
            undo_merge(ws, log_id)
        with pytest.raises(CrmError, match=r"cannot undo import batch b-erased: .* changed since"):
            undo(ws, "b-erased")
        assert ws.store.get("contacts", last["id"])["first_name"] != "Last"  # still there, anonymised
        ws.store.delete("contacts", new["id"])  # anyone else is deleted as before
    finally:
        ws.close()


def test_the_plugins_old_lists_join_the_core_list_before_they_are_dropped(demo_db: Path):
    ws = Workspace.open(demo_db, user="ana")
    in_segment = ws.store.scalar("SELECT min(contact_id) FROM segment_members")
    scored = ws.store.scalar("SELECT max(contact_id) FROM lead_scores WHERE contact_id != ?", [in_segment])
    ws.close()
    with sqlite3.connect(demo_db) as conn:  # an older file whose plugin lists name people the audit trail lacks
        for table, cid in (("marketing_erased", in_segment), ("score_erased", scored)):
            conn.execute(f"CREATE TABLE {table} (contact_id INTEGER PRIMARY KEY, erased_at TEXT)")
            conn.execute(f"INSERT INTO {table} VALUES (?, NULL)", [cid])
        conn.execute(
            "DELETE FROM _sqlite_migrations WHERE (migration_set, name) IN (VALUES"
            " ('crm_workspace.marketing', 'm008_drop_own_erased'), ('crm_workspace.scoring', 'm003_drop_own_erased'))"
        )
    conn.close()
    ws = Workspace.open(demo_db, user="ana")
    try:
        assert ws.query("SELECT * FROM erased_contacts ORDER BY contact_id") == [
            {"contact_id": cid, "erased_at": ""} for cid in sorted({in_segment, scored})
        ]
        assert not ws.store.scalar("SELECT count(*) FROM segment_members WHERE contact_id = ?", [in_segment])
        assert not ws.store.scalar("SELECT count(*) FROM lead_scores WHERE contact_id = ?", [scored])
        assert not {"marketing_erased", "score_erased"} & set(ws.store.db.table_names())
    finally:
        ws.close()


def test_old_migrations_spell_their_sql_out():
    import inspect

    from crm_workspace_marketing import schema as marketing
    from crm_workspace_scoring import schema as scoring

    from crm_workspace.data import schema

    for module in (marketing, scoring, schema):
        assert "ERASED_IDS" not in inspect.getsource(module)  # a later change to the constant changes no migration
