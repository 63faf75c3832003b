"""The Store: migrations, transactions, validation, audit, optimistic locking, events, processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import sqlite_utils

from crm_workspace import ConflictError, CrmError, ValidationError, Workspace, hookimpl
from crm_workspace.errors import NotFound, PluginError
from crm_workspace.testing import make_workspace


class Recorder:
    """A throwaway plugin that remembers every change it was told about."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def crm_record_changed(self, changes):
        self.seen.extend(changes)


def test_open_sets_wal_foreign_keys_and_busy_timeout(workspace: Workspace):
    conn = workspace.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_core_tables_have_the_design_columns(workspace: Workspace):
    expected = {
        "organizations": "id name domain industry city country owner created_at updated_at version",
        "contacts": "id first_name last_name email phone title organization_id stakeholder_type lifecycle_stage"
        " owner created_at updated_at version",
        "deals": "id title organization_id contact_id stage amount currency probability expected_close status"
        " lost_reason owner created_at updated_at version",
        "activities": "id kind subject body channel contact_id organization_id deal_id occurred_at due_at done owner",
        "relationships": "id source_type source_id target_type target_id kind strength notes",
        "lifecycle_events": "id contact_id from_stage to_stage at by",
        "audit_log": "id at user table_name row_id action changes",
        "import_batches": "id at user file_name sha256 entity created updated skipped rejected status",
        "users": "username display_name role",
    }
    for table, columns in expected.items():
        assert set(columns.split()) <= set(workspace.store.columns(table)), table


def test_migrations_are_idempotent_and_per_plugin(tmp_path):
    calls = []
    migrations = sqlite_utils.Migrations("crm_workspace.test-extra")

    @migrations()
    def m001_extra(db):
        calls.append("m001")
        db["extra"].create({"id": int, "note": str}, pk="id")

    class Extra:
        @hookimpl
        def crm_migrations(self):
            return migrations

    path = tmp_path / "crm.db"
    make_workspace(path, plugins=(Extra(),)).close()
    make_workspace(path, plugins=(Extra(),)).close()
    assert calls == ["m001"]
    ws = Workspace.open(path, load_plugins=False)
    sets = {row["migration_set"] for row in ws.query("SELECT migration_set FROM _sqlite_migrations")}
    assert {"crm_workspace.core", "crm_workspace.test-extra", "crm_workspace.pipeline"} <= sets
    assert ws.store.columns("extra") == {"id": "INTEGER", "note": "TEXT"}


def test_insert_stamps_audits_and_fires_events(workspace: Workspace):
    recorder = Recorder()
    workspace.register(recorder, name="recorder")
    org = workspace.store.insert("organizations", {"name": "  Acme  "})
    assert org["name"] == "Acme"  # core rules trim text
    assert org["version"] == 1 and org["created_at"].endswith("Z") and org["updated_by"] == "tester"
    audit = workspace.query("SELECT * FROM audit_log WHERE table_name = 'organizations'")
    assert len(audit) == 1 and audit[0]["user"] == "tester" and audit[0]["action"] == "insert"
    assert json.loads(audit[0]["changes"])["after"]["name"] == "Acme"
    assert [(c.table, c.action, c.id) for c in recorder.seen] == [("organizations", "insert", org["id"])]


def test_insert_audit_holds_given_and_default_fields_with_secrets_redacted(workspace: Workspace):
    ids = workspace.store.insert_many(
        "contacts", [{"first_name": "Ana", "email": "ana@example.com"}, {"last_name": "Bo"}]
    )
    workspace.store.insert("users", {"username": "tester", "role": "admin", "password_hash": "$argon2$secret"})
    rows = workspace.query("SELECT table_name, row_id, changes FROM audit_log ORDER BY id")
    bodies = [json.loads(r["changes"])["after"] for r in rows]
    assert [r["row_id"] for r in rows] == [str(ids[0]), str(ids[1]), "tester"]
    assert bodies[0]["first_name"] == "Ana" and bodies[0]["email"] == "ana@example.com"
    assert bodies[0]["stakeholder_type"] == "prospect"  # filled by the schema's default
    assert "notes" not in bodies[0] and bodies[0]["last_name"] is None  # notes: neither given nor defaulted
    assert bodies[1]["last_name"] == "Bo" and bodies[1]["version"] == 1
    assert bodies[2]["password_hash"] == "<redacted>" and "secret" not in rows[2]["changes"]


