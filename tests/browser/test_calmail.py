"""The Calendar and Mail log pages in a real Chromium: an .ics upload, a feed address that works,
a review entry resolved."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from conftest import open_page

from crm_workspace import Workspace

pytestmark = pytest.mark.xdist_group("calmail17")


def test_calendar_import_and_feed(page, served_demo, tmp_path):
    ws = Workspace.open(served_demo.db, user="ana")
    try:
        email = ws.query("SELECT email FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 1")[0]["email"]
    finally:
        ws.close()
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y%m%dT%H%M%SZ")
    ics = tmp_path / "invite.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:browser-1@t\r\n"
        f"DTSTAMP:{start}\r\nDTSTART:{start}\r\nSUMMARY:Browser <b>review</b>\r\n"
        f"ATTENDEE:mailto:{email}\r\nATTENDEE:mailto:nobody@unknown.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    page.set_default_timeout(60_000)
    open_page(page, served_demo, "calendar")
    page.get_by_role("heading", name="Import meetings").wait_for()
    page.locator("input[type=file]").set_input_files(str(ics))
    page.get_by_role("button", name="Import meetings").click()
    page.get_by_text("1 logged").wait_for()
    assert page.get_by_text("nobody@unknown.example").is_visible()
    page.get_by_text("Browser <b>review</b>").first.wait_for()  # escaped, shown as typed
    page.get_by_role("button", name="New feed address").click()
    field = page.get_by_label("Feed address (shown once)")
    field.wait_for()
    url = field.input_value().replace("http://localhost:5006/", served_demo.url)
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/calendar")
        assert b"Browser <b>review</b>" in response.read()


def test_mail_log_review_entry_becomes_a_contact(page, served_demo):
    page.set_default_timeout(60_000)
    open_page(page, served_demo, "maillog")
    page.get_by_role("heading", name="Waiting for review").wait_for()
    assert page.get_by_text("priya.raman@northwind-demo.example").first.is_visible()
    page.get_by_role("button", name="Create contact").click()
    done = page.get_by_text(re.compile(r"Created contact #\d+; 1 message\(s\) logged on it"))
    done.wait_for()
    contact_id = int(re.search(r"#(\d+)", done.inner_text()).group(1))
    ws = Workspace.open(served_demo.db, user="ana")
    try:
        assert ws.query("SELECT 1 FROM activities WHERE kind = 'email' AND contact_id = ?", [contact_id])
        assert ws.store.scalar("SELECT count(*) FROM maillog_review WHERE status = 'open'") == 2
    finally:
        ws.close()
