"""Tickets through the Store: history appended, SLA columns derived, stale replies refused, the queue."""

from __future__ import annotations

import pytest
from crm_workspace_service import clock
from crm_workspace_service.queue import Filters, count, page
from crm_workspace_service.rules import ticket_sla
from crm_workspace_service.tickets import bulk_update, create_ticket, post_message

from crm_workspace.errors import ConflictError, ValidationError
from crm_workspace.testing import make_workspace


@pytest.fixture
def ws(tmp_path):
    clock.set_now("2026-11-30T09:00:00Z")  # a Monday, 09:00 UTC: the default calendar opens
    workspace = make_workspace(tmp_path / "crm.db", user="ana")
    workspace.store.insert("users", {"username": "ana", "display_name": "Ana", "role": "admin"}) if not workspace.query(
        "SELECT 1 FROM users WHERE username = 'ana'"
    ) else None
    yield workspace
    workspace.close()
    clock.set_now(None)


def contact(ws, email="kim@example.com"):
    return ws.store.insert("contacts", {"first_name": "Kim", "last_name": "Lee", "email": email})["id"]


def test_a_ticket_gets_history_and_sla_due_times(ws):
    ticket = create_ticket(ws, subject="Printer on fire", requester_id=contact(ws), priority="high")
    assert ticket["status"] == "new" and ticket["is_open"] == 1 and ticket["sla_policy_id"] == 1
    # Standard policy, high: first response 4 business hours, resolution 8
    assert ticket["sla_first_response_due_at"] == "2026-11-30T13:00:00Z"
    assert ticket["sla_resolution_due_at"] == "2026-11-30T17:00:00Z"
    assert ticket["sla_due_at"] == ticket["sla_sort"] == "2026-11-30T13:00:00Z"
    history = ws.query(
        "SELECT from_status, to_status, priority, at FROM ticket_status_history WHERE ticket_id = ?", [ticket["id"]]
    )
    assert history == [{"from_status": None, "to_status": "new", "priority": "high", "at": "2026-11-30T09:00:00Z"}]

    clock.set_now("2026-11-30T10:00:00Z")
    ticket = ws.store.update("tickets", ticket["id"], {"status": "pending"})
    assert ticket["sla_due_at"] is None and ticket["sla_sort"] > "9"  # paused: nothing due
    clock.set_now("2026-12-01T09:00:00Z")
    ticket = ws.store.update("tickets", ticket["id"], {"status": "open"})
    # 1 h worked before the pause: 3 h left of the first response
    assert ticket["sla_first_response_due_at"] == "2026-12-01T12:00:00Z"
    assert [h["to_status"] for h in ws.query("SELECT to_status FROM ticket_status_history ORDER BY id")] == [
        "new",
        "pending",
        "open",
    ]


def test_a_note_does_not_stop_the_clock_and_a_stale_write_is_refused(ws):
    ticket = create_ticket(ws, subject="Invoice wrong", requester_id=contact(ws))
    clock.set_now("2026-11-30T09:30:00Z")
    post_message(ws, ticket["id"], kind="note", body_text="checking with billing", version=ticket["version"])
    fresh = ws.store.get("tickets", ticket["id"])
    assert fresh["first_response_at"] is None
    with pytest.raises(ConflictError):
        post_message(ws, ticket["id"], kind="note", body_text="stale", version=ticket["version"])
    assert ws.store.scalar("SELECT count(*) FROM ticket_messages WHERE ticket_id = ?", [ticket["id"]]) == 1
    state = ticket_sla(ws, fresh, now=clock.now())
    assert state.first_response.state == "ok" and state.first_response.elapsed == 30


def test_inbound_message_reopens_and_solved_stamps(ws):
    ticket = create_ticket(ws, subject="Login", requester_id=contact(ws))
    ticket = ws.store.update("tickets", ticket["id"], {"status": "solved"})
    assert ticket["solved_at"] == "2026-11-30T09:00:00Z" and ticket["is_open"] == 0
    post_message(ws, ticket["id"], kind="inbound", body_text="still broken", sender="kim@example.com")
    ticket = ws.store.get("tickets", ticket["id"])
    assert ticket["status"] == "open" and ticket["reopened"] == 1 and ticket["solved_at"] is None


def test_bad_values_are_refused(ws):
    with pytest.raises(ValidationError) as error:
        create_ticket(ws, subject="x", priority="critical")
    assert "priority" in error.value.errors
    with pytest.raises(ValidationError):
        create_ticket(ws, subject="")
    with pytest.raises(ValidationError):
        ws.store.insert("business_calendars", {"name": "bad", "tz": "Nowhere/Land"})
    assert ws.store.scalar("SELECT count(*) FROM tickets") == 0


