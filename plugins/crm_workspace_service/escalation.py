"""The escalation rule: a ticket past its SLA is escalated once, within business hours only.

``service_escalation`` says what happens: ``notify`` e-mails the assignee (or, when nobody is
assigned, every admin with an address) through the core outbox; ``reassign:USERNAME`` hands
the ticket over; ``off`` does nothing. The scheduler's tick runs it; outside the ticket's
business hours (at midnight, on a Sunday, on a holiday) it waits for the next opening, so
nobody is paged at night for a clock that was not even running.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .rules import load_policies
from .sla import Calendar, iso

if TYPE_CHECKING:
    from crm_workspace import Workspace


def due(rows: list[dict], calendars: dict[int, Calendar], now: datetime) -> list[dict]:
    """The breached tickets to escalate now (pure): past due, not escalated since, calendar open now."""
    out = []
    for row in rows:
        due_at = row.get("sla_due_at")
        if not due_at or due_at > iso(now):
            continue
        if row.get("escalated_at") and row["escalated_at"] >= due_at:
            continue
        calendar = calendars.get(row.get("sla_policy_id"))
        if calendar is not None and not calendar.is_open(now):
            continue
        out.append(row)
    return out


def run(workspace: Workspace, now: datetime) -> int:
    """Escalate what is due; how many tickets."""
    rule = str(workspace.setting("service_escalation", "notify") or "off")
    if rule == "off":
        return 0
    store = workspace.store
    rows = workspace.query(
        "SELECT id, subject, assignee, sla_policy_id, sla_due_at, escalated_at, version FROM tickets"
        " WHERE is_open = 1 AND sla_sort <= ? AND (escalated_at IS NULL OR escalated_at < sla_due_at)",
        [iso(now)],
    )
    calendars = {pid: p.calendar for pid, p in load_policies(store).items()}
    todo = due(rows, calendars, now)
    for row in todo:
        with store.transaction():
            changes = {"escalated_at": iso(now)}
            if rule.startswith("reassign:"):
                changes["assignee"] = rule.split(":", 1)[1]
            else:
                _notify(workspace, row)
            store.update("tickets", row["id"], changes)
    return len(todo)


def _notify(workspace: Workspace, row: dict) -> None:
    from crm_workspace.services.mailer import make_message
    from crm_workspace.services.outbox import enqueue

    people = (
        workspace.query("SELECT email FROM users WHERE username = ? AND email IS NOT NULL", [row["assignee"]])
        if row["assignee"]
        else []
    )
    if not people:
        people = workspace.query(
            "SELECT email FROM users WHERE role = 'admin' AND email IS NOT NULL AND coalesce(active, 1) = 1"
        )
    for person in people:
        message = make_message(
            to=person["email"],
            subject=f"SLA breached: [#{row['id']}] {row['subject']}",
            text=f"Ticket #{row['id']} ({row['subject']}) passed its SLA target at {row['sla_due_at']}.",
            headers={"Auto-Submitted": "auto-generated"},
        )
        enqueue(
            workspace,
            message,
            key=f"service:escalation:{row['id']}:{row['sla_due_at']}:{person['email']}",
            plugin="service",
            ref_table="tickets",
            ref_id=row["id"],
        )
