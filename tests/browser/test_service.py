"""The Service page in a real Chromium: the SLA marker turns to breached as the (test) clock moves."""

from __future__ import annotations

import re

import pytest
from conftest import Server
from playwright.sync_api import expect

from crm_workspace import Workspace
from crm_workspace.testing import make_workspace

pytestmark = pytest.mark.xdist_group("svc20")

BADGE = '.svc-sla[data-metric="first response"]'


@pytest.fixture(scope="module")
def served_clock(tmp_path_factory):
    """A workspace with one high-priority ticket opened Monday 09:00 UTC, served with CRM_NOW_FILE."""
    root = tmp_path_factory.mktemp("svc-clock")
    now_file = root / "now.txt"
    now_file.write_text("2026-11-30T09:00:00Z")
    ws = make_workspace(root / "crm.db", user="ana")
    import crm_workspace_service.clock as clock

    clock.set_now("2026-11-30T09:00:00Z")
    try:
        kim = ws.store.insert("contacts", {"first_name": "Kim", "last_name": "Lee", "email": "kim@example.com"})["id"]
        from crm_workspace_service.tickets import create_ticket

        ticket = create_ticket(ws, subject="Server down", requester_id=kim, priority="high")
    finally:
        clock.set_now(None)
        ws.close()
    server = Server(root / "crm.db", env={"CRM_NOW_FILE": str(now_file)})
    server.ticket_id = ticket["id"]
    server.now_file = now_file
    yield server
    server.stop()


def test_the_sla_marker_turns_to_breached_as_time_passes(page, served_clock):
    page.set_default_timeout(60_000)
    page.goto(f"{served_clock.url}?page=service&id={served_clock.ticket_id}")
    badge = page.locator(BADGE)
    badge.wait_for()
    assert badge.get_attribute("data-state") == "ok"  # high: 4 business hours to respond
    served_clock.now_file.write_text("2026-11-30T12:30:00Z")
    page.locator(f'{BADGE}[data-state="soon"]').wait_for(timeout=30_000)
    served_clock.now_file.write_text("2026-11-30T13:05:00Z")
    page.locator(f'{BADGE}[data-state="breached"]').wait_for(timeout=30_000)
    assert "Breached" in page.locator(BADGE).inner_text()


@pytest.fixture(scope="module")
def served_desk(tmp_path_factory):
    """A help desk whose support mailbox received one e-mail, served; replies go to a local SMTP server."""
    import mailbox
    from email.message import EmailMessage

    from crm_workspace_service.inbound import fetch

    from crm_workspace.testing import configure_smtp, smtp_server

    root = tmp_path_factory.mktemp("svc-desk")
    with smtp_server() as smtpd:
        ws = make_workspace(root / "crm.db", user="ana")
        configure_smtp(ws, smtpd.port)
        ws.set_setting("service_acknowledge", False)
        box = mailbox.Maildir(root / "Maildir", create=True)
        message = EmailMessage()
        message["From"] = "Kim Lee <kim@customer.example>"
        message["To"] = "support@example.com"
        message["Subject"] = "The invoice total is wrong"
        message["Message-ID"] = "<first@customer.example>"
        message.set_content("Our invoice charges 12 seats, we have 9.")
        box.add(message)
        fetch(ws, f"maildir:{root / 'Maildir'}")
        ws.close()
        server = Server(root / "crm.db")
        server.smtpd, server.maildir = smtpd, root / "Maildir"
        yield server
        server.stop()


def test_an_emailed_ticket_is_answered_from_its_page(page, served_desk):
    import mailbox
    import time
    from email.message import EmailMessage

    from crm_workspace import Workspace

    page.set_default_timeout(60_000)
    page.goto(f"{served_desk.url}?page=service")
    subject = page.get_by_text("The invoice total is wrong").first
    subject.wait_for()
    subject.click()
    composer = page.get_by_placeholder("Write a reply…")
    composer.wait_for()
    page.locator(".svc-msg.inbound").filter(has_text="12 seats").wait_for()
    composer.fill("Sorry about that: we corrected the invoice.")
    page.get_by_role("button", name="Send").click()
    deadline = time.monotonic() + 60
    while not served_desk.smtpd.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    sent = served_desk.smtpd.messages[0]
    assert sent["To"] == "kim@customer.example" and sent["In-Reply-To"] == "<first@customer.example>"
    assert "[#1]" in sent["Subject"] and "corrected the invoice" in sent.get_content()
    reply = page.locator(".svc-msg.public").filter(has_text="corrected the invoice")
    reply.wait_for()
    # the thread says when as people do ("just now"), the exact time on hover, never an ISO timestamp
    meta = reply.locator(".meta").first
    assert re.search(r"just now|ago", meta.inner_text()) and not re.search(r"\d{4}-\d\d-\d\d", meta.inner_text())
    assert re.search(r"\d{4} \d\d:\d\d UTC$", meta.locator("time.crm-when").get_attribute("title"))
    # the requester answers the reply: it joins the thread on the open page
    answer = EmailMessage()
    answer["From"] = "kim@customer.example"
    answer["To"] = "support@example.com"
    answer["Subject"] = "Re: " + sent["Subject"]
    answer["Message-ID"] = "<second@customer.example>"
    answer["In-Reply-To"] = sent["Message-ID"]
    answer.set_content("Thank you, all good now.")
    mailbox.Maildir(served_desk.maildir).add(answer)
    ws = Workspace.open(served_desk.db, user="ana")
    try:
        from crm_workspace_service.inbound import fetch

        assert [r["outcome"] for r in fetch(ws, f"maildir:{served_desk.maildir}").rows] == ["joined"]
    finally:
        ws.close()
    page.locator(".svc-msg.inbound").filter(has_text="all good now").wait_for(timeout=30_000)


