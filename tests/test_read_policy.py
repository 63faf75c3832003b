"""Reads are read-only and policy-bound (issue 16, item 2; item 5's write-path switches).

Every query path (``ws.df``, ``ws.query``, ``store.query``/``scalar``, ``crm export``)
runs under an SQLite authorizer that refuses writes, hides password hashes and
gives the audit log to admins only; only the Store writes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from crm_workspace import ValidationError, Workspace
from crm_workspace.cli import cli
from crm_workspace.data import permissions
from crm_workspace.errors import CrmError, PermissionDenied

WRITES = [
    "UPDATE deals SET amount = 0",
    "DELETE FROM audit_log",
    "DROP TRIGGER audit_log_no_delete",
    "UPDATE users SET role = 'admin' WHERE username = 'eve'",
    "INSERT INTO organizations (name) VALUES ('Evil Corp')",
    "CREATE TABLE evil (x)",
    "ATTACH DATABASE ':memory:' AS other",
    "PRAGMA writable_schema = ON",
    "PRAGMA foreign_keys = OFF",
    "BEGIN TRANSACTION",
    "COMMIT TRANSACTION",
    "SELECT load_extension('x')",
    "WITH x AS (SELECT 1) UPDATE deals SET amount = 0",
]


def run(db: Path, *args: str, user: str = "ana"):
    return CliRunner().invoke(cli, ["--db", str(db), "--user", user, *args])


@pytest.fixture
def ws(demo_db: Path):
    workspace = Workspace.open(demo_db, user="ana", builtins_only=True)
    yield workspace
    workspace.close()


def _fingerprint(db: Path) -> tuple:
    conn = sqlite3.connect(db)
    try:
        return (
            conn.execute("SELECT sum(amount), count(*) FROM deals").fetchone(),
            conn.execute("SELECT count(*) FROM audit_log").fetchone()[0],
            conn.execute("SELECT role FROM users WHERE username = 'eve'").fetchone()[0],
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0],
        )
    finally:
        conn.close()


# ------------------------------------------------------------ no writes
@pytest.mark.parametrize("user", ["eve", "ana"])
def test_df_and_query_refuse_every_write_for_every_role(ws, demo_db, user):
    reader = ws.as_user(user)
    before = _fingerprint(demo_db)
    for sql in WRITES:
        for read in (reader.df, reader.query, reader.store.query, reader.store.scalar):
            with pytest.raises(PermissionDenied, match=r"read-only|refused"):
                read(sql)
    with pytest.raises(CrmError, match="may not be modified"):  # SQLite itself refuses (no writable_schema)
        reader.query("UPDATE sqlite_master SET sql = 'x' WHERE name = 'deals'")
    assert _fingerprint(demo_db) == before


def test_a_query_inside_a_store_transaction_is_still_read_only(ws, demo_db):
    before = _fingerprint(demo_db)
    with ws.store.transaction():
        ws.store.update("contacts", 1, {"title": "Inside"})
        assert ws.query("SELECT title FROM contacts WHERE id = 1")[0]["title"] == "Inside"  # sees its own write
        assert ws.df("SELECT title FROM contacts WHERE id = 1")["title"][0] == "Inside"
        for sql in ("UPDATE deals SET amount = 0", "COMMIT TRANSACTION", "ROLLBACK TRANSACTION", "SAVEPOINT x"):
            with pytest.raises(PermissionDenied):
                ws.query(sql)
            with pytest.raises(PermissionDenied):
                ws.df(sql)
    assert ws.store.get("contacts", 1)["title"] == "Inside"
    assert _fingerprint(demo_db)[0] == before[0]


def test_export_of_sql_cannot_write(demo_db, tmp_path):
    before = _fingerprint(demo_db)
    for sql in ("UPDATE deals SET amount = 0", "DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log"):
        result = run(demo_db, "export", sql, str(tmp_path / "z.xlsx"), user="eve")
        assert result.exit_code != 0
        assert "read-only" in result.output
    assert _fingerprint(demo_db) == before


def test_statements_cached_while_writing_are_not_reused_by_reads(ws, demo_db):
    """SQLite authorizes at prepare time: a write prepared by the Store must not be replayable."""
    ws.store.update("contacts", 1, {"title": "Cached"})
    before = _fingerprint(demo_db)
    with pytest.raises(PermissionDenied):
        ws.query('UPDATE [contacts] SET [title] = ?, [updated_at] = ? WHERE "id" = ?', ["x", "y", 1])
    assert ws.store.get("contacts", 1)["title"] == "Cached"
    assert _fingerprint(demo_db) == before


# ------------------------------------------------------------ the policy
@pytest.mark.parametrize("user", ["ana", "ben", "eve"])
def test_nobody_reads_password_hashes(ws, demo_db, tmp_path, user):
    ws.store.update("users", "ben", {"password_hash": permissions.hash_password("correct horse")})
    reader = ws.as_user(user)
    assert reader.df("users")["password_hash"].isna().all()
    assert reader.df("SELECT * FROM users WHERE password_hash IS NOT NULL").empty
    assert all(r["password_hash"] is None for r in reader.query("SELECT * FROM users"))
    assert reader.store.get("users", "ben")["password_hash"] is None
    assert reader.store.scalar("SELECT max(length(password_hash)) FROM users") is None
    result = run(demo_db, "export", "users", str(tmp_path / "u.xlsx"), user=user)
    assert result.exit_code == 0, result.output
    sheet = load_workbook(tmp_path / "u.xlsx").active
    assert not any(str(cell.value or "").startswith("$argon2") for row in sheet.iter_rows() for cell in row)


def test_authentication_reads_the_hash_through_its_own_method(ws, demo_db):
    ws.store.update("users", "ben", {"password_hash": permissions.hash_password("correct horse")})
    assert permissions.verify_password(ws.store.password_hash("ben"), "correct horse")
    assert ws.store.password_hash("nobody") is None
    result = run(demo_db, "users", "list", "--json")
    assert next(u for u in json.loads(result.output) if u["username"] == "ben")["login"] is True
    ws.store.update("users", "ben", {"password_hash": None})  # clearing still works: the Store sees the hash
    assert ws.store.password_hash("ben") is None


def test_audit_log_is_for_admins_only_through_every_query_path(ws, demo_db, tmp_path):
    assert len(ws.df("SELECT * FROM audit_log LIMIT 5")) == 5
    assert ws.query("SELECT count(*) AS n FROM audit_log")[0]["n"] > 0
    for user in ("ben", "eve"):
        reader = ws.as_user(user)
        for read in (reader.df, reader.query):
            with pytest.raises(PermissionDenied, match="only an admin may read the audit log"):
                read("SELECT * FROM audit_log")
            with pytest.raises(PermissionDenied, match="audit log"):
                read("SELECT count(*) FROM contacts WHERE id IN (SELECT row_id FROM audit_log)")
        with pytest.raises(PermissionDenied):
            reader.df("audit_log")
        result = run(demo_db, "export", "SELECT * FROM audit_log", str(tmp_path / "a.xlsx"), user=user)
        assert result.exit_code != 0 and "only an admin" in result.output
    assert not (tmp_path / "a.xlsx").exists()


def test_full_text_search_reads_for_every_role(ws):
    """FTS5 asks the authorizer about sqlite_master on first use in a connection."""
    for user in ("eve", "ben"):
        ws.close()  # fresh connections: the first FTS5 query of each
        hits = ws.as_user(user).search("jose")
        assert len(hits) and hits["title"].str.contains("José").any()


def test_views_and_record_pages_still_read(ws):
    """Plugin code reads through store.query: curated views keep working for every role."""
    eve = ws.as_user("eve")
    for name in eve.data_views():
        try:
            eve.df(name)
        except (CrmError, TypeError) as error:
            assert "missing" in str(error) and "argument" in str(error), error  # a view with required arguments
    assert len(eve.df("contacts", limit=3)) == 3
    assert eve.metrics()  # the adoption cards count audit rows: curated, for everyone
    assert eve.record_sections("contacts", 1)  # the record's own history


# ------------------------------------------------------------ write-path switches
def test_members_cannot_turn_off_audit_events_or_validation(ws, demo_db):
    before = _fingerprint(demo_db)
    ben = ws.as_user("ben")
    for switches in ({"audit": False}, {"events": False}, {"validate": False}):
        with pytest.raises(PermissionDenied, match="only an admin"):
            ben.store.insert_many("organizations", [{"name": "Unaudited"}], **switches)
    assert not ws.query("SELECT 1 FROM organizations WHERE name = 'Unaudited'")
    assert _fingerprint(demo_db) == before
    ws.store.insert_many("organizations", [{"name": "Admin bulk"}], audit=False)  # admins may (generators)


def test_a_member_may_skip_validation_only_with_the_validators_token(ws):
    ben = ws.as_user("ben")
    check = ben.store.validator("organizations")
    record = {"name": "Checked"}
    assert check(record, None) == {}
    ben.store.insert_many("organizations", [record], validate=False, validated=check)
    other = ws.store.validator("organizations")  # another Store's token proves nothing
    with pytest.raises(PermissionDenied):
        ben.store.insert_many("organizations", [{"name": "X"}], validate=False, validated=other)
    with pytest.raises(PermissionDenied):
        ben.store.insert_many("contacts", [{"last_name": "X"}], validate=False, validated=check)


def test_updates_are_checked_once_when_the_validator_vouches_for_them(ws, monkeypatch):
    """The importer's updates, validated while planning, are not validated again as they are written."""
    ben = ws.as_user("ben")
    org = ben.store.insert("organizations", {"name": "Vouched"})
    check = ben.store.validator("organizations")
    changes = {"name": "  Vouched Ltd  "}
    assert check(changes, org) == {} and changes == {"name": "Vouched Ltd"}
    calls = []
    real = ben.store.validator
    monkeypatch.setattr(ben.store, "validator", lambda table: calls.append(table) or real(table))
    ben.store.update_many("organizations", [(org["id"], changes, None)], validated=check)
    assert calls == [] and ben.store.get("organizations", org["id"])["name"] == "Vouched Ltd"
    other = ws.store.validator("organizations")  # another Store's token proves nothing: checked as usual
    with pytest.raises(ValidationError):
        ben.store.update_many("organizations", [(org["id"], {"name": ""}, None)], validated=other)
    assert calls == ["organizations"]


