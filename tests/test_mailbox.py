"""Reading mail from a real Maildir: unread until done, huge or deeply nested messages never block, safe text."""

from __future__ import annotations

import imaplib
import mailbox
import os
import time
from email.message import EmailMessage

import pytest

from crm_workspace.services.mailbox import (
    MailboxError,
    addresses,
    attachments,
    is_auto_or_bulk,
    open_mailbox,
    text_of,
)
from crm_workspace.services.mailer import make_message


def deliver(box: mailbox.Maildir, message: EmailMessage, *, at: float | None = None) -> str:
    key = box.add(message)
    if at is not None:
        path = os.path.join(box._path, box._lookup(key))
        os.utime(path, (at, at))
    return key


@pytest.fixture
def maildir(tmp_path):
    return mailbox.Maildir(tmp_path / "Maildir", create=True)


def test_messages_stay_unread_until_marked_done(maildir, tmp_path):
    now = time.time()
    keys = [
        deliver(
            maildir,
            make_message(to="crm@acme.example", sender=f"p{i}@example.com", subject=f"#{i}", text="hi"),
            at=now + i,
        )
        for i in range(3)
    ]
    box = open_mailbox(f"maildir:{tmp_path / 'Maildir'}")
    items = list(box.unread())
    assert [item.key for item in items] == keys  # oldest first
    assert [str(item.message["Subject"]) for item in items] == ["#0", "#1", "#2"]
    assert all(item.size > 0 and not item.too_big for item in items)
    assert [i.key for i in open_mailbox(str(tmp_path / "Maildir")).unread()] == keys  # reading marked nothing
    box.mark_done(keys[1])
    assert [i.key for i in box.unread()] == [keys[0], keys[2]]
    assert "S" in maildir.get_message(keys[1]).get_flags()  # the Maildir way: cur/ with the seen flag
    box.mark_done(keys[1])  # twice is harmless
    assert [i.key for i in box.unread(limit=1)] == [keys[0]]


def test_a_huge_message_comes_headers_only_and_does_not_block(maildir, tmp_path):
    now = time.time()
    deliver(maildir, make_message(to="crm@acme.example", subject="before", text="a"), at=now)
    big = tmp_path / "Maildir" / "new" / "1700000000.big.host"
    with big.open("wb") as file:
        file.write(b"From: big@example.com\r\nSubject: huge\r\nMessage-ID: <big@x>\r\n\r\n")
    os.truncate(big, 50 * 1024 * 1024)  # a sparse 50 MB body: fast to make
    os.utime(big, (now + 1, now + 1))
    deliver(maildir, make_message(to="crm@acme.example", subject="after", text="b"), at=now + 2)
    started = time.monotonic()
    items = list(open_mailbox(tmp_path / "Maildir", max_bytes=1_000_000).unread())
    assert time.monotonic() - started < 2
    assert [str(i.message["Subject"]) for i in items] == ["before", "huge", "after"]
    huge = items[1]
    assert huge.too_big and huge.size == 50 * 1024 * 1024 and huge.message["Message-ID"] == "<big@x>"
    assert huge.message.get_payload() in ("", None, [])


def test_html_with_script_becomes_safe_text():
    message = make_message(
        to="crm@acme.example",
        subject="html",
        text="x",
    )
    message.clear_content()
    message.set_content(
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>Hello&nbsp;<b>Ana</b></p><script>alert('pwned')</script>"
        "<img src=x onerror=alert(1)><p>2 &lt; 3 &amp; ok</p></body></html>",
        subtype="html",
    )
    text = text_of(message)
    assert "Hello Ana" in text and "2 < 3 & ok" in text
    assert "alert" not in text and "<" not in text.replace("2 < 3", "") and "color" not in text


def test_text_prefers_the_plain_part_and_reads_headers():
    message = make_message(
        to="CRM <crm@acme.example>",
        subject="s",
        text="plain words",
        html="<p>html words</p>",
        sender="Ana <Ana@Example.com>",
    )
    message["Cc"] = "bob@example.com, Ana@example.com"
    assert text_of(message) == "plain words"
    assert addresses(message) == ["ana@example.com"]
    assert addresses(message, "To", "Cc", "From") == ["crm@acme.example", "bob@example.com", "ana@example.com"]


def test_attachments_with_a_size_limit():
    message = make_message(to="crm@acme.example", subject="files", text="see attached")
    message.add_attachment(b"small", maintype="application", subtype="octet-stream", filename="a.bin")
    message.add_attachment(b"x" * 5000, maintype="application", subtype="pdf", filename="b.pdf")
    found = attachments(message, max_bytes=1000)
    assert [(a.filename, a.content_type, a.size) for a in found] == [
        ("a.bin", "application/octet-stream", 5),
        ("b.pdf", "application/pdf", 5000),
    ]
    assert found[0].data == b"small" and found[1].data is None