def test_queue_views_and_keyset_pages(ws):
    kim = contact(ws)
    for n in range(7):
        create_ticket(
            ws,
            subject=f"ticket {n}",
            requester_id=kim,
            priority=("urgent", "normal")[n % 2],
            assignee="ana" if n < 3 else None,
            team="billing" if n % 3 == 0 else "tech",
        )
    first, cursor = page(ws, Filters("open"), limit=3)
    second, cursor2 = page(ws, Filters("open"), after=cursor, limit=3)
    third, end = page(ws, Filters("open"), after=cursor2, limit=3)
    ids = [r["id"] for r in first + second + third]
    assert len(ids) == len(set(ids)) == 7 and end is None
    assert [r["priority"] for r in first][:2] == ["urgent", "urgent"]  # most urgent due first
    assert first[0]["requester"] == "Kim Lee"
    assert count(ws, Filters("mine")) == 3 and count(ws, Filters("unassigned")) == 4
    assert count(ws, Filters("open", team="billing")) == 3
    bulk_update(ws, [ids[0], ids[1]], {"assignee": "ben"})
    assert count(ws, Filters("open", assignee="ben")) == 2
    clock.set_now("2026-11-30T09:45:00Z")  # urgent: first response within 60 business minutes
    assert count(ws, Filters("breaching")) == 4
    clock.set_now("2026-11-30T10:30:00Z")
    assert count(ws, Filters("breached")) == 4 and count(ws, Filters("breaching")) == 0
    assert [r["id"] for r in page(ws, Filters("all", text="#3"))[0]] == [3]


def test_changing_a_policy_moves_the_due_times_of_open_tickets(ws):
    from crm_workspace_service.setup import policies, save_calendar, save_policies

    ticket = create_ticket(ws, subject="Slow", priority="high")
    assert ticket["sla_first_response_due_at"] == "2026-11-30T13:00:00Z"
    rows = policies(ws)
    rows[0]["first_response_high"] = 120
    save_policies(ws, rows)
    assert ws.store.get("tickets", ticket["id"])["sla_first_response_due_at"] == "2026-11-30T11:00:00Z"
    # the office opens at 10:00 from now on: the same two business hours end at 12:00
    save_calendar(ws, 1, name="Office", tz="UTC", hours='{"mon": [["10:00", "17:00"]]}', holidays="")
    assert ws.store.get("tickets", ticket["id"])["sla_first_response_due_at"] == "2026-11-30T12:00:00Z"


def test_performance_medians_p90_compliance_and_reopen_rate(ws):
    from crm_workspace_service.metrics import backlog, performance

    for n, minutes in enumerate([10, 20, 30, 40, 50]):
        t = create_ticket(ws, subject=f"t{n}", assignee="ana", team="tech")
        ws.store.update("tickets", t["id"], {"status": "solved"})
        if n == 0:
            ws.store.update("tickets", t["id"], {"status": "open"})  # reopened once
            ws.store.update("tickets", t["id"], {"status": "solved"})
        # the business minutes the clocks would have measured (the test clock does not move here)
        stamps = {"first_response_minutes": minutes, "resolution_minutes": minutes * 10, "sla_breached": int(n == 4)}
        ws.store.update("tickets", t["id"], stamps)
    row = performance(ws, "assignee").set_index("assignee").loc["ana"]
    assert (row["tickets"], row["solved"]) == (5, 5)
    assert row["first_response_median_h"] == round(30 / 60, 2) and row["first_response_p90_h"] == round(50 / 60, 2)
    assert row["resolution_median_h"] == 5.0 and row["resolution_p90_h"] == round(500 / 60, 2)
    assert row["sla_compliance_pct"] == 80.0 and row["reopen_rate_pct"] == 20.0
    create_ticket(ws, subject="still open", priority="urgent")
    assert backlog(ws).to_dict("records") == [
        {"age": "1: under a day", "urgent": 1, "high": 0, "normal": 0, "low": 0, "total": 1}
    ]


def test_the_home_card_counts_breaches_on_the_service_clock(ws):
    from crm_workspace_service.metrics import kpis

    def breached():
        card = next(m for m in kpis(ws) if m.key == "service_breached")
        return card.value, card.sql

    create_ticket(ws, subject="Printer on fire", requester_id=contact(ws), priority="high")  # due 13:00 on 30 Nov
    assert breached()[0] == 0  # 09:00 on the test clock, though the real clock may be days later
    clock.set_now("2026-11-30T14:00:00Z")
    value, sql = breached()
    assert value == 1 and "2026-11-30T14:00:00Z" in sql and ws.store.scalar(sql) == 1  # the SQL reproduces it