def test_bulk_insert_fills_the_defaults_of_fields_a_record_leaves_out(workspace: Workspace):
    ids = workspace.store.insert_many(
        "deals", [{"title": "x", "currency": "USD"}, {"title": "y"}, {"title": "z", "status": "won"}]
    )
    rows = {r["title"]: r for r in workspace.query("SELECT title, currency, status FROM deals")}
    assert rows["x"]["currency"] == "USD" and rows["y"]["currency"] == "EUR" and rows["z"]["currency"] == "EUR"
    assert rows["x"]["status"] == rows["y"]["status"] == "open" and rows["z"]["status"] == "won"
    audit = workspace.query("SELECT row_id, changes FROM audit_log WHERE table_name = 'deals' ORDER BY id")
    after = {r["row_id"]: json.loads(r["changes"])["after"] for r in audit}
    assert after[str(ids[1])]["currency"] == "EUR" and after[str(ids[0])]["currency"] == "USD"
    assert sorted(int(i) for i in after) == sorted(ids)


def test_update_many_mixes_fields_and_sees_its_own_earlier_changes(workspace: Workspace):
    ids = workspace.store.insert_many(
        "contacts", [{"first_name": f"P{i}", "email": f"p{i}@example.com"} for i in range(3)]
    )
    results = workspace.store.update_many(
        "contacts",
        [
            (ids[0], {"first_name": "Zoe"}, 1),
            (ids[1], {"last_name": "Quinn"}, None),
            (ids[0], {"last_name": "Ward"}, 2),  # the same record again: must see version 2
            (str(ids[2]), {"title": "CFO"}, None),
        ],
    )
    assert [r["version"] for r in results] == [2, 2, 3, 2]
    rows = {r["id"]: r for r in workspace.query("SELECT * FROM contacts")}
    assert (rows[ids[0]]["first_name"], rows[ids[0]]["last_name"], rows[ids[0]]["version"]) == ("Zoe", "Ward", 3)
    assert rows[ids[1]]["last_name"] == "Quinn" and rows[ids[2]]["title"] == "CFO"
    assert workspace.store.scalar("SELECT count(*) FROM audit_log WHERE action = 'update'") == 4
    with pytest.raises(ValidationError, match="another contact already has this email"):
        workspace.store.update_many(
            "contacts", [(ids[1], {"title": "x"}, None), (ids[2], {"email": "p0@example.com"}, None)]
        )
    assert workspace.store.get("contacts", ids[1])["title"] is None  # the whole batch rolled back


def test_bulk_updates_and_deletes_read_rows_a_chunk_at_a_time_yet_see_their_own_writes(workspace: Workspace):
    store = workspace.store
    ids = store.insert_many("organizations", [{"name": f"O{i}"} for i in range(1200)])
    updates = [(ids[0], {"city": "A"}, 1), (ids[1], {"city": "B"}, 1), (ids[1], {"city": "B2"}, 2)]
    updates += [(ids[0], {"country": "X"}, 2)]  # written before the flush the second B forced: not its stale read
    updates += [(row_id, {"city": "Z"}, 1) for row_id in ids[2:1100]]
    updates += [(ids[0], {"industry": "Y"}, 3)]  # and again two chunks later
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        results = store.update_many("organizations", updates)
    finally:
        store.conn.set_trace_callback(None)
    assert [(r["city"], r["country"], r["industry"], r["version"]) for r in (results[3], results[-1])] == [
        ("A", "X", None, 3),
        ("A", "X", "Y", 4),
    ]
    assert store.get("organizations", ids[1])["city"] == "B2" and store.get("organizations", ids[600])["city"] == "Z"
    chunked = [s for s in statements if "WHERE [id] IN (" in s and s.lstrip().startswith("SELECT")]
    single = [s for s in statements if "WHERE [id] = " in s and s.lstrip().startswith("SELECT")]
    # 1,104 updates: a query per chunk of 500 and per flush a repeat forced (the rest of its chunk read again);
    # the 3 repeats themselves one by one
    assert len(chunked) == 3 + 2 and len(single) == 3
    with pytest.raises(NotFound):
        store.delete_many("organizations", [(ids[5], None), (ids[6], None), (ids[5], None)])
    assert store.get("organizations", ids[5]) and store.get("organizations", ids[6])  # nothing half-deleted
    with pytest.raises(NotFound, match="does not exist"):
        store.update_many("organizations", [(ids[1150], {"city": "Q"}, None), (10**9, {"city": "Q"}, None)])
    assert store.get("organizations", ids[1150])["city"] is None


