"""Marketing in a real Chromium against `crm serve`: the segment builder's live count, sending a campaign
from the page, the unsubscribe link from a received message, a sign-up form confirmed from its e-mail."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from conftest import Server, open_page
from crm_workspace_marketing import campaigns, forms, segments, sending

from crm_workspace import Workspace
from crm_workspace.core_rules import record_consent
from crm_workspace.testing import configure_smtp, smtp_server

pytestmark = pytest.mark.xdist_group("mkt19")


@pytest.fixture(scope="module")
def mail():
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_template, mail):
    path = tmp_path_factory.mktemp("marketing") / "crm.db"
    shutil.copy(demo_template, path)
    ws = Workspace.open(path, user="ana")
    configure_smtp(ws, mail.port)
    ws.close()
    # no background tick: with SMTP configured it would deliver campaigns and sequence steps on its
    # own schedule, racing the sends and throttling these tests start and count themselves
    server = Server(path, args=("--no-tick",))
    ws = Workspace.open(path, user="ana")
    ws.set_setting("public_url", server.url.rstrip("/"))
    ws.close()
    yield server
    server.stop()


def received(mail, count: int) -> list:
    deadline = time.monotonic() + 60
    while len(mail.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return mail.messages


def test_build_a_segment_and_see_its_count(page, served):
    page.set_default_timeout(60_000)
    open_page(page, served, "marketing")
    count = page.locator(".mk-count-value").first
    count.wait_for()
    value = page.locator(".mk-value input").first
    value.fill("lead")
    value.press("Enter")
    ws = Workspace.open(served.db, user="ana")
    leads = ws.store.scalar("SELECT count(*) FROM contacts WHERE lifecycle_stage = 'lead'")
    customers = ws.store.scalar("SELECT count(*) FROM contacts WHERE lifecycle_stage = 'customer'")
    ws.close()
    page.locator(".mk-count-value", has_text=re.compile(f"^{leads:,}$")).wait_for()
    assert "contacts match" in page.locator(".mk-count").first.inner_text()
    # a group: ALL of [stage lead, ANY of [stage customer]] matches nobody; ANY of both, leads and customers
    page.get_by_role("button", name="+ Group").click()
    inner = page.locator(".mk-group .mk-value input").first
    inner.fill("customer")
    inner.press("Enter")
    page.locator(".mk-count-value", has_text=re.compile("^0$")).wait_for()
    page.locator(".mk-match").get_by_role("button", name="any").click()
    page.locator(".mk-count-value", has_text=re.compile(f"^{leads + customers:,}$")).wait_for()


def test_open_the_unsubscribe_link_of_a_received_message(page, served, mail):
    ws = Workspace.open(served.db, user="ana")
    person = ws.store.insert("contacts", {"first_name": "Una", "last_name": "Sub", "email": "una.sub@example.com"})
    record_consent(ws, person["id"], True, source="test")
    segments.save_segment(ws, "Una only", kind="static")
    segments.add_members(ws, "Una only", [person["id"]])
    campaigns.save_campaign(
        ws, {"name": "For Una", "subject": "Hi {{ first_name }}", "html": "<p>Hi</p>", "segment_id": "Una only"}
    )
    before = len(mail.messages)
    sending.send(ws, "For Una")
    message = received(mail, before + 1)[-1]
    link = re.match(r"<([^>]+)>", str(message["List-Unsubscribe"])).group(1)
    assert link.startswith(served.url.rstrip("/") + "/m/u/")
    page.goto(link)
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert ws.store.get("contacts", person["id"])["marketing_consent"] == 0
    ws.close()


def test_sign_up_with_a_form_and_confirm_it(page, served, mail):
    ws = Workspace.open(served.db, user="ana")
    forms.save_form(ws, {"slug": "browser-news", "title": "Browser news"})
    before = len(mail.messages)
    page.goto(f"{served.url}f/browser-news")
    page.get_by_label("E-mail", exact=True).fill("brow.ser@example.com")
    page.get_by_label("First name").fill("Brow")
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text("check your inbox").wait_for()
    message = received(mail, before + 1)[-1]
    link = re.search(r"(http\S+/confirm/\S+)", message.get_content()).group(1)
    page.goto(link)
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_text("confirmed").wait_for()
    contact = ws.query("SELECT * FROM contacts WHERE email = 'brow.ser@example.com'")[0]
    assert contact["marketing_consent"] == 1 and contact["lifecycle_stage"] == "lead"
    ws.close()


def test_send_a_campaign_from_the_page(page, served, mail):
    ws = Workspace.open(served.db, user="ana")
    people = [
        ws.store.insert(
            "contacts", {"first_name": name, "last_name": "Page", "email": f"{name.lower()}.page@example.com"}
        )
        for name in ("Pia", "Paul", "Petra", "Pavel")
    ]
    for person in people[:3]:
        record_consent(ws, person["id"], True, source="test")  # Pavel never gave consent
    segments.save_segment(ws, "Page send list", kind="static")
    segments.add_members(ws, "Page send list", [p["id"] for p in people])
    ws.close()

    page.set_default_timeout(60_000)
    open_page(page, served, "marketing")
    page.locator(".bk-tab", has_text="Campaigns").click()
    page.locator(".mk-campaign-name input").fill("Sent from the page")
    page.locator(".mk-campaign-segment select").select_option("Page send list")
    page.locator(".mk-subject input").fill("Hello {{ first_name }}")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Saved 'Sent from the page' (draft).").wait_for()

    page.get_by_text("Preview and test").click()
    page.get_by_role("button", name="Preview", exact=True).click()
    page.locator(".mk-preview-subject", has_text="Subject: Hello").wait_for()
    before = len(mail.messages)
    page.locator(".mk-test-to input").fill("me.tester@example.com")
    page.get_by_role("button", name="Send test").click()
    page.get_by_text("Test sent to me.tester@example.com.").wait_for()
    test = received(mail, before + 1)[-1]
    assert test["Subject"].startswith("[Test] Hello") and test["To"] == "me.tester@example.com"

    page.get_by_role("button", name="Send to the segment").click()
    page.get_by_text("Send 'Sent from the page' to 3 people?").wait_for()
    page.get_by_role("button", name="Send to 3 people").click()
    page.locator(".mk-sent", has_text=re.compile("^3$")).wait_for()

    ws = Workspace.open(served.db, user="ana")
    deadline = time.monotonic() + 30  # the sender marks the campaign sent just after its last message
    while (campaign := ws.query("SELECT id, status FROM campaigns WHERE name = 'Sent from the page'")[0])[
        "status"
    ] != "sent" and time.monotonic() < deadline:
        time.sleep(0.1)
    ws.close()
    sent = received(mail, before + 4)[before + 1 :]  # after the test message
    mine = [m for m in sent if m["X-Campaign"] == str(campaign["id"])]
    assert campaign["status"] == "sent"
    assert sorted(m["To"] for m in mine) == sorted(p["email"] for p in people[:3])
    for message in mine:
        assert re.match(r"<http://localhost:\d+/m/u/[^>]+>, <mailto:", str(message["List-Unsubscribe"]))
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Subject"] == f"Hello {message['To'].split('.')[0].capitalize()}"
    page.get_by_role("button", name="Send to the segment").click()
    page.get_by_text("was sent already").or_(page.get_by_text("Nobody in")).first.wait_for()
