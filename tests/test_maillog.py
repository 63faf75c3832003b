"""E-mail logging: a real Maildir with BCC'd and forwarded messages, filed on contacts."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from crm_workspace_maillog import review
from crm_workspace_maillog.filing import log_mailbox

from crm_workspace.cli import cli
from crm_workspace.errors import PermissionDenied
from crm_workspace.services.mailbox import open_mailbox
from crm_workspace.services.scheduler import run_ticks
from crm_workspace.testing import page_text


@pytest.fixture
def ws(workspace):
    store = workspace.store
    store.insert("users", {"username": "tester", "role": "admin", "email": "tester@team.example"})
    store.insert("users", {"username": "ana", "role": "member", "email": "Ana@Team.example"})
    store.insert("users", {"username": "val", "role": "viewer"})
    org = store.insert("organizations", {"name": "Acme"})
    store.insert(
        "contacts",
        {"first_name": "Maria", "last_name": "Lopez", "email": "maria@acme.example", "organization_id": org["id"]},
    )
    store.insert("contacts", {"first_name": "Tom", "last_name": "Ng", "email": "Tom@Acme.example"})
    workspace.set_setting("maillog_address", "log@crm.example")
    return workspace


def _msg(sender, to, subject, body, *, cc=None, mid=None, **headers) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    if cc:
        message["Cc"] = cc
    message["Date"] = "Mon, 23 Nov 2026 10:15:00 +0100"
    if mid:
        message["Message-ID"] = mid
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def bcc_message():
    return _msg(
        "Ana Team <ana@team.example>",
        "Maria <maria@acme.example>",
        "Our offer",
        "Here is the offer.",
        cc="Sam Stranger <stranger@else.example>",
        mid="<m1@team.example>",
    )


def inline_forward():
    body = (
        "FYI, see below.\n\n---------- Forwarded message ---------\n"
        "From: Tom Ng <tom@acme.example>\nDate: Fri, 20 Nov 2026 at 09:00\nSubject: Question about invoices\n"
        "To: Ana <ana@team.example>\n\nHi Ana, where is invoice 42?\nTom\n"
    )
    return _msg("ana@team.example", "log@crm.example", "Fwd: Question about invoices", body, mid="<m2@team.example>")


def attached_forward():
    inner = _msg(
        '"New Person" <new@prospect.example>',
        "ana@team.example",
        "Interested in a demo",
        "Can we get a demo?",
        cc="maria@acme.example",
        mid="<inner3@prospect.example>",
    )
    outer = _msg(
        "ana@team.example", "log@crm.example", "Fwd: Interested in a demo", "Forwarding.", mid="<m3@team.example>"
    )
    outer.add_attachment(inner)
    return outer


@pytest.fixture
def maildir(tmp_path):
    box = mailbox.Maildir(tmp_path / "log", create=True)
    box.add(bcc_message().as_bytes())
    box.add(b"\xff\xfe\x00 not a mail at all\n")  # malformed: no headers, nobody named
    box.add(inline_forward().as_bytes())
    box.add(attached_forward().as_bytes())
    box.add(
        _msg(
            "maria@acme.example",
            "ana@team.example",
            "Out of office",
            "Back Monday",
            mid="<auto@acme.example>",
            Auto_Submitted="auto-replied",
        ).as_bytes()
    )
    box.add(bcc_message().as_bytes())  # the same message twice
    return tmp_path / "log"


def _emails(ws):
    return ws.store.query("SELECT * FROM activities WHERE kind = 'email' ORDER BY contact_id, id")


def test_a_real_maildir_is_filed_on_the_right_contacts(ws, maildir):
    ws.set_setting("maillog_mailbox", str(maildir))
    result = log_mailbox(ws)
    assert (result.logged, result.duplicates, result.skipped, result.failed) == (3, 1, 1, 1)
    rows = _emails(ws)
    filed = {(r["contact_id"], r["subject"]) for r in rows}
    assert filed == {(1, "Our offer"), (2, "Question about invoices"), (1, "Interested in a demo")}
    offer = next(r for r in rows if r["subject"] == "Our offer")
    assert offer["owner"] == "ana" and offer["channel"] == "email" and "sent to" in offer["body"]
    assert offer["occurred_at"] == "2026-11-23T09:15:00Z" and offer["organization_id"] == 1
    question = next(r for r in rows if r["contact_id"] == 2)
    assert "received from" in question["body"] and "where is invoice 42?" in question["body"]
    assert "Forwarded by ana@team.example" in question["body"]
    # unknown addresses wait for review; team users and the logging address are no contacts
    assert {r["address"] for r in review.review_rows(ws)} == {"stranger@else.example", "new@prospect.example"}
    assert ws.store.scalar("SELECT count(*) FROM contacts") == 2
    failed = ws.store.query("SELECT * FROM maillog_messages WHERE status = 'failed'")
    assert len(failed) == 1 and "names nobody" in failed[0]["error"]
    # everything was read and stored: nothing is left unread, a second run files nothing
    assert list(open_mailbox(str(maildir)).unread()) == []
    mailbox.Maildir(maildir, create=False).add(inline_forward().as_bytes())
    again = log_mailbox(ws)
    assert again.duplicates == 1 and again.logged == 0 and len(_emails(ws)) == 3


def test_review_create_attach_ignore(ws, maildir):
    log_mailbox(ws, spec=str(maildir))
    contact, made = review.create_contact(ws, "stranger@else.example")
    assert (contact["first_name"], contact["last_name"], made) == ("Sam", "Stranger", 1)
    assert [r["subject"] for r in _emails(ws) if r["contact_id"] == contact["id"]] == ["Our offer"]
    assert review.attach(ws, "NEW@prospect.example", 2) == 1
    assert {r["subject"] for r in _emails(ws) if r["contact_id"] == 2} == {
        "Question about invoices",
        "Interested in a demo",
    }
    assert review.review_rows(ws) == []
    assert ws.store.scalar("SELECT count(*) FROM maillog_messages WHERE text IS NOT NULL") == 0  # no copy kept
    # later mail from the attached address goes to that contact, an ignored one is skipped
    box = mailbox.Maildir(maildir, create=False)
    box.add(
        _msg(
            "new@prospect.example", "ana@team.example", "Follow-up", "Any news?", mid="<m9@p>", Cc="bot@noise.example"
        ).as_bytes()
    )
    log_mailbox(ws, spec=str(maildir))
    assert any(r["subject"] == "Follow-up" and r["contact_id"] == 2 for r in _emails(ws))
    review.ignore(ws, "bot@noise.example")
    box.add(_msg("bot@noise.example", "ana@team.example", "Ping", "ping", mid="<m10@p>").as_bytes())
    log_mailbox(ws, spec=str(maildir))
    assert review.review_rows(ws) == [] and not any(r["subject"] == "Ping" for r in _emails(ws))
    with pytest.raises(PermissionDenied):
        review.ignore(ws.as_user("val"), "whoever@x.example")


def test_cli_mail_log_and_review_json(ws, maildir):
    import json

    runner = CliRunner()
    base = ["--db", ws.path, "--user", "tester"]
    result = runner.invoke(cli, [*base, "mail", "log", "--mailbox", str(maildir)])
    assert result.exit_code == 0, result.output
    assert "3 messages logged (3 activities)" in result.output
    result = runner.invoke(cli, [*base, "mail", "review", "--json"])
    assert result.exit_code == 0, result.output
    assert {r["address"] for r in json.loads(result.output)} == {"stranger@else.example", "new@prospect.example"}
    result = runner.invoke(cli, [*base, "mail", "review", "--attach", "new@prospect.example", "2"])
    assert result.exit_code == 0 and "1 messages logged" in result.output
    result = runner.invoke(
        cli, [*base, "mail", "review", "--create", "stranger@else.example", "--name", "Sam Stranger"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, [*base, "mail", "review", "--ignore", "nobody@x.example"])
    assert result.exit_code == 1 and "not on the review list" in result.output


def test_the_tick_files_the_mailbox(ws, maildir):
    ws.set_setting("maillog_mailbox", f"maildir:{maildir}")
    results = run_ticks(ws, now="2026-11-30T09:00:00Z", plugins=["maillog"])
    assert [r.ok for r in results] == [True], results
    assert len(_emails(ws)) == 3
    assert {
        a["user"] for a in ws.store.query("SELECT DISTINCT user FROM audit_log WHERE table_name = 'maillog_messages'")
    } == {"system:maillog"}


def test_page_and_demo(demo_workspace):
    text = page_text(demo_workspace.dashboard("maillog"))
    assert "Mail log" in text and "priya.raman@northwind-demo.example" in text
    contact, made = review.create_contact(demo_workspace, "priya.raman@northwind-demo.example")
    assert made == 1 and contact["last_name"] == "Raman"


def test_a_viewer_files_nothing_and_marks_nothing(ws, maildir):
    from crm_workspace.errors import PermissionDenied as Denied

    with pytest.raises(Denied):
        log_mailbox(ws.as_user("val"), spec=str(maildir))
    assert len(list(open_mailbox(str(maildir)).unread())) == 6


def test_privacy_export_and_erasure_cover_the_mail_log(ws, maildir, tmp_path):
    from crm_workspace.services import privacy

    log_mailbox(ws, spec=str(maildir))
    review.create_contact(ws, "stranger@else.example")
    held = privacy.gather(ws, "stranger@else.example")
    assert held.get("mail_log") and held.get("mail_log_review")
    privacy.erase(ws, "stranger@else.example", tmp_path)
    for table in ("maillog_review", "maillog_messages", "maillog_mentions"):
        rows = ws.store.query(f"SELECT * FROM {table}")
        assert "stranger@else.example" not in repr(rows), table


@pytest.mark.parametrize(
    "block",
    [
        "---------- Forwarded message ---------\nFrom: Tom Ng <tom@acme.example>\nDate: Fri, 20 Nov 2026 at 09:00\n"
        "Subject: Invoices\nTo: Ana <ana@team.example>\nCc: maria@acme.example\n\nWhere is invoice 42?",
        "Begin forwarded message:\n\nFrom: Tom Ng <tom@acme.example>\nSubject: Invoices\n"
        "Date: 20 November 2026 at 09:00:00 CET\nTo: ana@team.example\nCc: Maria <maria@acme.example>\n\nWhere is invoice 42?",
        "-----Original Message-----\nFrom: Tom Ng [mailto:tom@acme.example]\nSent: Friday, November 20, 2026 9:00 AM\n"
        "To: Ana\nCc: Maria Lopez [mailto:maria@acme.example]\nSubject: RE: Invoices\n\nWhere is invoice 42?",
        "-------- Forwarded Message --------\nSubject: \tInvoices\nDate: \tFri, 20 Nov 2026 09:00:00 +0100\n"
        "From: \tTom Ng <tom@acme.example>\nTo: \tana@team.example\nCC: maria@acme.example\n\nWhere is invoice 42?",
        "> ---------- Forwarded message ---------\n> From: Tom Ng <tom@acme.example>\n> Subject: Invoices\n"
        "> To: ana@team.example, maria@acme.example\n>\n> Where is invoice 42?",
    ],
)
def test_inline_forwards_of_the_usual_mail_clients(block):
    from crm_workspace_maillog.parse import read_message

    message = _msg("ana@team.example", "log@crm.example", "Fwd: Invoices", "See below.\n\n" + block, mid="<f@t>")
    logged = read_message(message)
    assert logged.sender[1] == "tom@acme.example" and logged.subject == "Invoices"
    assert {a for _, a in logged.people} >= {"tom@acme.example", "maria@acme.example"}
    assert "Where is invoice 42?" in logged.text and logged.forwarded_by == "ana@team.example"


def test_an_html_only_forward_is_read_from_its_text():
    from crm_workspace_maillog.parse import read_message

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ana@team.example", "log@crm.example", "Fwd: Hi"
    message.set_content(
        "<div>FYI</div><div>---------- Forwarded message ---------<br>From: Tom Ng &lt;tom@acme.example&gt;<br>"
        "Subject: Hi<br>To: ana@team.example<br><br>Hello <b>there</b><script>x()</script></div>",
        subtype="html",
    )
    logged = read_message(message)
    assert logged.sender[1] == "tom@acme.example" and "Hello there" in logged.text and "x()" not in logged.text