def test_queue_board_metrics_and_setup_render(page, served_clock):
    page.set_default_timeout(60_000)
    page.goto(f"{served_clock.url}?page=service")
    page.get_by_text("Server down").first.wait_for()
    for section, expected in (("Board", "Open ("), ("Metrics", "Open tickets by age"), ("Setup", "Business calendars")):
        page.get_by_role("button", name=section, exact=True).click()
        page.get_by_text(expected).first.wait_for()
    assert page.locator(".alert-danger").count() == 0


def test_the_service_page_requests_nothing_but_the_served_host(page, served_clock):
    from urllib.parse import urlparse

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{served_clock.url}?page=service&id={served_clock.ticket_id}")
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    page.locator(BADGE).wait_for()
    served = urlparse(served_clock.url).netloc
    outside = [
        u for u in requested if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != served
    ]
    assert requested and not outside, outside


IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"


def test_untrusted_text_in_tickets_is_shown_as_text(page, tmp_path):
    ws = make_workspace(tmp_path / "crm.db", user="ana")
    from crm_workspace_service.tickets import create_ticket, post_message

    kim = ws.store.insert("contacts", {"first_name": IMG, "last_name": SCRIPT, "email": "x@example.com"})["id"]
    ticket = create_ticket(ws, subject=f"{IMG} subject {SCRIPT}", requester_id=kim, team=IMG)
    post_message(ws, ticket["id"], kind="inbound", body_text=f"{SCRIPT}{IMG}", sender="x@example.com", body_html=IMG)
    post_message(ws, ticket["id"], kind="note", body_text=IMG)
    ws.close()
    server = Server(tmp_path / "crm.db")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.set_default_timeout(60_000)
        for url in (f"?page=service&id={ticket['id']}", "?page=service"):
            page.goto(server.url + url)
            page.get_by_text("subject <script>", exact=False).first.wait_for()
        page.get_by_role("button", name="Board", exact=True).click()
        page.get_by_text("subject <script>", exact=False).first.wait_for()
        assert not dialogs and page.locator("img[src='x']").count() == 0
    finally:
        server.stop()


def test_the_queue_ticks_tickets_to_change_together_and_opens_one_by_a_click(page, tmp_path):
    ws = make_workspace(tmp_path / "crm.db", user="ana")
    from crm_workspace_service.tickets import create_ticket

    kim = ws.store.insert("contacts", {"first_name": "Kim", "last_name": "Lee", "email": "kim@example.com"})["id"]
    ids = [create_ticket(ws, subject=f"Printer {n} jammed", requester_id=kim)["id"] for n in range(3)]
    ws.close()
    server = Server(tmp_path / "crm.db")
    try:
        page.set_default_timeout(60_000)
        page.goto(server.url + "?page=service")
        rows = page.locator("tr.lt-row")
        expect(rows).to_have_count(3)
        for n in (0, 2):
            rows.filter(has_text=f"Printer {n} jammed").get_by_role("checkbox").check()
        page.get_by_label("Set status of selected").select_option("pending")
        page.get_by_role("button", name="Set status").click()
        page.get_by_text("2 tickets updated").wait_for()
        check = Workspace.open(tmp_path / "crm.db", builtins_only=True)
        try:
            statuses = {r["id"]: r["status"] for r in check.store.query("SELECT id, status FROM tickets")}
        finally:
            check.close()
        assert statuses == {ids[0]: "pending", ids[1]: "new", ids[2]: "pending"}
        rows.filter(has_text="Printer 1 jammed").locator("td[data-field='subject']").click()
        expect(page).to_have_url(re.compile(rf"[?&]id={ids[1]}\b"))
        page.get_by_text("Printer 1 jammed").first.wait_for()
    finally:
        server.stop()
