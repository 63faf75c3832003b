"""The service tick (crm tick / crm serve): escalations wait for business hours, the mailbox is polled."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest
from crm_workspace_service import clock
from crm_workspace_service.tickets import create_ticket

from crm_workspace.services.scheduler import run_ticks
from crm_workspace.testing import configure_smtp, make_workspace


@pytest.fixture
def ws(tmp_path, smtpd):
    clock.set_now("2026-12-04T13:00:00Z")  # Friday 13:00 UTC
    workspace = make_workspace(tmp_path / "crm.db", user="ana")
    configure_smtp(workspace, smtpd.port)
    for name, role in (("ana", "admin"), ("ben", "member")):
        workspace.store.insert(
            "users", {"username": name, "display_name": name.title(), "role": role, "email": f"{name}@desk.example"}
        )
    yield workspace
    workspace.close()
    clock.set_now(None)


def test_a_breach_is_escalated_once_and_never_at_midnight(ws, smtpd):
    ticket = create_ticket(ws, subject="Server down", priority="high", assignee="ben")  # 4 business hours: due 17:00
    assert ticket["sla_due_at"] == "2026-12-04T17:00:00Z"
    clock.set_now(None)
    result = run_ticks(ws, now="2026-12-05T00:00:00Z")  # Saturday midnight: past due, but nobody works
    assert [r.error for r in result if r.plugin == "service"] == [""]
    assert smtpd.messages == [] and ws.store.get("tickets", ticket["id"])["escalated_at"] is None
    run_ticks(ws, now="2026-12-07T09:05:00Z")  # Monday morning
    assert [m["To"] for m in smtpd.messages] == ["ben@desk.example"]
    assert (
        f"[#{ticket['id']}]" in smtpd.messages[0]["Subject"] and smtpd.messages[0]["Auto-Submitted"] == "auto-generated"
    )
    run_ticks(ws, now="2026-12-07T10:00:00Z")
    assert len(smtpd.messages) == 1  # once per breach


def test_reassign_instead_of_notify(ws, smtpd):
    ws.set_setting("service_escalation", "reassign:ana")
    ticket = create_ticket(ws, subject="Refund", priority="high", assignee="ben")
    clock.set_now(None)
    run_ticks(ws, now="2026-12-07T09:05:00Z")
    assert ws.store.get("tickets", ticket["id"])["assignee"] == "ana" and smtpd.messages == []


def test_the_tick_polls_the_support_mailbox(ws, smtpd, tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    message = EmailMessage()
    message["From"] = "kim@customer.example"
    message["To"] = "support@example.com"
    message["Subject"] = "Hello from the tick"
    message["Message-ID"] = "<tick@customer.example>"
    message.set_content("Is anybody there?")
    box.add(message)
    ws.set_setting("service_mailbox", f"maildir:{tmp_path / 'Maildir'}")
    clock.set_now(None)
    result = run_ticks(ws, now="2026-12-07T09:05:00Z")
    assert [r.error for r in result if r.plugin == "service"] == [""]
    assert ws.store.scalar("SELECT count(*) FROM tickets WHERE subject = 'Hello from the tick'") == 1
    assert any("Hello from the tick" in m["Subject"] for m in smtpd.messages)  # the acknowledgement
