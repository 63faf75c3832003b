"""What every write to the service tables must respect, and the fields derived on the way in.

A ticket's SLA columns (``sla_*_due_at``, ``sla_due_at``, ``sla_sort``, the business minutes
to first response and resolution, ``sla_breached``) are derived here from the status history
and the pure ``sla`` module whenever status, priority, policy or the first reply change, in
the same write (one version bump). ``crm_record_changed`` then appends the history row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import nh3

from crm_workspace.data import checks

from . import clock
from .schema import CHANNELS, MESSAGE_KINDS, OPEN_STATUSES, PRIORITIES, SEND_STATUSES, STATUSES
from .sla import STOPPED, Calendar, Event, Policy, iso, parse_time, sla_state

if TYPE_CHECKING:
    from crm_workspace import Workspace

FAR = "9999-12-31T00:00:00Z"
SLA_INPUTS = ("status", "priority", "sla_policy_id", "first_response_at")


def calendar_of(row: dict) -> Calendar:
    return Calendar.from_spec(row.get("tz") or "UTC", row.get("hours") or "{}", row.get("holidays") or "[]")


def load_policies(store) -> dict[int, Policy]:
    """Every SLA policy with its calendar, by id."""
    calendars = {r["id"]: r for r in store.query("SELECT * FROM business_calendars")}
    out = {}
    for row in store.query("SELECT * FROM sla_policies"):
        cal_row = calendars.get(row["calendar_id"])
        calendar = calendar_of(cal_row) if cal_row else Calendar.always()
        targets = {m: {p: row.get(f"{m}_{p}") for p in PRIORITIES} for m in ("first_response", "resolution")}
        out[row["id"]] = Policy(row["id"], row["name"], calendar, targets["first_response"], targets["resolution"])
    return out


def default_policy_id(store) -> int | None:
    return store.scalar("SELECT id FROM sla_policies ORDER BY is_default DESC, id LIMIT 1")


def history_events(store, ticket_id: int, policies: dict[int, Policy]) -> list[Event]:
    rows = store.query(
        "SELECT at, to_status, priority, sla_policy_id FROM ticket_status_history WHERE ticket_id = ? ORDER BY at, id",
        [ticket_id],
    )
    return [
        Event(parse_time(r["at"]), r["to_status"], r["priority"] or "normal", policies.get(r["sla_policy_id"]))
        for r in rows
    ]


def ticket_sla(workspace: Workspace, ticket: dict, now: datetime | None = None):
    """The SLA of a stored ticket at ``now`` (the clock's now by default), replayed from its history."""
    store = workspace.store
    policies = load_policies(store)
    events = history_events(store, ticket["id"], policies)
    reply = parse_time(ticket["first_response_at"]) if ticket.get("first_response_at") else None
    soon = float(workspace.setting("service_sla_soon_minutes", 60) or 60)
    return sla_state(events, now or clock.now(), first_reply_at=reply, soon=soon)


def _tags(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value.split(",")
        value = parsed if isinstance(parsed, list) else [str(parsed)]
    tags = sorted({str(t).strip().lower() for t in value if str(t).strip()})
    return json.dumps(tags) if tags else None


def check_ticket(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    checks.strip_text(record)
    checks.required(record, before, "subject", errors)
    for field, allowed in (("priority", PRIORITIES), ("status", STATUSES), ("channel", CHANNELS)):
        checks.choice(record, field, allowed, errors)
    if "tags" in record:
        record["tags"] = _tags(record["tags"])
    if errors:
        return errors
    derive(workspace, record, before)
    return errors


def derive(workspace: Workspace, record: dict, before: dict | None) -> None:
    """Stamps (solved, closed, reopened) and the SLA columns, from the ticket as it will be.

    An insert that brings ``sla_sort`` keeps its stamps and SLA columns: it replays a history
    (the demo, an import from another help desk) that a single row cannot show.
    """
    store = workspace.store
    now = clock.now()
    merged = {**(before or {}), **record}
    if before is None:
        for column, default in (("status", "new"), ("priority", "normal"), ("channel", "web"), ("reopened", 0)):
            if record.get(column) is None:
                record[column] = merged[column] = default
        record.setdefault("created_at", iso(now))
        merged["created_at"] = record["created_at"]
        if record.get("sla_policy_id") is None:
            record["sla_policy_id"] = merged["sla_policy_id"] = default_policy_id(store)
    status = merged.get("status") or "new"
    record["is_open"] = int(status in OPEN_STATUSES)
    old = (before or {}).get("status")
    if before is None and "sla_sort" in record:
        # a replayed history (the demo, a migration from another help desk) brings its own
        # stamps and SLA columns, computed from the whole history this single row cannot show
        return
    if status != old:
        if status == "solved" and old != "closed":
            record["solved_at"] = iso(now)
        if status == "closed":
            record["closed_at"] = iso(now)
            if not merged.get("solved_at"):
                record["solved_at"] = iso(now)
        if old in STOPPED and status not in STOPPED:
            record["reopened"] = (merged.get("reopened") or 0) + 1
            record["solved_at"] = record["closed_at"] = None
    if before is not None and not any(k in record and record[k] != before.get(k) for k in SLA_INPUTS):
        return
    policies = load_policies(store)
    at = parse_time(merged["created_at"]) if before is None else now
    events = [] if before is None else history_events(store, before["id"], policies)
    events.append(Event(at, status, merged.get("priority") or "normal", policies.get(merged.get("sla_policy_id"))))
    reply = parse_time(merged["first_response_at"]) if merged.get("first_response_at") else None
    state = sla_state(events, max(now, at), first_reply_at=reply)
    record.update(sla_columns(state, status, merged.get("sla_breached")))


def sla_columns(state, status: str, breached_before=None) -> dict:
    """The stored SLA columns of a ticket in ``status`` whose clocks are ``state``."""
    fr, res = state.first_response, state.resolution
    pending = ("ok", "soon", "breached", "paused")
    out = {}
    for name, c in (("sla_first_response_due_at", fr), ("sla_resolution_due_at", res)):
        moment = c.due_at or c.breached_at
        out[name] = iso(moment) if c.state in pending and moment else None
    due = state.due_at
    out["sla_due_at"] = iso(due) if due and status in OPEN_STATUSES else None
    out["sla_sort"] = out["sla_due_at"] or FAR
    if fr.state in ("met", "missed"):
        out["first_response_minutes"] = round(fr.elapsed, 1)
    if res.state in ("met", "missed"):
        out["resolution_minutes"] = round(res.elapsed, 1)
    breached = any(c.state in ("missed", "breached") for c in state.clocks)
    out["sla_breached"] = int(breached or bool(breached_before))  # once breached, always counted
    return out


def check_message(record: dict, before: dict | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    checks.required(record, before, "ticket_id", errors)
    checks.choice(record, "kind", MESSAGE_KINDS, errors)
    checks.choice(record, "send_status", SEND_STATUSES, errors)
    if record.get("body_html"):
        record["body_html"] = nh3.clean(str(record["body_html"]))
    if before is None and not (record.get("body_text") or record.get("body_html")):
        errors["body_text"] = "a message needs some text"
    return errors


def check_attachment(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    checks.required(record, before, "filename", errors)
    limit = int(workspace.setting("service_attachment_max_bytes", 10_000_000))
    if record.get("sha256") and (record.get("size") or 0) > limit:
        errors["size"] = f"attachment is {record['size']:,} bytes; the limit is {limit:,}"
    if record.get("filename"):
        record["filename"] = safe_filename(record["filename"])
    return errors


def safe_filename(name: str) -> str:
    """A file name fit for a Content-Disposition header: no path, no control or quote characters."""
    name = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>:|?*;')
    return name.strip(" .")[:150] or "attachment"


def check_calendar(record: dict, before: dict | None) -> dict[str, str]:
    merged = {**(before or {}), **record}
    try:
        calendar_of(merged)
    except (ValueError, TypeError) as error:
        text = str(error)
        return {"tz" if "time zone" in text else "holidays" if "holiday" in text else "hours": text}
    for field in ("hours", "holidays"):
        if isinstance(record.get(field), dict | list):
            record[field] = json.dumps(record[field])
    return {}


def check_policy(record: dict, before: dict | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    checks.required(record, before, "name", errors)
    for metric in ("first_response", "resolution"):
        for p in PRIORITIES:
            checks.number(record, f"{metric}_{p}", errors, low=1)
    return errors


def history_rows(changes) -> list[dict]:
    """A ``ticket_status_history`` row for each ticket inserted or whose status, priority or policy changed."""
    rows = []
    for change in changes:
        if change.table != "tickets" or change.action == "delete":
            continue
        after = change.after
        if change.action == "update" and not any(change.changed(f) for f in ("status", "priority", "sla_policy_id")):
            continue
        at = after["created_at"] if change.action == "insert" else clock.now_iso()
        rows.append(
            {
                "ticket_id": change.id,
                "at": at,
                "from_status": (change.before or {}).get("status"),
                "to_status": after["status"],
                "priority": after["priority"],
                "sla_policy_id": after["sla_policy_id"],
                "by": change.user,
            }
        )
    return rows


def refresh_open(workspace: Workspace) -> int:
    """Recompute the stored SLA columns of every open ticket (after a calendar or policy changed); how many changed."""
    store = workspace.store
    policies = load_policies(store)
    now = clock.now()
    rows = store.query("SELECT * FROM tickets WHERE is_open = 1")
    history: dict[int, list[Event]] = {}
    for h in store.query(
        "SELECT h.ticket_id, h.at, h.to_status, h.priority, h.sla_policy_id FROM ticket_status_history h"
        " JOIN tickets t ON t.id = h.ticket_id WHERE t.is_open = 1 ORDER BY h.ticket_id, h.at, h.id"
    ):
        history.setdefault(h["ticket_id"], []).append(
            Event(parse_time(h["at"]), h["to_status"], h["priority"] or "normal", policies.get(h["sla_policy_id"]))
        )
    updates = []
    for row in rows:
        reply = parse_time(row["first_response_at"]) if row["first_response_at"] else None
        state = sla_state(history.get(row["id"], []), now, first_reply_at=reply)
        columns = sla_columns(state, row["status"], row["sla_breached"])
        changed = {k: v for k, v in columns.items() if row.get(k) != v}
        if changed:
            updates.append((row["id"], changed, None))
    if updates:
        store.update_many("tickets", updates)
    return len(updates)
