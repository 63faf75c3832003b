"""Roles enforced in the Store, users/audit/privacy/backup CLI, consent, erasure."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_workspace import Workspace
from crm_workspace.cli import cli
from crm_workspace.data import permissions
from crm_workspace.errors import CrmError, PermissionDenied, ValidationError

CRM = str(Path(sys.executable).with_name("crm"))


def run(db: Path, *args: str, user: str = "ana", input: str | None = None):
    return CliRunner().invoke(cli, ["--db", str(db), "--user", user, *args], input=input, catch_exceptions=False)


@pytest.fixture
def ws(demo_db: Path):
    workspace = Workspace.open(demo_db, user="ana", builtins_only=True)
    yield workspace
    workspace.close()


# ------------------------------------------------------------------ roles
def test_viewer_is_refused_every_write_through_the_workspace_api(ws):
    eve = ws.as_user("eve")  # a viewer in the demo
    contact = eve.store.get("contacts", 1)
    with pytest.raises(PermissionDenied, match="viewer"):
        eve.store.update("contacts", 1, {"title": "Hacked"}, version=contact["version"])
    with pytest.raises(PermissionDenied):
        eve.store.insert("organizations", {"name": "Evil Corp"})
    with pytest.raises(PermissionDenied):
        eve.store.delete("activities", 1)
    with pytest.raises(PermissionDenied):
        eve.set_setting("anything", 1)
    assert ws.store.get("contacts", 1)["title"] == contact["title"]
    assert not ws.store.query("SELECT 1 FROM organizations WHERE name = 'Evil Corp'")


def test_member_edits_records_but_not_users_or_security_settings(ws):
    ben = ws.as_user("ben")
    ben.store.update("contacts", 1, {"title": "CTO"})
    assert ben.store.get("contacts", 1)["updated_by"] == "ben"
    with pytest.raises(PermissionDenied, match="admin"):
        ben.store.update("users", "chloe", {"role": "admin"})
    with pytest.raises(PermissionDenied):
        ben.set_setting("members_edit_all", False)
    ben.set_setting("currency", "usd")  # a setting declared for members (display only) is fine
    assert ben.setting("currency") == "USD"
    ben.store.update("users", "ben", {"display_name": "Benjamin"})  # own account


def test_ownership_enforced_when_members_edit_all_is_off(ws):
    ws.set_setting("members_edit_all", False)
    ben = ws.as_user("ben")
    theirs = ws.store.query("SELECT id FROM deals WHERE owner != 'ben' LIMIT 1")[0]["id"]
    mine = ws.store.query("SELECT id FROM deals WHERE owner = 'ben' LIMIT 1")[0]["id"]
    with pytest.raises(PermissionDenied, match="belongs to"):
        ben.store.update("deals", theirs, {"amount": 1})
    ben.store.update("deals", mine, {"amount": 1})
    ws.store.update("deals", theirs, {"amount": 2})  # admins edit everything


def test_unknown_removed_and_disabled_users_have_no_rights(ws):
    stranger = ws.as_user("mallory")  # never added: no rights once the workspace has users
    with pytest.raises(PermissionDenied, match="not a user"):
        stranger.store.update("contacts", 2, {"title": "Refused"})
    assert not permissions.has_access(stranger) and not permissions.is_admin(stranger)
    ben = ws.as_user("ben")
    ben.store.update("contacts", 2, {"title": "Fine"})
    ws.store.delete("users", "ben")  # removed: the deleted name is an unknown user, refused at once
    with pytest.raises(PermissionDenied, match="not a user"):
        ben.store.update("contacts", 2, {"title": "Removed"})
    ws.store.update("users", "dev", {"active": 0})
    dev = ws.as_user("dev")
    with pytest.raises(PermissionDenied, match="disabled"):
        dev.store.update("contacts", 2, {"title": "Inactive"})
    with pytest.raises(PermissionDenied):
        dev.store.update("users", "dev", {"display_name": "Still me"})  # not even their own account
    assert ws.store.get("contacts", 2)["title"] == "Fine"


def test_passwords_are_argon2_hashes_and_never_in_the_audit_trail(demo_db):
    result = run(demo_db, "users", "passwd", "ben", "--password-stdin", input="correct horse\n")
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(demo_db)
    stored = conn.execute("SELECT password_hash FROM users WHERE username = 'ben'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert permissions.verify_password(stored, "correct horse")
    assert not permissions.verify_password(stored, "wrong horse")
    audit = " ".join(r[0] for r in conn.execute("SELECT changes FROM audit_log WHERE table_name = 'users'"))
    assert "argon2" not in audit and "<redacted>" in audit
    with pytest.raises(CrmError, match="8 characters"):
        permissions.hash_password("short")


# -------------------------------------------------------------------- CLI
def test_users_commands(demo_db):
    assert run(demo_db, "users", "set-role", "tester", "member").exit_code == 0  # the demo's builder, an admin too
    assert run(demo_db, "users", "add", "zoe", "--role", "viewer", "--no-password").exit_code == 0
    assert "zoe" in run(demo_db, "users", "list").output
    assert run(demo_db, "users", "set-role", "zoe", "member").exit_code == 0
    listing = run(demo_db, "users", "list").output
    assert any(line.startswith("zoe") and "member" in line for line in listing.splitlines())
    refused = run(demo_db, "users", "set-role", "ana", "viewer")
    assert refused.exit_code != 0 and "last admin" in refused.output
    assert run(demo_db, "users", "remove", "zoe").exit_code == 0
    assert "zoe" not in run(demo_db, "users", "list").output


def test_viewer_refused_through_the_cli(demo_db):
    result = subprocess.run(
        [CRM, "--db", str(demo_db), "--user", "eve", "users", "add", "mallory", "--no-password"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "viewer" in result.stderr and "Traceback" not in result.stderr
    assert not sqlite3.connect(demo_db).execute("SELECT 1 FROM users WHERE username = 'mallory'").fetchall()
    audit = run(demo_db, "audit", user="eve")
    assert audit.exit_code != 0 and "only an admin" in audit.output


def test_audit_command_filters(demo_db, ws):
    ws.as_user("ben").store.update("contacts", 5, {"title": "Head of Audit"})
    result = run(demo_db, "audit", "--record", "contacts:5")
    assert result.exit_code == 0
    assert "ben" in result.output and "Head of Audit" in result.output and "update" in result.output
    by_user = run(demo_db, "audit", "--user", "ben", "--since", "2000-01-01", "--json")
    rows = json.loads(by_user.stdout)
    assert rows and all(r["user"] == "ben" for r in rows)
    assert all(isinstance(r["changes"], dict) for r in rows)  # an object, not JSON text inside JSON


# ---------------------------------------------------------------- privacy
def test_consent_is_validated_and_stamped(ws):
    row = ws.store.update("contacts", 3, {"marketing_consent": "yes", "consent_source": "web form"})
    assert row["marketing_consent"] == 1 and row["consent_at"]
    with pytest.raises(ValidationError, match="marketing_consent"):
        ws.store.update("contacts", 3, {"marketing_consent": "maybe"})
    with pytest.raises(ValidationError, match="consent_at"):
        ws.store.update("contacts", 3, {"consent_at": "yesterday"})


def test_privacy_export_and_erase(demo_db, ws, tmp_path):
    contact = ws.store.query(
        "SELECT c.* FROM contacts c WHERE email IS NOT NULL AND EXISTS"
        " (SELECT 1 FROM activities a WHERE a.contact_id = c.id) LIMIT 1"
    )[0]
    email = contact["email"]
    ws.store.update(
        "contacts", contact["id"], {"notes": f'=HYPERLINK("http://evil.example","{contact["first_name"]}")'}
    )
    activities_before = ws.store.scalar("SELECT count(*) FROM activities")
    assert run(demo_db, "privacy", "export", email, "--out", str(tmp_path / "export")).exit_code == 0
    exported = json.loads((tmp_path / "export" / f"privacy-export-contact-{contact['id']}.json").read_text())
    assert exported["contact"][0]["email"] == email
    assert exported["activities"] and exported["audit_entries"]
    from openpyxl import load_workbook

    book = load_workbook(tmp_path / "export" / f"privacy-export-contact-{contact['id']}.xlsx")
    assert {"contact", "activities", "audit_entries", "lifecycle_history"} <= set(book.sheetnames)
    sheet = book["contact"]
    header = [c.value for c in sheet[1]]
    notes = sheet.cell(row=2, column=header.index("notes") + 1)
    assert notes.value.startswith("=HYPERLINK") and notes.data_type == "s"  # text, never a live formula
    formula_like = [c for row in book["audit_entries"].iter_rows() for c in row if str(c.value).startswith("=")]
    assert all(c.data_type == "s" for c in formula_like)

    result = run(demo_db, "privacy", "erase", email, "--yes", "--receipt-dir", str(tmp_path / "receipts"))
    assert result.exit_code == 0, result.output
    receipt = json.loads(next((tmp_path / "receipts").glob("*.json")).read_text())
    assert receipt["contact_id"] == contact["id"] and "email" in receipt["fields_cleared"]
    assert email not in json.dumps(receipt)
    conn = sqlite3.connect(demo_db)
    dump = "\n".join(conn.iterdump())
    assert email not in dump and email.lower() not in dump.lower()
    raw = b"".join(p.read_bytes() for p in demo_db.parent.glob("crm.db*") if p.is_file())
    assert email.encode() not in raw  # not even in free pages or the WAL
    assert (
        contact["last_name"]
        not in conn.execute("SELECT last_name FROM contacts WHERE id = ?", [contact["id"]]).fetchone()[0]
    )
    assert conn.execute("SELECT count(*) FROM activities").fetchone()[0] == activities_before  # aggregates kept
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {"audit_log_no_update", "audit_log_no_delete"} <= triggers
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")


# ---------------------------------------------------------------- backups
def test_backup_and_restore(demo_db, tmp_path):
    backup = tmp_path / "backup.db"
    assert run(demo_db, "backup", str(backup)).exit_code == 0
    ws = Workspace.open(demo_db, user="ana", builtins_only=True)
    ws.store.update("contacts", 1, {"title": "After backup"})
    ws.close()
    not_a_workspace = tmp_path / "other.db"
    sqlite3.connect(not_a_workspace).execute("CREATE TABLE t (x)")
    refused = run(demo_db, "restore", "--yes", str(not_a_workspace))
    assert refused.exit_code != 0 and "not a crm-workspace database" in refused.output
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    assert run(demo_db, "restore", "--yes", str(text_file)).exit_code != 0
    result = run(demo_db, "restore", "--yes", str(backup))
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(demo_db)
    assert conn.execute("SELECT title FROM contacts WHERE id = 1").fetchone()[0] != "After backup"
    kept = list(tmp_path.glob("crm.db.before-restore-*"))
    assert len(kept) == 1
    assert sqlite3.connect(kept[0]).execute("SELECT title FROM contacts WHERE id = 1").fetchone()[0] == "After backup"


def test_audit_page_is_listed_for_admins_only_and_filters_in_sql(ws):
    from crm_workspace.errors import NotFound
    from crm_workspace.testing import page_text
    from crm_workspace.web.audit_view import AuditModel, AuditPage

    assert "audit" in ws.app().nav.options.values()  # the app's own page, beside the plugins'
    assert "Every change: who, when, before and after" in page_text(ws.dashboard("audit"))
    ws.page = "audit"  # as ?page=audit asks
    assert ws.app().nav.value == "audit"
    ws.page = "home"
    for user in ("eve", "ben"):
        assert "audit" not in ws.as_user(user).app().nav.options.values()
        with pytest.raises(NotFound):
            ws.as_user(user).dashboard("audit")

    ws.as_user("chloe").store.update("contacts", 7, {"title": "Audited"})
    model = AuditModel(workspace=ws, user="chloe", table="contacts", record_id="7")
    assert model.total() == 1
    frame = model.rows()
    assert list(frame["record"]) == ["contacts:7"] and "Audited" in frame["change"][0]
    refusal = AuditPage(workspace=ws.as_user("eve")).__panel__()
    assert "Only admins" in refusal.object


def test_only_admins_enable_or_disable_plugins(ws):
    with pytest.raises(PermissionDenied, match="admin"):
        ws.as_user("ben").disable("excel")
    ws.disable("excel")
    ws.enable("excel")


def test_marketing_audience_respects_consent(ws):
    # two contacts never asked (the marketing demo gives and withdraws consent for others)
    asked, refused = (r["id"] for r in ws.query("SELECT id FROM contacts WHERE marketing_consent IS NULL LIMIT 2"))
    ws.store.update("contacts", asked, {"marketing_consent": True, "consent_source": "newsletter form"})
    ws.store.update("contacts", refused, {"marketing_consent": False})
    audience = ws.df("privacy.marketing_audience")
    assert asked in set(audience["id"]) and refused not in set(audience["id"])
    assert audience.loc[audience["id"] == asked, "consent_source"].item() == "newsletter form"


# ------------------------------------------- default deny, sessions, login (issue 16, item 3)
def test_setup_mode_lasts_until_the_first_user_who_must_be_an_admin(tmp_path):
    db = tmp_path / "fresh.db"
    fresh = Workspace.open(db, user="tester", builtins_only=True)
    assert permissions.is_admin(fresh)  # no users yet: setup mode, the local user may do everything
    fresh.store.insert("organizations", {"name": "Setup Ltd"})
    refused = run(db, "users", "add", "zoe", "--role", "viewer", "--no-password", user="tester")
    assert refused.exit_code != 0 and "first user must be an admin" in refused.output
    assert run(db, "users", "add", "ana", "--role", "admin", "--no-password", user="tester").exit_code == 0
    with pytest.raises(PermissionDenied, match="not a user"):  # setup mode ended: tester is nobody now
        fresh.store.insert("organizations", {"name": "Too late Ltd"})
    fresh.as_user("ana").store.insert("organizations", {"name": "Ana's Ltd"})
    removed = run(db, "users", "remove", "ana", user="ana")
    assert removed.exit_code != 0 and "last admin" in removed.output  # no way back to setup mode by accident
    fresh.close()


def test_crm_init_and_the_demo_make_the_acting_user_the_first_admin(tmp_path):
    plain, demo = tmp_path / "plain.db", tmp_path / "demo.db"
    assert run(plain, "init", user="olga").exit_code == 0
    assert run(demo, "init", "--demo", "--contacts", "30", user="olga").exit_code == 0
    for db in (plain, demo):
        rows = sqlite3.connect(db).execute("SELECT role, active FROM users WHERE username = 'olga'").fetchall()
        assert rows == [("admin", 1)], db
    assert run(plain, "users", "add", "ben", "--no-password", user="olga").exit_code == 0
    assert run(plain, "users", "add", "mallory", "--no-password", user="stranger").exit_code != 0


@pytest.mark.parametrize("name", ["", " ", "two words", "tab\there", "bell\x07", "new\nline", "x" * 65])
def test_users_add_refuses_empty_and_blank_names_in_one_line(demo_db, name):
    result = run(demo_db, "users", "add", name, "--no-password")
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "username" in lines[0] and "Traceback" not in result.output
    assert sqlite3.connect(demo_db).execute("SELECT count(*) FROM users WHERE username = ?", [name]).fetchone()[0] == 0


def test_role_lookups_are_cached_but_never_stale(ws):
    ben = ws.as_user("ben")
    first = permissions.permissions(ben)
    assert permissions.permissions(ben) is first  # no commit since: no query
    conn = sqlite3.connect(ws.path)  # another connection, as another process would
    conn.execute("UPDATE users SET role = 'viewer' WHERE username = 'ben'")
    conn.commit()
    conn.close()
    with pytest.raises(PermissionDenied, match="viewer"):
        ben.store.update("contacts", 3, {"title": "Demoted"})


def test_a_session_loses_access_within_a_tick_when_its_user_is_removed_or_demoted(ws):
    from crm_workspace.testing import page_text
    from crm_workspace.web.app import App
    from crm_workspace.web.session import SessionGuard

    chloe = ws.as_user("chloe")
    ws.store.update("users", "chloe", {"role": "admin"})
    guard = SessionGuard(chloe, token=None, logged_in=False)
    app = App(workspace=chloe)
    guard.listeners.append(app.apply_access)
    assert guard.state == "admin" and "audit" in app.nav.options.values()
    ws.store.update("users", "chloe", {"role": "member"})
    guard.tick()
    assert guard.state == "member" and "audit" not in app.nav.options.values()  # demoted: pages rebuilt
    assert "Contacts" in app.nav.options  # the menu's labels as before, not icon names ("users Contacts")
    ws.store.delete("users", "chloe")
    guard.tick()
    assert guard.state is None
    assert "No access" in page_text(app.main) and not app.nav.visible
    ws.store.insert("users", {"username": "chloe", "role": "admin"})
    guard.tick()
    assert guard.state is None  # lost for good: a new page load (and login) is needed


def test_a_session_whose_page_is_not_drawn_yet_loses_access_but_is_not_refreshed(ws, monkeypatch):
    """Before the browser reports the page drawn, a tick checks access but refreshes nothing."""
    from crm_workspace.web.session import SessionGuard

    chloe = ws.as_user("chloe")
    guard = SessionGuard(chloe, token=None, logged_in=False)
    polls, heard = [], []
    monkeypatch.setattr(chloe, "poll", lambda: polls.append(1))
    guard.listeners.append(heard.append)
    guard.tick()
    assert polls == [] and guard.state is not None
    ws.store.delete("users", "chloe")
    guard.tick()  # a client that never reports the page drawn keeps no revoked rights
    assert guard.state is None and heard == [None] and polls == []
    guard.page_drawn()  # the loss is shown once the browser can receive it
    assert heard == [None, None]


def test_an_open_anonymous_session_loses_access_when_a_login_becomes_required(ws):
    from crm_workspace.web.session import SessionGuard

    guard = SessionGuard(ws, token=None, logged_in=False)
    assert guard.state == "admin"
    ws.store.update("users", "ben", {"password_hash": permissions.hash_password("ben-secret-1")})
    guard.tick()
    assert guard.state is None


def test_lockout_counts_each_username_and_each_address(demo_db):
    from crm_workspace.web import auth

    Workspace.open(demo_db, user="ana", builtins_only=True).close()  # migrated
    db = str(demo_db)
    waits = [auth.reserve_attempt(db, "ben", "10.0.0.1") for _ in range(8)]
    assert waits[:5] == [0] * 5 and all(w > 0 for w in waits[5:])  # the 5th failure locks the name
    assert auth.reserve_attempt(db, "ben", "10.0.0.2") > 0  # from any address
    waits = [auth.reserve_attempt(db, f"user{i}", "10.0.0.3") for i in range(auth.ADDRESS_LOCK_AFTER_FAILURES + 3)]
    assert waits[-1] > 0  # many names from one address: the address is locked
    assert auth.reserve_attempt(db, "chloe", "10.0.0.4") == 0
    auth.login_succeeded(db, "chloe", "10.0.0.4")
    chloe_key = auth.failure_keys("chloe", "10.0.0.4")[0]
    assert sqlite3.connect(demo_db).execute("SELECT 1 FROM login_failures WHERE key = ?", [chloe_key]).fetchall() == []
    stored = " ".join(r[0] for r in sqlite3.connect(demo_db).execute("SELECT key FROM login_failures"))
    assert "ben" not in stored and "10.0.0" not in stored  # a mistyped name may be a password: hashed
