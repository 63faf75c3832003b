"""After `crm privacy erase EMAIL` nothing of the person is left in the database's bytes.

The person has everything a real one accumulates: tags, custom fields from an
import, a duplicate merged into her (with its own private email and phone), a
note, and a mention of her email (in upper case) in another contact's activity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from crm_workspace import Workspace
from crm_workspace.services import privacy

CRM = str(Path(sys.executable).with_name("crm"))
EMAIL = "zelda.quist@example.org"
DUPLICATE_EMAIL = "zq.private@example.com"
PHONE = "+447700900555"
NOTE = "prefers calls after the vernal equinox"
TWITTER = "@zeldaquistx"


def crm(db: Path, *args: str) -> str:
    result = subprocess.run(
        [CRM, "--db", str(db), "--user", "ana", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def build_person(db: Path, tmp_path: Path) -> int:
    ws = Workspace.open(db, user="ana")
    try:
        store = ws.store
        org = store.scalar("SELECT id FROM organizations ORDER BY id LIMIT 1")
        person = store.insert(
            "contacts",
            {"first_name": "Zelda", "last_name": "Quist", "email": EMAIL, "organization_id": org, "notes": NOTE},
        )
        duplicate = store.insert(
            "contacts", {"first_name": "Zelda", "last_name": "Quist", "email": DUPLICATE_EMAIL, "phone": PHONE}
        )
        for tag in ("vip", "zq-circle"):
            store.insert("contact_tags", {"contact_id": person["id"], "tag": tag})
        store.insert("contact_tags", {"contact_id": duplicate["id"], "tag": "newsletter"})
        store.insert("activities", {"kind": "note", "subject": "Call", "body": NOTE, "contact_id": person["id"]})
        other = store.scalar(
            "SELECT id FROM contacts WHERE id NOT IN (?, ?) ORDER BY id LIMIT 1", [person["id"], duplicate["id"]]
        )
        store.insert(
            "activities",
            {
                "kind": "email",
                "subject": "Intro",
                "body": f"Forwarded to {EMAIL.upper()} yesterday",
                "contact_id": other,
            },
        )
        from crm_workspace_contacts.merge import merge_contacts

        merge_contacts(ws, person["id"], duplicate["id"], {"phone": "loser"})
    finally:
        ws.close()
    sheet = tmp_path / "people.csv"
    sheet.write_text(f"First Name,Last Name,Email,Twitter\nZelda,Quist,{EMAIL},{TWITTER}\n", encoding="utf-8")
    crm(db, "import", str(sheet), "--entity", "contacts", "--map", "Twitter=custom")
    return person["id"]


def file_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file() and "before" not in p.name)


def test_erase_leaves_nothing_in_the_file_and_the_export_has_everything(demo_db: Path, tmp_path: Path):
    cid = build_person(demo_db, tmp_path)
    crm(demo_db, "backup", str(demo_db.with_name("crm-backup.db")))

    crm(demo_db, "privacy", "export", EMAIL, "--out", str(tmp_path / "export"))
    exported = json.loads((tmp_path / "export" / f"privacy-export-contact-{cid}.json").read_text())
    assert {row["tag"] for row in exported["contact_tags"]} == {"vip", "zq-circle", "newsletter"}
    assert [row["value"] for row in exported["excel_custom_fields"]] == [TWITTER]
    assert DUPLICATE_EMAIL in json.dumps(exported["merge_log"])

    ws = Workspace.open(demo_db, user="ana")  # a server or a notebook holds the file open meanwhile
    try:
        receipt_path = privacy.erase(ws, EMAIL, tmp_path / "receipts")
        raw = file_bytes(demo_db).lower()  # the database file and its WAL, while still open
    finally:
        ws.close()
    for secret in (EMAIL, DUPLICATE_EMAIL, "zelda", "quist", PHONE, NOTE, TWITTER, "zq-circle"):
        assert secret.lower().encode() not in raw, secret
    raw = file_bytes(demo_db).lower()
    assert b"zelda" not in raw and EMAIL.encode() not in raw

    receipt = json.loads(receipt_path.read_text())
    assert receipt["tables"]["contact_tags"]["rows_deleted"] == 3
    assert receipt["tables"]["excel_custom_fields"]["rows_deleted"] == 1
    assert receipt["tables"]["merge_log"]["rows_changed"] == 1
    assert "lifecycle_events" not in receipt["tables"]  # nothing changed there: not claimed
    assert all(count > 0 for count in receipt["mentions_scrubbed"].values())
    assert receipt["mentions_scrubbed"].get("activities.body") == 1
    backups = {Path(b["file"]).name for b in receipt["backups_still_holding_the_person"]}
    assert "crm-backup.db" in backups


def test_the_cli_erase_warns_of_backups_and_leaves_nothing(demo_db: Path, tmp_path: Path):
    build_person(demo_db, tmp_path)
    kept = demo_db.with_name(f"{demo_db.name}.before-restore-20261130T000000Z")
    crm(demo_db, "backup", str(kept))
    out = crm(demo_db, "privacy", "erase", EMAIL.upper(), "--yes", "--receipt-dir", str(tmp_path / "receipts"))
    assert f"the backup {kept}" in out
    raw = file_bytes(demo_db).lower()
    for secret in (EMAIL, DUPLICATE_EMAIL, "zelda", "quist", PHONE, NOTE, TWITTER):
        assert secret.lower().encode() not in raw, secret
