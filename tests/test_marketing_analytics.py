"""Campaign analytics as a notebook reads them: first- and last-touch attribution of deals, and the
sending ledger a person watches (backlog, rate, last run, every failure with its reason)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crm_workspace_marketing import sending, tracking
from marketing_helpers import audience, campaign

from crm_workspace import Workspace
from crm_workspace.testing import configure_smtp, smtp_server


@pytest.fixture
def ws(demo_db):
    workspace = Workspace.open(demo_db, user="ana")
    workspace.set_setting("public_url", "https://crm.example.com")
    yield workspace
    workspace.close()


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_first_and_last_touch_credit_each_deal_once_and_influence_counts_every_campaign(ws):
    audience(ws, 3, "att")
    first, last, machine = (campaign(ws, name, "att") for name in ("Touch 1", "Touch 2", "Scanned"))
    person = ws.store.insert("contacts", {"first_name": "Ada", "last_name": "Touch", "email": "ada.touch@example.com"})
    other = ws.store.insert("contacts", {"first_name": "Bo", "last_name": "Touch", "email": "bo.touch@example.com"})

    def event(kind, row, contact, days, agent="Mozilla/5.0"):
        tracking.record_event(
            ws, kind, campaign_id=row["id"], contact_id=contact["id"], user_agent=agent, at=days_ago(days)
        )

    def deal(contact, amount, days, **changes):
        made = ws.store.insert(
            "deals", {"title": f"{contact['first_name']} {amount}", "contact_id": contact["id"], "amount": amount}
        )
        ws.store.update("deals", made["id"], {"created_at": days_ago(days), **changes})

    ws.set_setting("marketing_scanner_agents", ["(?i)barracuda"])
    event("open", first, person, 20)
    event("click", last, person, 12)
    event("open", last, person, 11)  # a second touch of the same campaign: still one deal
    event("click", machine, person, 10, agent="Barracuda Link Protection")  # a machine: no credit
    deal(person, 1000, 5, status="won")
    deal(person, 400, 4)  # open: pipeline, not revenue
    event("open", first, other, 200)  # too long before the deal (90-day window)
    deal(other, 9999, 2, status="won")
    frame = ws.df("marketing.attribution").set_index("name")
    assert "first_rank" in frame.attrs["sql"] and ":days" in frame.attrs["sql"]
    one, two, scanned = frame.loc["Touch 1"], frame.loc["Touch 2"], frame.loc["Scanned"]
    assert (one.first_touch_deals, one.first_touch_revenue, one.last_touch_deals) == (2, 1000, 0)
    assert (two.first_touch_deals, two.last_touch_deals, two.last_touch_revenue) == (0, 2, 1000)
    assert one.influenced_deals == two.influenced_deals == 2
    assert one.influenced_pipeline == two.influenced_pipeline == 1400  # every campaign that touched a deal
    assert scanned.influenced_deals == 0 and scanned.influenced_pipeline == 0
    wider = ws.df("marketing.attribution", days=365).set_index("name").loc["Touch 1"]
    assert wider.first_touch_deals == 3 and wider.first_touch_revenue == 10999


def test_the_sending_ledger_shows_backlog_rate_last_run_and_each_failure_with_its_reason(ws):
    people = audience(ws, 12, "watch")  # 4 consenting
    refused = ws.store.get("contacts", people["given"][0])["email"]
    campaign(ws, "Watched", "watch")
    with smtp_server(refuse={refused: 550}) as server:
        configure_smtp(ws, server.port)
        sending.send(ws, "Watched", limit=2)
        state = ws.df("marketing.sending", campaign="Watched").iloc[0]
        assert state.messages == 4 and state.backlog == 2 and state.sent + state.failed == 2
        assert state.last_run and state.per_minute_last_10_min > 0
        sending.send(ws, "Watched")
    state = ws.df("marketing.sending", campaign="Watched").iloc[0]
    assert (state.backlog, state.sent, state.failed) == (0, 3, 1)
    failed = ws.df("marketing.failures", campaign="Watched")
    assert list(failed.recipient) == [refused] and "550" in failed.reason.iloc[0]
    assert "mail_outbox" in failed.attrs["sql"] and "mail_outbox" in ws.df("marketing.campaigns").attrs["sql"]