def test_snapshot_reads_one_moment_and_refuses_writes(workspace: Workspace, tmp_path):
    workspace.store.insert("organizations", {"name": "Before"})
    other = Workspace.open(workspace.path, user="other", builtins_only=True, load_plugins=False)
    with workspace.store.snapshot():
        other.store.insert("organizations", {"name": "During"})
        assert workspace.store.scalar("SELECT count(*) FROM organizations") == 1
        with pytest.raises(CrmError, match="snapshot"):
            workspace.store.insert("organizations", {"name": "Refused"})
    assert workspace.store.scalar("SELECT count(*) FROM organizations") == 2
    other.close()


def test_a_bulk_transaction_is_all_or_nothing_without_savepoints(workspace: Workspace):
    store = workspace.store
    with store.transaction(savepoints=False):
        store.insert_many("organizations", [{"name": "A"}, {"name": "B"}])
        assert store.scalar("SELECT count(*) FROM organizations") == 2  # nested: no savepoint needed to see it
    with pytest.raises(ValidationError), store.transaction(savepoints=False):
        store.insert_many("organizations", [{"name": "C"}])
        store.insert_many("contacts", [{"last_name": "X", "stakeholder_type": "alien"}])
    assert store.scalar("SELECT count(*) FROM organizations") == 2  # C went with the failed transaction
    with store.transaction():  # the default keeps savepoints: a caught inner failure undoes only itself
        store.insert("organizations", {"name": "D"})
        with pytest.raises(ValidationError):
            store.insert_many("contacts", [{"last_name": "Y"}, {"last_name": "Z", "stakeholder_type": "alien"}])
    assert store.scalar("SELECT count(*) FROM organizations") == 3
    assert store.scalar("SELECT count(*) FROM contacts") == 0


def test_settings_seen_inside_a_transaction_and_forgotten_on_rollback(workspace: Workspace):
    with pytest.raises(ValidationError), workspace.store.transaction():
        workspace.set_setting("lifecycle_stages", ["lead", "customer"])
        assert workspace.lifecycle_stages() == ["lead", "customer"]
        workspace.store.insert("contacts", {"last_name": "X", "lifecycle_stage": "subscriber"})
    assert workspace.lifecycle_stages()[0] == "subscriber"
    workspace.store.insert("contacts", {"last_name": "X", "lifecycle_stage": "subscriber"})


def test_update_records_before_and_after_and_bumps_version(workspace: Workspace):
    org = workspace.store.insert("organizations", {"name": "Acme", "city": "Berlin"})
    updated = workspace.store.update("organizations", org["id"], {"city": "Paris", "name": "Acme"}, version=1)
    assert updated["version"] == 2 and updated["city"] == "Paris"
    row = workspace.query("SELECT changes FROM audit_log WHERE action = 'update'")[0]
    assert json.loads(row["changes"]) == {"before": {"city": "Berlin"}, "after": {"city": "Paris"}}


