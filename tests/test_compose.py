"""Fast batch messages (services/compose.py): the wire text parses back into the same message."""

from __future__ import annotations

import email
from email import policy

import pytest

from crm_workspace.services import outbox
from crm_workspace.services.compose import MessageTemplate, Prepared, make_messages
from crm_workspace.services.mailer import POLICY, Mailer, MailError, make_message
from crm_workspace.testing import configure_smtp

UNSUBSCRIBE = "<https://crm.example/u/" + "a" * 150 + ">, <mailto:crm@acme.example?subject=unsubscribe>"


def parsed(message: Prepared) -> email.message.EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=policy.default)


def campaign_message(**given) -> Prepared:
    template = MessageTemplate(
        sender="ACME Größe <crm@acme.example>", reply_to="sales@acme.example", headers={"X-Campaign": "7"}
    )
    fields = {
        "to": ("Zoë Müller", "zoe@example.com"),
        "subject": "Grüße für Zoë, " + "lang " * 30 + "Ende",
        "text": "Hallo Zoë,\n" + "x" * 2000 + "\nbye = ok \n",
        "html": "<p>Hallo <b>Zoë</b></p>" + "y" * 1500,
        "headers": {"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    }
    return template.make(**{**fields, **given})


def test_the_wire_text_parses_back_into_the_same_headers_and_parts():
    message = campaign_message()
    got = parsed(message)
    assert got["From"] == "ACME Größe <crm@acme.example>"
    assert got["To"] == "Zoë Müller <zoe@example.com>"
    assert got["To"].addresses[0].display_name == "Zoë Müller"
    assert got["Reply-To"] == "sales@acme.example"
    assert got["Subject"] == "Grüße für Zoë, " + "lang " * 30 + "Ende"
    assert got["Message-ID"] == message["Message-ID"] and got["Message-ID"].endswith("@acme.example>")
    assert got["Date"].datetime is not None
    assert got["List-Unsubscribe"] == UNSUBSCRIBE
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got["X-Campaign"] == "7"
    assert got.get_content_type() == "multipart/alternative"
    plain, html = got.get_body(("plain",)), got.get_body(("html",))
    assert plain.get_content().replace("\r\n", "\n") == "Hallo Zoë,\n" + "x" * 2000 + "\nbye = ok \n"
    assert html.get_content().startswith("<p>Hallo <b>Zoë</b></p>yyy")
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.recipients == ["zoe@example.com"]


def test_every_line_is_short_seven_bit_and_crlf():
    text = campaign_message().text
    assert text.isascii()
    assert "\n" not in text.replace("\r\n", "")
    assert max(len(line) for line in text.split("\r\n")) <= 998
    # the non-ASCII headers are RFC 2047 encoded words
    assert "=?utf-8?" in text.split("\r\n\r\n")[0]


def test_text_only_and_plain_addresses():
    (one, two) = make_messages(
        [
            {"to": "ana@example.com", "subject": "Hi", "text": "plain"},
            {"to": ['"Smith, Jo" <jo@example.com>', "b@example.com"], "subject": "Hi", "text": "t"},
        ],
        sender="crm@acme.example",
    )
    assert parsed(one).get_content_type() == "text/plain" and parsed(one).get_content() == "plain\r\n"
    assert parsed(two)["To"].addresses[0].display_name == "Smith, Jo"
    assert two.recipients == ["jo@example.com", "b@example.com"]
    assert one["Message-ID"] != two["Message-ID"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"subject": "Hi\nBcc: evil@example.com"}, "bad Subject header"),
        ({"headers": {"X-Campaign": "1\r\nBcc: evil@example.com"}}, "bad X-Campaign header"),
        ({"to": "a@example.com\r\nBcc: evil@example.com"}, "bad address header"),
        ({"to": ("Ana\nBcc: x@y", "a@example.com")}, "bad address header"),
        ({"to": "not an address"}, "not an email address"),
        ({"to": []}, "not an email address"),
    ],
)
def test_header_injection_and_bad_addresses_are_refused(fields, problem):
    with pytest.raises(MailError, match=problem) as caught:
        campaign_message(**fields)
    assert caught.value.permanent


def test_an_unusual_address_falls_back_to_make_message():
    message = MessageTemplate(sender="crm@acme.example").make(to="José <josé@exämple.com>", subject="s", text="t")
    assert isinstance(message, Prepared)
    assert parsed(message)["Subject"] == "s"


def test_queued_and_sent_as_built(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    template = MessageTemplate(headers={"X-Campaign": "3"})  # no sender: the outbox fills From
    built = template.make(to="ana@example.com", subject="Grüße", text="Hallo", html="<p>Hallo</p>")
    row_id = outbox.enqueue(workspace, built, key="k", plugin="p")
    row = workspace.store.get("mail_outbox", row_id)
    assert row["subject"] == "Grüße" and row["message_id"] == built["Message-ID"]
    assert row["message"].endswith(built.text)  # stored as built, not parsed and written again
    assert outbox.deliver(workspace).sent == 1
    Mailer.from_workspace(workspace).send(template.make(to="bo@example.com", subject="direct", text="t"))
    first, second = smtpd.messages
    assert first["Subject"] == "Grüße" and first["From"] == "crm@localhost" and first["X-Campaign"] == "3"
    assert second["To"] == "bo@example.com"


def test_the_same_content_as_make_message():
    fields = {"to": "ana@example.com", "subject": "Grüße", "text": "Hallo Ana,\nschön.", "html": "<p>Hallo</p>"}
    fast = parsed(MessageTemplate(sender="crm@acme.example").make(**fields))
    slow = email.message_from_bytes(
        make_message(**fields, sender="crm@acme.example").as_bytes(policy=POLICY), policy=policy.default
    )
    for name in ("From", "To", "Subject"):
        assert fast[name] == slow[name]
    for kind in ("plain", "html"):
        assert fast.get_body((kind,)).get_content() == slow.get_body((kind,)).get_content()


@pytest.mark.parametrize("subject", ["ü" * 100, "🎉 Rabatt für Sie 🎉 " * 8, "a" + "€" * 50, "=?utf-8?q?x?= literal"])
def test_encoded_words_split_between_characters(subject):
    message = MessageTemplate(sender="crm@acme.example").make(to="a@example.com", subject=subject, text="t")
    head = message.text.split("\r\n\r\n")[0]
    assert max(len(line) for line in head.split("\r\n")) <= 78
    assert parsed(message)["Subject"] == subject