def test_a_member_imports_a_spreadsheet(demo_db, tmp_path):
    """The importer validates while planning and hands the validator back: members may import."""
    sheet = tmp_path / "in.csv"
    sheet.write_text("first_name,last_name,email\nZed,Zulu,zed@example.org\n", encoding="utf-8")
    result = run(demo_db, "import", str(sheet), user="ben")
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(demo_db)
    try:
        assert conn.execute("SELECT updated_by FROM contacts WHERE email = 'zed@example.org'").fetchone() == ("ben",)
        assert conn.execute("SELECT count(*) FROM audit_log WHERE user = 'ben' AND table_name = 'contacts'").fetchone()[
            0
        ]
    finally:
        conn.close()


def test_a_member_moving_a_contact_still_records_its_lifecycle_event(ws):
    """Hooks of an audited write may write derived rows with the switches off."""
    ben = ws.as_user("ben")
    contact = ben.store.get("contacts", 1)
    stages = ben.lifecycle_stages()
    target = next(s for s in stages if s != contact["lifecycle_stage"])
    events = ws.store.scalar("SELECT count(*) FROM lifecycle_events WHERE contact_id = 1")
    ben.store.update("contacts", 1, {"lifecycle_stage": target})
    assert ws.store.scalar("SELECT count(*) FROM lifecycle_events WHERE contact_id = 1") == events + 1


def test_a_read_error_is_one_line(ws):
    with pytest.raises(CrmError) as error:
        ws.as_user("eve").query("DELETE FROM contacts")
    assert "\n" not in str(error.value)