def test_an_update_that_changes_nothing_writes_nothing(workspace: Workspace):
    org = workspace.store.insert("organizations", {"name": "Acme"})
    again = workspace.store.update("organizations", org["id"], {"name": "Acme"}, version=1)
    assert again["version"] == 1
    assert workspace.store.scalar("SELECT count(*) FROM audit_log WHERE action = 'update'") == 0


def test_stale_update_raises_conflict_with_both_versions(workspace: Workspace):
    org = workspace.store.insert("organizations", {"name": "Acme"})
    other = workspace.as_user("ben")
    other.store.update("organizations", org["id"], {"city": "Lisbon"}, version=1)
    with pytest.raises(ConflictError) as caught:
        workspace.store.update("organizations", org["id"], {"city": "Madrid"}, version=1)
    assert caught.value.theirs["city"] == "Lisbon" and caught.value.mine == {"city": "Madrid"}
    assert "ben" in str(caught.value)
    assert workspace.store.get("organizations", org["id"])["city"] == "Lisbon"


def test_rollback_on_error_leaves_no_trace(workspace: Workspace):
    before = workspace.store.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(RuntimeError), workspace.store.transaction():
        workspace.store.insert("organizations", {"name": "Ghost"})
        workspace.store.insert_many("contacts", [{"last_name": "Ghost"}] * 3)
        raise RuntimeError("boom")
    assert workspace.store.scalar("SELECT count(*) FROM organizations") == 0
    assert workspace.store.scalar("SELECT count(*) FROM contacts") == 0
    assert workspace.store.scalar("SELECT count(*) FROM audit_log") == before


def test_a_bad_row_in_a_batch_rolls_back_the_whole_batch(workspace: Workspace):
    with pytest.raises(ValidationError):
        workspace.store.insert_many("deals", [{"title": "ok", "amount": 10}, {"title": "bad", "amount": -5}])
    assert workspace.store.scalar("SELECT count(*) FROM deals") == 0


def test_validation_messages_name_the_field(workspace: Workspace):
    with pytest.raises(ValidationError) as caught:
        workspace.store.insert("deals", {"title": "", "amount": "lots", "probability": 140, "status": "maybe"})
    assert set(caught.value.errors) == {"title", "amount", "probability", "status"}
    with pytest.raises(ValidationError) as caught:
        workspace.store.insert("contacts", {"last_name": "X", "shoe_size": 44})
    assert "shoe_size" in caught.value.errors


def test_validation_plugins_normalise_in_place_and_refuse_with_messages(workspace: Workspace):
    class Shouty:
        @hookimpl
        def crm_validate_record(self, table, record, before):
            if table == "organizations" and "name" in record:
                record["name"] = record["name"].upper()
                if "!" in record["name"]:
                    return {"name": "no exclamation marks, please"}
            return None

    workspace.register(Shouty(), name="shouty")
    org = workspace.store.insert("organizations", {"name": "acme"})
    assert org["name"] == "ACME"
    with pytest.raises(ValidationError, match="name: no exclamation marks"):
        workspace.store.update("organizations", org["id"], {"name": "acme!"})
    assert workspace.store.get("organizations", org["id"])["version"] == 1


def test_one_contact_per_email_whatever_its_case(workspace: Workspace):
    workspace.store.insert("contacts", {"last_name": "A", "email": "ana@example.com"})
    with pytest.raises(ValidationError) as caught:
        workspace.store.insert("contacts", {"last_name": "B", "email": "ANA@example.com"})
    assert "email" in caught.value.errors


def test_append_only_tables_refuse_changes(workspace: Workspace):
    workspace.store.insert("organizations", {"name": "Acme"})
    with pytest.raises(CrmError, match="append-only"):
        workspace.store.update("audit_log", 1, {"user": "mallory"})
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), workspace.store.transaction():
        workspace.store.conn.execute("DELETE FROM audit_log")  # even raw SQL inside the Store's transaction
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):  # outside it, raw SQL only reads
        workspace.store.conn.execute("DELETE FROM audit_log WHERE id > 0")