@pytest.mark.parametrize(
    ("header", "value", "auto"),
    [
        ("Auto-Submitted", "auto-replied", True),
        ("Auto-Submitted", "no", False),
        ("Precedence", "bulk", True),
        ("Precedence", "list", True),
        ("X-Autoreply", "yes", True),
        ("List-Id", "<news.example.com>", True),
        ("X-Auto-Response-Suppress", "All", True),
        ("Return-Path", "<>", True),
        ("X-Mailer", "Thunderbird", False),
    ],
)
def test_auto_or_bulk(header, value, auto):
    message = make_message(to="crm@acme.example", subject="s", text="t", sender="ana@example.com")
    message[header] = value
    assert is_auto_or_bulk(message) is auto


def test_a_daemon_sender_is_automatic():
    assert is_auto_or_bulk(
        make_message(to="crm@acme.example", subject="s", text="t", sender="MAILER-DAEMON@mx.example")
    )


def test_bad_specs_are_clear(tmp_path, monkeypatch):
    with pytest.raises(MailboxError, match="not a Maildir"):
        open_mailbox(str(tmp_path / "nowhere"))
    with pytest.raises(MailboxError, match="imaps://user@host/folder"):
        open_mailbox("imaps://mail.example.com/INBOX")
    monkeypatch.delenv("CRM_IMAP_PASSWORD", raising=False)
    box = open_mailbox("imaps://crm@mail.example.com/Support")
    assert (box.host, box.user, box.folder, box.port) == ("mail.example.com", "crm", "Support", 993)
    with pytest.raises(MailboxError, match="CRM_IMAP_PASSWORD"):
        list(box.unread())


class FakeImap:
    """Just enough of an IMAP server's answers (imaplib.IMAP4's API) to check what the reader asks."""

    error = imaplib.IMAP4.error

    def __init__(self, host, port, timeout=None):
        self.calls: list[tuple] = []
        self.seen: set[str] = set()
        small = make_message(to="crm@acme.example", subject="small", text="hi").as_bytes()
        self.store = {b"7": small, b"9": b"Subject: huge\r\n\r\n" + b"x" * 5000}
        FakeImap.last = self

    def login(self, user, password):
        self.calls.append(("login", user, password))

    def select(self, folder):
        self.calls.append(("select", folder))
        return "OK", [b"2"]

    def uid(self, command, *args):
        self.calls.append((command, *args))
        if command == "SEARCH":
            return "OK", [b" ".join(k for k in self.store if k.decode() not in self.seen)]
        if command == "FETCH":
            key, what = args
            raw = self.store[key.encode()]
            if what == "(RFC822.SIZE)":
                return "OK", [f"1 (UID {key} RFC822.SIZE {len(raw)})".encode()]
            part = raw.split(b"\r\n\r\n")[0] + b"\r\n\r\n" if "HEADER" in what else raw
            return "OK", [(f"1 (UID {key} {what} {{{len(part)}}}".encode(), part), b")"]
        if command == "STORE":
            self.seen.add(args[0])
            return "OK", [b""]
        raise AssertionError(command)

    def logout(self):
        self.calls.append(("logout",))


def test_imap_peeks_and_marks_seen_only_when_done(monkeypatch):
    monkeypatch.setattr(imaplib, "IMAP4", FakeImap)
    monkeypatch.setenv("CRM_IMAP_PASSWORD", "pw")
    with open_mailbox("imap://crm@localhost:1143/Support", max_bytes=1000) as box:
        items = list(box.unread())
        assert [(i.key, str(i.message["Subject"]), i.too_big) for i in items] == [
            ("7", "small", False),
            ("9", "huge", True),
        ]
        fake = FakeImap.last
        fetched = [call[2] for call in fake.calls if call[0] == "FETCH" and call[2] != "(RFC822.SIZE)"]
        assert fetched == ["(BODY.PEEK[])", "(BODY.PEEK[HEADER])"]  # reading never sets \Seen
        assert ("login", "crm", "pw") in fake.calls and ("select", '"Support"') in fake.calls
        box.mark_done("7")
        assert [i.key for i in box.unread()] == ["9"]
    assert fake.calls[-1] == ("logout",)


# ------------------------------------------------------- hostile structure
def _nested(depth: int) -> bytes:
    head = "From: Zed <z@example.org>\nTo: ana@example.com\nSubject: nest\nMessage-ID: <n1@x>\nMIME-Version: 1.0\n"
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    return (head + opening + "Content-Type: text/plain\n\nhello\n" + closing).encode()


@pytest.mark.parametrize("depth", [200, 3000])
def test_a_deeply_nested_message_never_blocks_the_mailbox(tmp_path, depth):
    import mailbox

    from crm_workspace.services.mailbox import open_mailbox, text_of

    box = mailbox.Maildir(tmp_path / "mail", create=True)
    box.add(_nested(depth))
    box.add(b"From: y@example.org\nTo: ana@example.com\nSubject: fine\nMessage-ID: <n2@x>\n\nok\n")
    with open_mailbox(str(tmp_path / "mail")) as opened:
        items = list(opened.unread())
        texts = sorted(text_of(item.message) for item in items)
        subjects = sorted(item.message["Subject"] for item in items)
    assert subjects == ["fine", "nest"] and "ok" in texts[-1]
