"""Public sign-up forms over real HTTP: double opt-in by e-mail, honeypot, rate limit."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest
from crm_workspace_marketing import analytics, forms, segments
from marketing_helpers import served_routes

from crm_workspace import Workspace
from crm_workspace.testing import configure_smtp

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def site(demo_db, smtpd):
    ws = Workspace.open(demo_db, user="ana")
    configure_smtp(ws, smtpd.port)
    segments.save_segment(ws, "Webinar list", kind="static")
    forms.save_form(ws, {"slug": "webinar", "title": "Webinar <news>", "segment_id": "Webinar list"})
    with served_routes(ws) as routes:
        yield ws, routes, smtpd
    ws.close()


def mail(smtpd, count=1):
    """The received messages once there are ``count`` (the confirmation is sent after the answer)."""
    deadline = time.monotonic() + 30
    while len(smtpd.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return smtpd.messages


def post(routes, path, **fields):
    return routes.request(f"{routes.base}{path}", "POST", urlencode(fields).encode(), FORM)


def test_double_opt_in_creates_a_consenting_lead_only_once_confirmed(site):
    ws, routes, smtpd = site
    status, _h, page = routes.request(f"{routes.base}/f/webinar")
    assert status == 200 and "Webinar &lt;news&gt;" in page and 'name="website"' in page
    status, _h, page = post(routes, "/f/webinar", email="Nia.New@Example.com", first_name="Nia", consent="1")
    assert status == 200 and "check your inbox" in page
    assert not ws.query("SELECT 1 FROM contacts WHERE email = 'nia.new@example.com'")  # nothing until confirmed
    (message,) = mail(smtpd)
    assert message["To"] == "nia.new@example.com" and "confirm" in str(message["Subject"]).lower()
    link = re.search(r"(http\S+/f/webinar/confirm/\S+)", message.get_content()).group(1)
    status, _h, page = routes.request(link)
    assert status == 200 and "Confirm my subscription" in page
    assert not ws.query("SELECT 1 FROM contacts WHERE email = 'nia.new@example.com'")  # a GET confirms nothing
    status, _h, page = routes.request(link, "POST", b"", FORM)
    assert status == 200 and "confirmed" in page
    contact = ws.query("SELECT * FROM contacts WHERE email = 'nia.new@example.com'")[0]
    assert contact["marketing_consent"] == 1 and contact["consent_source"] == "form webinar"
    assert contact["lifecycle_stage"] == "lead" and contact["first_name"] == "Nia"
    assert contact["id"] in set(ws.df("marketing.segment", name="Webinar list").id)
    timeline = ws.query("SELECT subject FROM activities WHERE contact_id = ?", [contact["id"]])
    assert any("Signed up" in a["subject"] for a in timeline)
    assert analytics.forms(ws).set_index("slug").loc["webinar", "confirmed"] == 1
    routes.request(link, "POST", b"", FORM)  # twice: still one contact, one sign-up
    assert (
        ws.store.scalar(
            "SELECT count(*) FROM marketing_events WHERE kind = 'signup' AND contact_id = ?", [contact["id"]]
        )
        == 1
    )


def test_an_existing_contact_is_updated_not_duplicated(site):
    ws, routes, smtpd = site
    known = ws.query("SELECT id, email FROM contacts WHERE email IS NOT NULL AND marketing_consent IS NULL LIMIT 1")[0]
    post(routes, "/f/webinar", email=known["email"].upper(), consent="1")
    link = re.search(r"(http\S+/confirm/\S+)", mail(smtpd)[0].get_content()).group(1)
    routes.request(link, "POST", b"", FORM)
    assert ws.store.get("contacts", known["id"])["marketing_consent"] == 1
    assert ws.store.scalar("SELECT count(*) FROM contacts WHERE lower(email) = ?", [known["email"].lower()]) == 1


def test_bots_floods_and_bad_input(site):
    ws, routes, _smtpd = site
    status, _h, page = post(routes, "/f/webinar", email="bot@example.com", consent="1", website="http://spam")
    assert status == 200 and "check your inbox" in page
    status, _h, page = post(routes, "/f/webinar", email="not an address", consent="1")
    assert status == 400 and "e-mail address" in page and 'value="not an address"' in page
    status, _h, page = post(routes, "/f/webinar", email="<script>@x", consent="1")
    assert "<script>" not in page
    status, _h, _page = post(routes, "/f/webinar", email="a@example.com")
    assert status == 400  # no consent ticked
    codes = [post(routes, "/f/webinar", email=f"f{i}@example.com", consent="1")[0] for i in range(6)]
    assert 429 in codes
    assert ws.store.scalar("SELECT count(*) FROM form_submissions WHERE email = 'bot@example.com'") == 0
    assert routes.request(f"{routes.base}/f/nope")[0] == 404
    status, _h, page = routes.request(f"{routes.base}/f/webinar/confirm/abc.def")
    assert status == 400 and "Nothing was changed" in page