def test_a_plugins_append_only_table_is_refused_by_the_store_before_any_work(workspace: Workspace):
    """``schema.append_only`` on a plugin's table: the Store refuses updates and deletes up front, like audit_log's."""
    from crm_workspace.data.schema import append_only

    store = workspace.store
    migrations = sqlite_utils.Migrations("test.ledger")

    @migrations()
    def m000_ledger(db):
        db["ledger"].create({"id": int, "entry": str}, pk="id")
        append_only(db, "ledger")

    store.migrate([migrations])
    checked = []

    class Watcher:
        @hookimpl
        def crm_validate_record(self, table, record, before):
            checked.append((table, before is not None))

    workspace.register(Watcher(), name="watcher")
    row = store.insert("ledger", {"entry": "opened"})  # appending is what the table is for
    checked.clear()
    with pytest.raises(CrmError, match="ledger is append-only: update refused"):
        store.update("ledger", row["id"], {"entry": "rewritten"})
    with pytest.raises(CrmError, match="ledger is append-only: delete refused"):
        store.delete("ledger", row["id"])
    assert checked == []  # refused before validation (nothing read, nothing half-done)
    assert store.get("ledger", row["id"])["entry"] == "opened"
    assert store.append_only("ledger") == {"update", "delete"} and store.append_only("contacts") == frozenset()


def test_delete_is_audited_and_referenced_rows_are_protected(workspace: Workspace):
    org = workspace.store.insert("organizations", {"name": "Acme"})
    workspace.store.insert("contacts", {"last_name": "Novak", "organization_id": org["id"]})
    with pytest.raises(CrmError, match="other records still refer"):
        workspace.store.delete("organizations", org["id"])
    lone = workspace.store.insert("organizations", {"name": "Lone"})
    workspace.store.delete("organizations", lone["id"], version=1)
    with pytest.raises(NotFound):
        workspace.store.get("organizations", lone["id"])
    assert workspace.store.scalar("SELECT count(*) FROM audit_log WHERE action = 'delete'") == 1


def test_a_plugin_raising_on_the_write_path_aborts_only_that_write(workspace: Workspace):
    class Broken:
        @hookimpl
        def crm_record_changed(self, changes):
            if any(c.table == "deals" for c in changes):
                raise ZeroDivisionError("bad plugin")

    workspace.register(Broken(), name="broken")
    with pytest.raises(PluginError, match="plugin 'broken' failed in crm_record_changed"):
        workspace.store.insert("deals", {"title": "x"})
    assert workspace.store.scalar("SELECT count(*) FROM deals") == 0
    workspace.store.insert("organizations", {"name": "still works"})


def test_context_tags_changes_and_audit(workspace: Workspace):
    recorder = Recorder()
    workspace.register(recorder, name="recorder")
    with workspace.store.context(import_batch="b1"):
        workspace.store.insert("organizations", {"name": "Acme"})
    assert recorder.seen[0].context == {"import_batch": "b1"}
    audit = json.loads(workspace.store.scalar("SELECT changes FROM audit_log"))
    assert audit["context"] == {"import_batch": "b1"}


def test_writes_bump_revision_and_other_connections_are_noticed(workspace: Workspace, tmp_path):
    start = workspace.revision
    workspace.store.insert("organizations", {"name": "Acme"})
    assert workspace.revision == start + 1
    assert workspace.poll() is False
    other = Workspace.open(workspace.path, load_plugins=False)
    other.store.insert("organizations", {"name": "Other process"})
    other.close()
    assert workspace.poll() is True
    assert workspace.revision == start + 2


WRITER = textwrap.dedent(
    """
    import sys
    from crm_workspace import Workspace
    ws = Workspace.open(sys.argv[1], user=sys.argv[2], load_plugins=False)
    for i in range(200):
        ws.store.insert("organizations", {"name": f"{sys.argv[2]} {i}"})
    """
)


