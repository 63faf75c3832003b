"""A third-party plugin's personal data is covered by `crm privacy export` and `erase`.

The plugin is installed the way pip would (a module and its ``dist-info`` with
an entry point, on the ``crm`` process's path), keeps its own table and says
what in it is personal through ``crm_personal_data``; nothing in the core names
it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import install_plugin

from crm_workspace import PersonalData
from crm_workspace.testing import make_workspace

CRM = str(Path(sys.executable).with_name("crm"))
COMMENT = "call me at +44 7700 900123"

NPS_PLUGIN = '''
"""Net promoter score answers: a third-party plugin with personal data."""

import sqlite_utils

from crm_workspace import PersonalData, hookimpl

migrations = sqlite_utils.Migrations("nps")


@migrations()
def m001_answers(db):
    db["nps_answers"].create(
        {"id": int, "contact_id": int, "score": int, "comment": str},
        pk="id",
        foreign_keys=[("contact_id", "contacts", "id")],
    )


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_personal_data(workspace):
    return [PersonalData("nps_answers", "contact_id", ("comment",))]
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory holding the NPS plugin as pip would install it."""
    return install_plugin(tmp_path / "site", "nps_plugin", NPS_PLUGIN, {"nps": "nps_plugin"})


def crm(
    site: Path, db: Path, *args: str, python: str | None = None, env: dict | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), environ.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, "-c", python] if python else [CRM, "--db", str(db), "--user", "ana", *args]
    result = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def demo_contact(site: Path, db: Path, contacts: int) -> tuple[int, str]:
    """A demo workspace made with the plugin installed; the id and email of its first contact with one."""
    crm(site, db, "init", "--demo", "--contacts", str(contacts))
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, email FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 1").fetchone()


def test_a_plugins_personal_data_is_exported_and_erased_through_the_cli(site: Path, tmp_path: Path):
    db = tmp_path / "crm.db"
    cid, email = demo_contact(site, db, 40)
    insert = textwrap.dedent(f"""
        from crm_workspace import Workspace
        ws = Workspace.open({str(db)!r}, user="ana")
        ws.store.insert("nps_answers", {{"contact_id": {cid}, "score": 9, "comment": {COMMENT!r}}})
        ws.close()
    """)
    crm(site, db, python=insert)  # through the Store: the audit trail holds the comment too

    crm(site, db, "privacy", "export", email, "--out", str(tmp_path / "export"))
    exported = json.loads((tmp_path / "export" / f"privacy-export-contact-{cid}.json").read_text())
    assert [row["comment"] for row in exported["nps_answers"]] == [COMMENT]
    assert any(e["table_name"] == "nps_answers" for e in exported["audit_entries"])

    crm(site, db, "privacy", "erase", email, "--yes", "--receipt-dir", str(tmp_path / "receipts"))
    receipt = json.loads(next((tmp_path / "receipts").glob("*.json")).read_text())
    assert receipt["tables"]["nps_answers"]["fields_erased"] == ["comment"]
    assert len(receipt["tables"]["nps_answers"]["rows"]) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT score, comment FROM nps_answers").fetchall() == [(9, "[erased]")]
        assert not conn.execute("SELECT 1 FROM audit_log WHERE changes LIKE '%900123%'").fetchall()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("crm.db*") if p.is_file())
    assert b"7700 900123" not in raw  # not even in free pages or the WAL


def test_every_built_in_declares_its_personal_data(tmp_path: Path):
    from crm_workspace.services.privacy import declarations

    ws = make_workspace(tmp_path / "crm.db")
    try:
        declared = declarations(ws)
        assert all(isinstance(d, PersonalData) for d in declared)
        tables = {d.table for d in declared}
        assert {"contacts", "activities", "deals", "relationships", "lifecycle_events"} <= tables
        assert {"contact_tags", "merge_log", "excel_custom_fields"} <= tables
        assert {"ticket_attachments", "ticket_attachment_blobs"} <= tables  # reached through a join
        for item in declared:  # every declared column exists; rows chosen by a column, a condition or both
            assert item.contact_column or ":contact" in item.where, item
            assert {item.contact_column, *item.fields} - {""} <= set(ws.store.columns(item.table)), item
    finally:
        ws.close()


@pytest.fixture
def nps_db(site: Path, tmp_path: Path) -> tuple[Path, int, str]:
    """A small demo with the NPS plugin installed and one answer of a contact's: (db, contact id, email)."""
    db = tmp_path / "crm.db"
    cid, email = demo_contact(site, db, 20)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO nps_answers (contact_id, score, comment) VALUES (?, 3, ?)", [cid, COMMENT])
    return db, cid, email


@pytest.mark.parametrize("how", ["disabled", "left out by CRM_PLUGINS"])
def test_a_plugin_that_is_not_running_still_has_its_personal_data_exported_and_erased(site, nps_db, tmp_path, how):
    """Its table stays: an export and an erasure still ask it what is personal."""
    db, cid, email = nps_db
    env = {}
    if how == "disabled":
        crm(site, db, "plugins", "disable", "nps")
    else:
        env["CRM_PLUGINS"] = "contacts,organizations"
    crm(site, db, "privacy", "export", email, "--out", str(tmp_path / "export"), env=env)
    exported = json.loads((tmp_path / "export" / f"privacy-export-contact-{cid}.json").read_text())
    assert [row["comment"] for row in exported["nps_answers"]] == [COMMENT]
    crm(site, db, "privacy", "erase", email, "--yes", "--receipt-dir", str(tmp_path / "receipts"), env=env)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT score, comment FROM nps_answers").fetchall() == [(3, "[erased]")]


def test_an_erasure_stops_when_a_plugin_with_tables_cannot_say_what_it_keeps(site, nps_db):
    db, _cid, email = nps_db
    crm(site, db, "plugins", "disable", "nps")
    (site / "nps_plugin.py").write_text("raise ImportError('broken by an upgrade')\n")
    result = crm(site, db, "privacy", "erase", email, "--yes", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "plugin 'nps' is installed but not running" in result.stderr and "broken by an upgrade" in result.stderr
    with sqlite3.connect(db) as conn:  # nothing erased: the person is still there, whole
        assert conn.execute("SELECT 1 FROM contacts WHERE email = ?", [email]).fetchone()
