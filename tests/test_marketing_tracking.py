"""Signed links served over real HTTP: unsubscribe (confirm page, one-click POST), the pixel, click redirects."""

from __future__ import annotations

import time

import pytest
from crm_workspace_marketing import analytics, sending, tracking
from crm_workspace_marketing.core import sign
from marketing_helpers import audience, campaign, links_in, pixel_in, served_routes, unsubscribe_link

from crm_workspace import Workspace
from crm_workspace.testing import configure_smtp


@pytest.fixture
def sent(demo_db, smtpd):
    """A campaign sent to a small audience, its routes served; (ws, routes, messages, people)."""
    ws = Workspace.open(demo_db, user="ana")
    ws.set_setting("marketing_machine_seconds", 0)  # the test opens at once: only the user-agent rules apply
    configure_smtp(ws, smtpd.port)
    with served_routes(ws) as routes:
        people = audience(ws, 9, "trk")
        campaign(ws, "Tracked", "trk")
        sending.send(ws, "Tracked")
        yield ws, routes, smtpd.messages, people
    ws.close()


def events(ws, kind=None):
    """The events of the test's campaign (the demo has its own history)."""
    campaign = ws.store.scalar("SELECT id FROM campaigns WHERE name = 'Tracked'")
    sql = "SELECT * FROM marketing_events WHERE campaign_id = ?" + (" AND kind = ?" if kind else "") + " ORDER BY id"
    return ws.query(sql, [campaign, kind] if kind else [campaign])


def test_the_unsubscribe_link_of_a_received_message_confirms_then_withdraws(sent):
    ws, routes, messages, _people = sent
    message = messages[0]
    contact = ws.query("SELECT * FROM contacts WHERE email = ?", [message["To"]])[0]
    link = unsubscribe_link(message)
    status, _headers, page = routes.request(link)
    assert status == 200 and "Unsubscribe" in page and "<form" in page
    assert ws.store.get("contacts", contact["id"])["marketing_consent"] == 1  # a GET (a scanner) changes nothing
    status, _headers, page = routes.request(
        link, "POST", b"confirm=1", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and "unsubscribed" in page
    after = ws.store.get("contacts", contact["id"])
    assert after["marketing_consent"] == 0 and after["consent_source"] == "unsubscribe link"
    assert [e["contact_id"] for e in events(ws, "unsubscribe")] == [contact["id"]]
    timeline = ws.query("SELECT subject FROM activities WHERE contact_id = ? AND kind = 'email'", [contact["id"]])
    assert any("Unsubscribed" in a["subject"] for a in timeline)


def test_one_click_post_per_rfc_8058(sent):
    ws, routes, messages, _people = sent
    message = messages[1]
    status, _h, _page = routes.request(
        unsubscribe_link(message),
        "POST",
        b"List-Unsubscribe=One-Click",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert (
        ws.query("SELECT marketing_consent FROM contacts WHERE email = ?", [message["To"]])[0]["marketing_consent"] == 0
    )
    stats = analytics.campaign_stats(ws).set_index("name").loc["Tracked"]
    assert stats["unsubscribes"] == 1


def test_a_tampered_or_expired_link_records_nothing(sent):
    ws, routes, messages, _people = sent
    link = unsubscribe_link(messages[0])
    body, mac = link.rsplit("/", 1)[1].split(".")
    tampered = link.rsplit("/", 1)[0] + "/" + body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    for method in ("GET", "POST"):
        status, headers, page = routes.request(tampered, method, b"" if method == "POST" else None)
        assert status == 400 and "not valid" in page and headers["Content-Type"].startswith("text/html")
    old = sign(ws, tracking.OPEN, {"c": 1, "k": 1}, max_age=60, now=time.time() - 3600)
    status, _h, page = routes.request(f"{routes.base}/m/o/{old}.gif")
    assert status == 400 and "expired" in page
    forged = sign(ws, tracking.UNSUBSCRIBE, {"c": 1, "k": 1})  # a token for unsubscribing, used as a click
    status, _h, _page = routes.request(f"{routes.base}/m/c/{forged}")
    assert status == 400
    assert events(ws) == []


def test_clicks_redirect_only_to_the_campaigns_links(sent):
    ws, routes, messages, _people = sent
    message = messages[2]
    tracked = [u for u in links_in(message) if "/m/c/" in u]
    status, headers, _ = routes.request(tracked[0] + "?url=https://evil.example/")
    assert status == 302 and headers["Location"] == "https://example.com/offer?a=1&b=2"
    status, headers, _ = routes.request(tracked[1])
    assert status == 302 and headers["Location"] == "https://example.com/blog"
    campaign_id = ws.store.scalar("SELECT id FROM campaigns WHERE name = 'Tracked'")
    contact = ws.query("SELECT id FROM contacts WHERE email = ?", [message["To"]])[0]["id"]
    beyond = sign(ws, tracking.CLICK, {"c": campaign_id, "k": contact, "l": 99})
    status, _h, page = routes.request(f"{routes.base}/m/c/{beyond}")
    assert status == 404 and "not part of that e-mail" in page
    clicks = events(ws, "click")
    assert [e["url"] for e in clicks] == ["https://example.com/offer?a=1&b=2", "https://example.com/blog"]
    assert all(e["machine"] == 0 and e["contact_id"] == contact for e in clicks)


def test_machine_opens_and_clicks_never_count(sent):
    ws, routes, messages, _people = sent
    pixel = pixel_in(messages[0])
    scanner = {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}
    status, headers, _ = routes.request(pixel, headers=scanner)
    assert status == 200 and headers["Content-Type"] == "image/gif"
    status, _h, _ = routes.request(next(u for u in links_in(messages[0]) if "/m/c/" in u), headers=scanner)
    assert status == 302  # the link still works for the scanner
    machine = events(ws)
    assert [(e["kind"], e["machine"]) for e in machine] == [("open", 1), ("click", 1)]
    assert "scanner" in machine[0]["reason"]
    stats = analytics.campaign_stats(ws).set_index("name").loc["Tracked"]
    assert stats["unique_opens"] == 0 and stats["clicks"] == 0 and stats["machine_events"] == 2
    contact = machine[0]["contact_id"]
    assert ws.store.get("contacts", contact)["marketing_consent"] == 1
    assert not ws.query("SELECT 1 FROM activities WHERE contact_id = ? AND kind = 'email'", [contact])
    # a person opening twice: one unique open, one activity
    routes.request(pixel)
    routes.request(pixel)
    stats = analytics.campaign_stats(ws).set_index("name").loc["Tracked"]
    assert stats["unique_opens"] == 1
    assert len(ws.query("SELECT 1 FROM activities WHERE contact_id = ? AND subject LIKE 'Opened%'", [contact])) == 1


def test_an_open_right_after_delivery_is_a_machine(sent):
    ws, routes, messages, _people = sent
    ws.set_setting("marketing_machine_seconds", 120)
    routes.request(pixel_in(messages[1]))
    (event,) = events(ws, "open")
    assert event["machine"] == 1 and "of delivery" in event["reason"]