def test_two_processes_writing_at_once_both_succeed(tmp_path):
    path = tmp_path / "crm.db"
    make_workspace(path, builtins=False).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name], stderr=subprocess.PIPE)
        for name in ("one", "two")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    ws = Workspace.open(path, load_plugins=False)
    assert ws.store.scalar("SELECT count(*) FROM organizations") == 400
    assert ws.store.scalar("SELECT count(DISTINCT user) FROM audit_log") == 2


def test_threads_get_their_own_connections(workspace: Workspace):
    import threading

    errors = []

    def write(n):
        try:
            for i in range(50):
                workspace.store.insert("organizations", {"name": f"t{n}-{i}"})
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert workspace.store.scalar("SELECT count(*) FROM organizations") == 200


def test_df_reads_tables_views_and_sql(demo_workspace: Workspace):
    ws = demo_workspace
    frame = ws.df("contacts", where="stakeholder_type = :kind", kind="media", order_by="id", limit=5)
    assert len(frame) <= 5 and set(frame["stakeholder_type"]) <= {"media"}
    counts = ws.df("SELECT status, count(*) AS n FROM deals GROUP BY status ORDER BY status")
    assert counts["n"].sum() == 150
    with pytest.raises(NotFound):
        ws.df("no_such_table")
    with pytest.raises(CrmError, match="query failed"):
        ws.df("SELECT nonsense FROM deals")


def test_settings_round_trip_and_lifecycle_stages(workspace: Workspace):
    assert workspace.lifecycle_stages()[0] == "subscriber"
    workspace.set_setting("lifecycle_stages", ["lead", "customer"])
    workspace.set_setting("lifecycle_stages", ["lead", "customer", "churned"])
    assert workspace.lifecycle_stages() == ["lead", "customer", "churned"]
    with pytest.raises(ValidationError):
        workspace.store.insert("contacts", {"last_name": "X", "lifecycle_stage": "subscriber"})


def test_a_transaction_can_lower_its_page_cache_and_gives_it_back(workspace: Workspace):
    from crm_workspace.data.store import READ_CACHE_KIB, WRITE_CACHE_KIB

    store = workspace.store

    def cache() -> int:
        return -store.conn.execute("PRAGMA cache_size").fetchone()[0]

    with store.transaction():
        assert cache() == WRITE_CACHE_KIB
    with store.transaction(savepoints=False, cache_kib=8_000):
        store.insert("organizations", {"name": "A"})
        assert cache() == 8_000
    with store.transaction(cache_kib=WRITE_CACHE_KIB * 4):
        assert cache() == WRITE_CACHE_KIB  # a ceiling to lower, never to raise
    assert cache() == READ_CACHE_KIB


def test_a_store_writes_as_an_actor_without_a_workspace(workspace: Workspace):
    from crm_workspace.data.actor import Actor
    from crm_workspace.data.store import Pool, Store

    commits = []
    store = Store(Pool(workspace.path), Actor("script", on_commit=lambda: commits.append(1)))
    row = store.insert("organizations", {"name": "Bare"})
    assert row["updated_by"] == "script" and commits == [1]
    assert store.scalar("SELECT user FROM audit_log WHERE row_id = ?", [str(row["id"])]) == "script"
    store.settings.set("answer", 42)
    assert store.settings.get("answer") == 42 and workspace.setting("answer") == 42
    store.pool.close()


def test_a_change_is_the_frozen_value_its_fields_describe():
    import dataclasses

    from crm_workspace.types import Change

    change = Change("contacts", 7, "insert", None, {"email": "a@x.org"}, "ana", "2026-01-01T00:00:00Z")
    assert [f.name for f in dataclasses.fields(Change)] == list(vars(change))
    assert change.context == {} and change.context is not Change("t", 1, "insert", None, None, "u", "").context
    assert Change("t", 1, "insert", None, None, "u", "", None).context is None  # given as None: kept
    assert change == Change("contacts", 7, "insert", None, {"email": "a@x.org"}, "ana", "2026-01-01T00:00:00Z", {})
    assert dataclasses.replace(change, id=8).id == 8 and change.changed("email")
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.id = 9
