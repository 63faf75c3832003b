"""A requester's ticket attachments through `crm privacy export` and `crm privacy erase`.

The bytes live apart, by sha256, shared by equal files: erasure removes the person's attachment
rows and the blobs no other person's ticket still uses; the portal then offers nothing to download.
"""

from __future__ import annotations

import base64
import json

import openpyxl
import pytest
from click.testing import CliRunner
from crm_workspace_service import clock
from crm_workspace_service.portal import portal_link
from crm_workspace_service.tickets import add_attachment, attachment_bytes, create_ticket, post_message

from crm_workspace import Workspace
from crm_workspace.cli import cli
from crm_workspace.errors import NotFound
from crm_workspace.testing import make_workspace, route_server

KIM = "kim@customer.example"
SHARED = b"%PDF-1.4 the same terms and conditions everyone sends back"
OWN = b'=HYPERLINK("http://evil")\x00\xff kim\'s scan'


@pytest.fixture
def db(tmp_path):
    clock.set_now("2026-11-30T09:00:00Z")
    ws = make_workspace(tmp_path / "crm.db", user="ana")
    ws.close()
    yield tmp_path / "crm.db"
    clock.set_now(None)


def run(db, *args):
    result = CliRunner().invoke(cli, ["--db", str(db), "--user", "ana", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def build(db):
    ws = Workspace.open(db, user="ana")
    try:
        kim = ws.store.insert("contacts", {"first_name": "Kim", "last_name": "Lee", "email": KIM})["id"]
        lou = ws.store.insert("contacts", {"first_name": "Lou", "email": "lou@customer.example"})["id"]
        mine = create_ticket(ws, subject="Scanner jams", requester_id=kim)
        theirs = create_ticket(ws, subject="Contract", requester_id=lou)
        sent = post_message(
            ws, mine["id"], kind="inbound", body_text="See attached.", sender=KIM, author_contact_id=kim
        )
        add_attachment(ws, mine["id"], sent["id"], filename="scan.bin", data=OWN)
        add_attachment(ws, mine["id"], sent["id"], filename="terms.pdf", data=SHARED)
        post_message(ws, theirs["id"], kind="inbound", body_text="Signed.", sender="lou@customer.example")
        # kept with the ticket, not a message (NULL message id): still Lou's, so the shared bytes stay
        kept = add_attachment(ws, theirs["id"], None, filename="terms-signed.pdf", data=SHARED)
        return kim, mine["id"], kept["id"], portal_link(ws, kim)
    finally:
        ws.close()


def test_export_lists_the_attachments_and_erasure_removes_them(db, tmp_path):
    kim, ticket, kept, link = build(db)
    run(db, "privacy", "export", KIM, "--out", str(tmp_path / "out"))
    document = json.loads((tmp_path / "out" / f"privacy-export-contact-{kim}.json").read_text())
    assert {a["filename"] for a in document["ticket_attachments"]} == {"scan.bin", "terms.pdf"}
    files = {f["sha256"]: f["data"] for f in document["ticket_attachment_files"]}
    assert [base64.b64decode(d["base64"]) for d in files.values()] == [OWN]  # the shared one is Lou's too
    assert "base64" in document["binary_note"]
    book = openpyxl.load_workbook(tmp_path / "out" / f"privacy-export-contact-{kim}.xlsx")
    cells = [c.value for row in book["ticket_attachment_files"].iter_rows() for c in row]
    assert f"[{len(OWN)} bytes: in the JSON export as base64]" in cells  # never raw bytes, never a formula
    assert not any(isinstance(v, str) and v.startswith("=") for v in cells)

    out = run(db, "privacy", "erase", KIM, "--yes", "--receipt-dir", str(tmp_path))
    receipt = json.loads(next(tmp_path.glob("erasure-receipt-*.json")).read_text())
    assert "erased contact" in out and receipt["tables"]["ticket_attachments"]["rows_deleted"] == 2
    assert receipt["tables"]["ticket_attachment_blobs"]["rows_deleted"] == 1
    ws = Workspace.open(db, user="ana")
    try:
        assert ws.query("SELECT ticket_id FROM ticket_attachments") == [
            {"ticket_id": ws.query("SELECT ticket_id FROM ticket_attachments WHERE id = ?", [kept])[0]["ticket_id"]}
        ]
        assert [r["data"] for r in ws.query("SELECT data FROM ticket_attachment_blobs")] == [SHARED]
        assert attachment_bytes(ws, kept)[1] == SHARED  # Lou's file survives
        assert "scan.bin" not in json.dumps(ws.query("SELECT changes FROM audit_log"))
        path = link.split("://", 1)[1].split("/", 1)[1]
        token = path.rsplit("/", 1)[1]
        with route_server(ws) as server:
            status, _, body = server.request("GET", f"/s/p/{token}/{ticket}")
            assert status == 200 and "scan.bin" not in body.decode() and "terms.pdf" not in body.decode()
            for attachment in (1, 2):
                assert server.request("GET", f"/s/p/{token}/a/{attachment}")[0] == 404
        with pytest.raises(NotFound):
            attachment_bytes(ws, 1)
    finally:
        ws.close()
    raw = db.read_bytes() + (
        db.with_name(db.name + "-wal").read_bytes() if db.with_name(db.name + "-wal").exists() else b""
    )
    assert b"kim's scan" not in raw  # secure_delete: the bytes are zeroed, not just unlinked
