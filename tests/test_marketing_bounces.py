"""Delivery reports read from a real Maildir: 5.x.x hard, 4.x.x soft (suppressed when repeated), unsubscribe replies."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest
from crm_workspace_marketing import bounces, campaigns, sending
from marketing_helpers import audience, campaign

from crm_workspace import Workspace
from crm_workspace.testing import configure_smtp


@pytest.fixture
def ws(demo_db):
    workspace = Workspace.open(demo_db, user="ana")
    yield workspace
    workspace.close()


def report(recipient: str, status: str, action: str = "failed", message_id: str | None = None) -> EmailMessage:
    """A delivery status notification (RFC 3464) as an MTA sends one."""
    dsn = EmailMessage()
    dsn["From"] = "MAILER-DAEMON@mx.example.com"
    dsn["To"] = "crm@localhost"
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn.set_content("This is the mail system: your message could not be delivered.")
    status_part = EmailMessage()
    status_part.set_type("message/delivery-status")
    dsn.make_mixed()
    raw = (
        "Reporting-MTA: dns; mx.example.com\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; {status.replace('.', '')[:3]} mailbox problem\n"
    )
    from email import message_from_string, policy

    text = dsn.as_string()
    boundary = dsn.get_boundary()
    original = f"Message-ID: {message_id}\nSubject: News\n\n" if message_id else "Subject: News\n\n"
    text = text.replace(
        f"--{boundary}--",
        f"--{boundary}\nContent-Type: message/delivery-status\n\n{raw}\n"
        f"--{boundary}\nContent-Type: text/rfc822-headers\n\n{original}\n--{boundary}--",
    )
    text = text.replace("multipart/mixed", 'multipart/report; report-type="delivery-status"')
    return message_from_string(text, _class=EmailMessage, policy=policy.default)


def test_reports_in_a_maildir_bounce_hard_and_soft(ws, smtpd, tmp_path):
    configure_smtp(ws, smtpd.port)
    people = audience(ws, 9, "dsn")
    hard, soft, fine = (ws.store.get("contacts", i)["email"] for i in people["given"])
    campaign(ws, "Reports", "dsn")
    sending.send(ws, "Reports")
    sent_id = ws.query("SELECT message_id FROM mail_outbox WHERE recipient = ?", [hard])[0]["message_id"]
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    box.add(report(hard, "5.1.1", message_id=sent_id).as_bytes())
    box.add(report(soft, "4.2.2", action="delayed").as_bytes())
    box.add(report(fine, "2.0.0", action="delivered").as_bytes())
    reply = EmailMessage()
    reply["From"] = fine
    reply["Subject"] = "unsubscribe"
    reply.set_content("please")
    box.add(reply.as_bytes())
    colleague = EmailMessage()
    colleague["From"] = "boss@example.com"
    colleague["Subject"] = "lunch?"
    colleague.set_content("12:30")
    box.add(colleague.as_bytes())

    counts = bounces.process_mailbox(ws, str(tmp_path / "bounces"))
    assert counts == {"reports": 3, "hard": 1, "soft": 1, "unsubscribes": 1, "other": 1}
    suppressed = {r["email"]: r for r in ws.query("SELECT * FROM marketing_suppressions WHERE email LIKE 'dsn%'")}
    assert suppressed[hard]["suppressed"] == 1 and "5.1.1" in suppressed[hard]["detail"]
    assert suppressed[soft]["suppressed"] == 0 and suppressed[soft]["soft_bounces"] == 1
    hard_event = ws.query(
        "SELECT campaign_id FROM marketing_events WHERE kind = 'bounce' AND contact_id = ?", [people["given"][0]]
    )[0]
    assert hard_event["campaign_id"] == campaigns.get_campaign(ws, "Reports")["id"]
    assert ws.query("SELECT marketing_consent FROM contacts WHERE email = ?", [fine])[0]["marketing_consent"] == 0
    assert len(list(mailbox.Maildir(tmp_path / "bounces").iterkeys())) == 5  # nothing deleted
    assert bounces.process_mailbox(ws, str(tmp_path / "bounces"))["reports"] == 0  # each read once
    for _ in range(2):
        bounces.bounce(ws, soft, "soft", "452 4.2.2 mailbox full")
    assert ws.query("SELECT suppressed FROM marketing_suppressions WHERE email = ?", [soft])[0]["suppressed"] == 1


def test_classification_by_status_code():
    assert bounces.classify("5.1.1") == "hard" and bounces.classify("smtp; 550 5.7.1 blocked") == "hard"
    assert bounces.classify("4.4.7") == "soft" and bounces.classify(None, "delayed") == "soft"
    assert bounces.classify("2.0.0", "delivered") is None
