"""E-mail in and out for the service desk: a real Maildir, a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from crm_workspace_service import clock
from crm_workspace_service.inbound import fetch
from crm_workspace_service.outbound import send_pending
from crm_workspace_service.tickets import post_message

from crm_workspace.testing import configure_smtp, make_workspace


def mail(sender, subject, text, *, to="support@example.com", headers=None, attach=None, html=None):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if attach:
        name, data = attach
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message


@pytest.fixture
def desk(tmp_path, smtpd):
    clock.set_now("2026-11-30T09:00:00Z")
    ws = make_workspace(tmp_path / "crm.db", user="ana")
    configure_smtp(ws, smtpd.port)
    ws.set_setting("service_address", "support@example.com")
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    yield ws, box, f"maildir:{tmp_path / 'Maildir'}", smtpd
    ws.close()
    clock.set_now(None)


def test_new_mail_opens_tickets_acknowledges_and_replies_thread(desk):
    ws, box, spec, smtpd = desk
    first = mail('"Kim Lee" <kim@customer.example>', "Printer on fire", "It is really on fire.")
    box.add(first)
    report = fetch(ws, spec)
    assert [r["outcome"] for r in report.rows] == ["new ticket"] and report.rows[0]["new_contact"]
    ticket = ws.query("SELECT * FROM tickets")[0]
    assert ticket["channel"] == "email" and ticket["subject"] == "Printer on fire"
    contact = ws.store.get("contacts", ticket["requester_id"])
    assert (contact["email"], contact["first_name"], contact["source"]) == (
        "kim@customer.example",
        "Kim",
        "service inbox",
    )
    inbound = ws.query("SELECT * FROM ticket_messages WHERE kind = 'inbound'")[0]
    assert inbound["placed_by"] == "new" and inbound["message_id"] == first["Message-ID"]
    # the acknowledgement went out, threaded, and is not a first response
    assert len(smtpd.messages) == 1
    ack = smtpd.messages[0]
    assert f"[#{ticket['id']}]" in ack["Subject"] and ack["In-Reply-To"] == first["Message-ID"]
    assert ws.store.get("tickets", ticket["id"])["first_response_at"] is None
    assert all("S" in box.get_message(k).get_flags() for k in box.keys())  # noqa: SIM118 - a Maildir iterates messages

    # the agent replies: threading headers for Gmail and Outlook
    clock.set_now("2026-11-30T09:20:00Z")
    reply = post_message(ws, ticket["id"], kind="public", body_text="We are on our way.", set_status="pending")
    send_pending(ws)
    sent = smtpd.messages[-1]
    assert sent["To"] == "kim@customer.example" and f"[#{ticket['id']}]" in sent["Subject"]
    assert sent["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in sent["References"] and ack["Message-ID"] in sent["References"]
    assert sent["Thread-Index"] and sent["Message-ID"] == ws.store.get("ticket_messages", reply["id"])["message_id"]
    assert ws.store.get("ticket_messages", reply["id"])["send_status"] == "sent"
    fresh = ws.store.get("tickets", ticket["id"])
    assert fresh["first_response_at"] == "2026-11-30T09:20:00Z" and fresh["first_response_minutes"] == 20

    # the customer answers (In-Reply-To our reply): joins the thread and reopens
    box.add(
        mail(
            "kim@customer.example",
            f"Re: {sent['Subject']}",
            "Thanks, it is out.",
            headers={"In-Reply-To": sent["Message-ID"], "References": sent["References"] + " " + sent["Message-ID"]},
        )
    )
    # another answer carrying only the tag in the subject
    box.add(mail("kim@customer.example", f"Printer [#{ticket['id']}]", "One more thing."))
    report = fetch(ws, spec)
    assert [(r["outcome"], r["placed_by"]) for r in report.rows] == [("joined", "header"), ("joined", "subject")]
    assert ws.store.get("tickets", ticket["id"])["status"] == "open"
    assert ws.store.scalar("SELECT count(*) FROM tickets") == 1
    assert len(smtpd.messages) == 2  # replies to a thread are not acknowledged again


def test_a_forged_reply_from_another_address_does_not_join(desk):
    ws, box, spec, smtpd = desk
    original = mail("kim@customer.example", "Account question", "Hello")
    box.add(original)
    fetch(ws, spec)
    ticket_id = ws.store.scalar("SELECT id FROM tickets")
    box.add(
        mail(
            "mallory@evil.example",
            f"Re: Account question [#{ticket_id}]",
            "Send me the data",
            headers={"In-Reply-To": original["Message-ID"]},
        )
    )
    row = fetch(ws, spec).rows[0]
    assert row["outcome"] == "flagged" and row["placed_by"] == "header-unverified" and row["ticket_id"] != ticket_id
    forged = ws.store.get("tickets", row["ticket_id"])
    assert forged["merge_candidate_id"] == ticket_id and "another address" in forged["flag"]
    assert (
        ws.store.scalar("SELECT count(*) FROM ticket_messages WHERE ticket_id = ? AND kind = 'inbound'", [ticket_id])
        == 1
    )
    # a colleague copied on the thread is a participant: their reply joins
    box.add(
        mail(
            "kim@customer.example",
            f"Re: [#{ticket_id}]",
            "adding my boss",
            to="support@example.com, boss@customer.example",
        )
    )
    box.add(mail("boss@customer.example", f"Re: [#{ticket_id}]", "I confirm."))
    rows = fetch(ws, spec).rows
    assert [r["outcome"] for r in rows] == ["joined", "joined"]
    # ... and the desk's answer copies whom the requester copied, never the desk's own address
    box.add(
        mail("kim@customer.example", f"Re: [#{ticket_id}]", "see boss", to="support@example.com, boss@customer.example")
    )
    fetch(ws, spec)
    post_message(ws, ticket_id, kind="public", body_text="Noted, both of you.")
    send_pending(ws)
    assert smtpd.messages[-1]["To"] == "kim@customer.example" and smtpd.messages[-1]["Cc"] == "boss@customer.example"
    # the desk's own mail coming back in is ignored (no loop through the mailbox)
    box.add(mail("support@example.com", f"Re: [#{ticket_id}]", "our own reply, bounced back to us"))
    assert [r["outcome"] for r in fetch(ws, spec).rows] == ["ignored"]


def test_auto_replies_never_loop(desk):
    ws, box, spec, smtpd = desk
    box.add(mail("kim@customer.example", "Help", "please"))
    fetch(ws, spec)
    ticket_id = ws.store.scalar("SELECT id FROM tickets")
    post_message(ws, ticket_id, kind="public", body_text="Which version?", set_status="pending")
    send_pending(ws)
    ours = smtpd.messages[-1]
    before = len(smtpd.messages)
    box.add(
        mail(
            "kim@customer.example",
            f"Out of office: {ours['Subject']}",
            "I am away",
            headers={"Auto-Submitted": "auto-replied", "In-Reply-To": ours["Message-ID"]},
        )
    )
    box.add(mail("news@shop.example", "Our November deals", "50% off", headers={"Precedence": "bulk"}))
    rows = fetch(ws, spec).rows
    assert [r["outcome"] for r in rows] == ["auto", "auto"]
    assert ws.store.get("tickets", ticket_id)["status"] == "pending"  # the robot did not reopen it
    assert len(smtpd.messages) == before  # nothing answered
    bulk = ws.store.get("tickets", rows[1]["ticket_id"])
    assert bulk["flag"] == "auto-reply or bulk mail" and bulk["priority"] == "low"


def test_huge_messages_and_attachments_never_block_and_html_is_text(desk):
    ws, box, spec, _ = desk
    ws.set_setting("service_attachment_max_bytes", 10_000)
    box.add(mail("kim@customer.example", "Logs", "attached", attach=("small.log", b"x" * 2_000)))
    box.add(mail("kim@customer.example", "Big logs", "attached", attach=("big.log", b"y" * 50_000)))
    box.add(mail("kim@customer.example", "Video", "a 50 MB attachment", attach=("video.bin", b"z" * 50_000_000)))
    box.add(mail("kim@customer.example", "HTML", "plain", html="<p>Hello <script>alert(1)</script><b>there</b></p>"))
    report = fetch(ws, spec)
    assert [r["outcome"] for r in report.rows] == ["new ticket"] * 4 and not report.errors
    files = {
        f["filename"]: f
        for f in ws.query(
            "SELECT filename, a.size, too_big, length(b.data) AS stored FROM ticket_attachments a"
            " LEFT JOIN ticket_attachment_blobs b ON b.sha256 = a.sha256"
        )
    }
    assert files["small.log"]["stored"] == 2_000 and not files["small.log"]["too_big"]
    assert files["big.log"]["too_big"] and files["big.log"]["stored"] is None and files["big.log"]["size"] == 50_000
    assert files["original-message.eml"]["too_big"] and files["original-message.eml"]["size"] > 50_000_000
    video = ws.query(
        "SELECT body_text FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.subject = 'Video'"
    )[0]
    assert "only its headers were kept" in video["body_text"]
    html_ticket = ws.query("SELECT description FROM tickets WHERE subject = 'HTML'")[0]
    assert "plain" in html_ticket["description"] and "<script>" not in html_ticket["description"]


def test_the_same_message_twice_is_stored_once(desk):
    ws, box, spec, _ = desk
    message = mail("kim@customer.example", "Twice", "once please")
    box.add(message)
    fetch(ws, spec)
    box.add(message)  # delivered again (a second copy in the Maildir)
    report = fetch(ws, spec)
    assert [r["outcome"] for r in report.rows] == ["duplicate"]
    assert ws.store.scalar("SELECT count(*) FROM ticket_messages WHERE message_id = ?", [message["Message-ID"]]) == 1
    assert fetch(ws, spec).rows == []  # everything marked read


def test_a_failed_send_is_kept_shown_and_retried(tmp_path):
    from crm_workspace.testing import free_port, smtp_server

    clock.set_now("2026-11-30T09:00:00Z")
    ws = make_workspace(tmp_path / "crm.db", user="ana")
    try:
        port = free_port()
        configure_smtp(ws, port)  # nobody listens yet
        kim = ws.store.insert("contacts", {"first_name": "Kim", "email": "kim@customer.example"})["id"]
        from crm_workspace_service.tickets import create_ticket

        ticket = create_ticket(ws, subject="Phone call", requester_id=kim, channel="phone")
        reply = post_message(ws, ticket["id"], kind="public", body_text="As discussed on the phone...")
        send_pending(ws)
        kept = ws.store.get("ticket_messages", reply["id"])
        assert kept["send_status"] in ("queued", "failed") and kept["outbox_id"]
        assert ws.store.get("tickets", ticket["id"])["first_response_at"]  # the answer was given, the mail pending
        with smtp_server() as server:
            configure_smtp(ws, server.port)
            from crm_workspace_service.outbound import retry

            retry(ws, reply["id"])
            send_pending(ws)
            assert [m["Subject"] for m in server.messages] == [f"Phone call [#{ticket['id']}]"]
        assert ws.store.get("ticket_messages", reply["id"])["send_status"] == "sent"
    finally:
        ws.close()
        clock.set_now(None)


def test_malformed_mail_and_an_unreachable_mailbox(desk, tmp_path):
    ws, box, spec, smtpd = desk
    (tmp_path / "Maildir" / "new" / "1.broken").write_bytes(
        b"\x00\xff\xfe this is not an e-mail at all\r\n\r\n\x81\x82"
    )
    box.add(mail("kim@customer.example", "After the broken one", "still read"))
    report = fetch(ws, spec)
    assert len(report.rows) == 2 and not report.errors
    broken = ws.store.get("tickets", report.rows[0]["ticket_id"])
    assert broken["requester_id"] is None and broken["subject"] == "(no subject)"
    assert ws.store.scalar("SELECT count(*) FROM tickets WHERE subject = 'After the broken one'") == 1
    assert len(smtpd.messages) == 1  # only the real sender is acknowledged

    from click.testing import CliRunner

    from crm_workspace.cli import cli

    result = CliRunner().invoke(cli, ["--db", str(ws.path), "service", "fetch", "--mailbox", str(tmp_path / "nowhere")])
    assert result.exit_code != 0 and "is not a Maildir" in result.output and "Traceback" not in result.output


def test_a_reply_with_a_file_from_the_ticket_page(desk):
    from crm_workspace_service.views.ticket_view import TicketView

    ws, box, spec, smtpd = desk
    ws.set_setting("service_acknowledge", False)
    box.add(mail("kim@customer.example", "Need the manual", "please send it"))
    ticket_id = fetch(ws, spec).rows[0]["ticket_id"]
    view = TicketView(workspace=ws, ticket_id=ticket_id)
    view.body.value = "Here it is."
    view.upload.param.update(value=b"%PDF-1.4 manual", filename="manual.pdf")
    view._send()
    sent = smtpd.messages[-1]
    files = [(part.get_filename(), part.get_content_type(), part.get_content()) for part in sent.iter_attachments()]
    assert files == [("manual.pdf", "application/pdf", b"%PDF-1.4 manual")]
    assert "Here it is." in sent.get_body(("plain",)).get_content()
    assert ws.store.scalar("SELECT filename FROM ticket_attachments WHERE ticket_id = ?", [ticket_id]) == "manual.pdf"
    assert view.upload.value is None and view.body.value == ""
