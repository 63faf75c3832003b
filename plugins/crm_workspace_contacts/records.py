"""One contact's or organization's data: timeline, lifecycle, deals, relationships, tags, tasks.

What a record page shows, read in SQL; and the few writes it offers (log an
activity, mark a task done), which go through the Store like every write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from crm_workspace import Workspace
from crm_workspace.data.store import utcnow
from crm_workspace.web.display import day, label

from . import labels

#: each activity kind's icon (a name of crm_workspace.web.icons: shipped with the app, unlike an emoji font)
ACTIVITY_ICONS = {"call": "phone", "email": "mail", "meeting": "users", "note": "note", "task": "checkbox"}
_MARKETING = re.compile(r"newsletter|case study|campaign|webinar|event|content|social", re.I)
_SERVICE = re.compile(r"support|invoice|renewal|review|qbr|question|ticket|complain|onboard", re.I)
_MARKETING_STAGES = {"subscriber", "lead", "marketing_qualified"}


def function_of(activity: dict) -> str:
    """Which team a touchpoint belongs to: marketing, service or sales."""
    text = f"{activity.get('subject') or ''} {activity.get('body') or ''}"
    if (activity.get("channel") in ("web", "social") and activity.get("kind") != "note") or _MARKETING.search(text):
        return "marketing"
    if _SERVICE.search(text):
        return "service"
    return "sales"


def merged_ids(workspace: Workspace, table: str, record_id: int) -> list[int]:
    """Ids of records merged into this one (their lifecycle history belongs to it)."""
    rows = workspace.store.query(
        "SELECT loser_id FROM merge_log WHERE table_name = ? AND winner_id = ? AND status = 'merged'",
        [table, record_id],
    )
    return [r["loser_id"] for r in rows]


def lifecycle_history(workspace: Workspace, contact_id: int) -> list[dict]:
    ids = [contact_id, *merged_ids(workspace, "contacts", contact_id)]
    marks = ", ".join("?" * len(ids))
    return workspace.store.query(
        f"SELECT at, from_stage, to_stage, by, contact_id FROM lifecycle_events WHERE contact_id IN ({marks})"
        " ORDER BY at DESC, id DESC",
        ids,
    )


def timeline(workspace: Workspace, table: str, record_id: int, limit: int = 100) -> list[dict]:
    """Every touchpoint of a contact or organization, newest first.

    Items: at, kind, icon, function, channel, subject, body, by, source ('activity',
    'stage', 'edit'), id.
    """
    store = workspace.store
    key = "contact_id" if table == "contacts" else "organization_id"
    items = []
    for a in store.query(
        "SELECT id, kind, subject, body, channel, owner, coalesce(occurred_at, due_at, created_at) AS at, due_at, done"
        f" FROM activities WHERE {key} = ? ORDER BY at DESC LIMIT ?",
        [record_id, limit],
    ):
        subject = a["subject"] or a["kind"]
        if a["kind"] == "task":
            subject += " (done)" if a["done"] else f" (due {day(a['due_at']) or 'no date'})"
        items.append(
            {
                "at": a["at"],
                "kind": a["kind"],
                "icon": ACTIVITY_ICONS.get(a["kind"], "note"),
                "function": function_of(a),
                "channel": a["channel"] or "",
                "subject": subject,
                "body": a["body"] or "",
                "by": a["owner"] or "",
                "source": "activity",
                "id": a["id"],
            }
        )
    if table == "contacts":
        for e in lifecycle_history(workspace, record_id)[:limit]:
            items.append(
                {
                    "at": e["at"],
                    "kind": "stage",
                    "icon": "refresh",
                    "function": "marketing" if e["to_stage"] in _MARKETING_STAGES else "sales",
                    "channel": "",
                    "subject": f"Lifecycle stage: {label(e['from_stage']) or '—'} → {label(e['to_stage'])}",
                    "body": "",
                    "by": e["by"] or "",
                    "source": "stage",
                    "id": None,
                }
            )
    for row in store.query(
        "SELECT id, at, user, action, changes FROM audit_log WHERE table_name = ? AND row_id = ?"
        " AND action = 'update' ORDER BY at DESC, id DESC LIMIT ?",
        [table, str(record_id), limit],
    ):
        try:
            body = json.loads(row["changes"] or "{}")
        except ValueError:
            body = {}
        changes = _edit_changes(workspace, table, body.get("before") or {}, body.get("after") or {})
        fields = ", ".join(f"{name}: {old} → {new}" for name, old, new in changes)
        items.append(
            {
                "at": row["at"],
                "kind": "edit",
                "icon": "edit",
                "function": "",
                "channel": "",
                "subject": "Record edited" + (" (merge)" if "merge" in (body.get("context") or {}) else ""),
                "body": fields,
                "changes": changes,
                "by": row["user"] or "",
                "source": "edit",
                "id": row["id"],
            }
        )
    items.sort(key=lambda item: item["at"] or "", reverse=True)
    return items[:limit]


def _edit_changes(workspace: Workspace, table: str, before: dict, after: dict) -> list[tuple[str, str, str]]:
    """An audited edit as (label, old, new) for people: labels, stored words in words, an organization by name."""
    out = []
    for column, new in after.items():
        if column in labels.INTERNAL:
            continue
        old = before.get(column)
        if column == "organization_id":
            names = workspace.store.rows_by_id("organizations", [i for i in (old, new) if i is not None])
            old, new = (names[i]["name"] if i in names else i for i in (old, new))
        out.append((labels.field_label(table, column), labels.value_text(column, old), labels.value_text(column, new)))
    return out


def deals_of(workspace: Workspace, table: str, record_id: int) -> list[dict]:
    key = "contact_id" if table == "contacts" else "organization_id"
    return workspace.store.query(
        f"SELECT id, title, stage, amount, currency, status, expected_close, owner FROM deals WHERE {key} = ?"
        " ORDER BY coalesce(expected_close, '') DESC, id DESC",
        [record_id],
    )


def related_people(workspace: Workspace, table: str, record_id: int) -> list[dict]:
    """Relationships touching a record, with the other end's name."""
    name = (
        "CASE WHEN {t} = 'contacts' THEN (SELECT trim(coalesce(first_name,'') || ' ' || coalesce(last_name,''))"
        " FROM contacts WHERE id = {i}) ELSE (SELECT name FROM organizations WHERE id = {i}) END"
    )
    return workspace.store.query(
        f"SELECT r.kind, 'to' AS direction, r.target_type AS other_type, r.target_id AS other_id,"
        f" {name.format(t='r.target_type', i='r.target_id')} AS other FROM relationships r"
        " WHERE r.source_type = ? AND r.source_id = ?"
        f" UNION ALL SELECT r.kind, 'from', r.source_type, r.source_id, {name.format(t='r.source_type', i='r.source_id')}"
        " FROM relationships r WHERE r.target_type = ? AND r.target_id = ?",
        [table, record_id, table, record_id],
    )


def consent_fields(workspace: Workspace) -> list[str]:
    """Consent columns another module added to contacts (shown only if present)."""
    pattern = re.compile(r"consent|opt_in|opt_out|gdpr|do_not|unsubscrib", re.I)
    return [c for c in workspace.store.columns("contacts") if pattern.search(c)]


def tags_of(workspace: Workspace, contact_id: int) -> list[str]:
    return [
        r["tag"]
        for r in workspace.store.query("SELECT tag FROM contact_tags WHERE contact_id = ? ORDER BY tag", [contact_id])
    ]


def organization_of(workspace: Workspace, contact: dict) -> dict | None:
    """The contact's organization as {id, name}, or None."""
    if not contact.get("organization_id"):
        return None
    rows = workspace.store.query("SELECT id, name FROM organizations WHERE id = ?", [contact["organization_id"]])
    return rows[0] if rows else None


def people_of(workspace: Workspace, organization_id: int, limit: int = 100) -> list[dict]:
    """An organization's contacts by name: id, first_name, last_name, title, email."""
    return workspace.store.query(
        "SELECT id, first_name, last_name, title, email FROM contacts WHERE organization_id = ?"
        " ORDER BY last_name, first_name LIMIT ?",
        [organization_id, limit],
    )


# ------------------------------------------------------- activities, tasks
def default_channel(kind: str) -> str | None:
    """The channel an activity of this kind usually goes through (a call: phone)."""
    from crm_workspace.data.schema import CHANNEL_OF

    return CHANNEL_OF.get(kind)


def log_activity(
    workspace: Workspace,
    table: str,
    record_id: int,
    kind: str,
    subject: str = "",
    body: str = "",
    channel: str | None = None,
    due_at: str | None = None,
    owner: str | None = None,
) -> dict:
    """Log a call/email/meeting/note (or create a task) on a contact or organization."""
    record = {
        "kind": kind,
        "subject": subject or kind.capitalize(),
        "body": body or "",
        "channel": channel or default_channel(kind),
        "owner": owner or workspace.user,
        "occurred_at": utcnow(),
    }
    if table == "contacts":
        contact = workspace.store.get("contacts", record_id)
        record["contact_id"] = record_id
        record["organization_id"] = contact.get("organization_id")
    else:
        record["organization_id"] = record_id
    if kind == "task":
        record["due_at"] = due_at
        record["done"] = 0
    return workspace.store.insert("activities", record)


#: which tasks are someone's open ones due by a time (``my_tasks``, ``my_task_counts``)
_OPEN_TASKS = "a.owner = ? AND a.done = 0 AND a.kind = 'task' AND a.due_at IS NOT NULL AND a.due_at <= ?"


def _window(days_ahead: int) -> tuple[str, str]:
    """Now, and the end of the day ``days_ahead`` days from now, as the store's UTC text."""
    now = utcnow()
    return now, (datetime.fromisoformat(now) + timedelta(days=days_ahead)).strftime("%Y-%m-%dT23:59:59Z")


def my_tasks(workspace: Workspace, user: str | None = None, days_ahead: int = 7) -> list[dict]:
    """Open tasks of ``user`` due within ``days_ahead`` days, overdue ones included, soonest first
    (the first 200: ``my_task_counts`` counts them all)."""
    now, horizon = _window(days_ahead)
    rows = workspace.store.query(
        "SELECT a.id, a.subject, a.due_at, a.version, a.contact_id, a.organization_id,"
        " trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS contact, o.name AS organization"
        " FROM activities a LEFT JOIN contacts c ON c.id = a.contact_id"
        " LEFT JOIN organizations o ON o.id = a.organization_id"
        f" WHERE {_OPEN_TASKS} ORDER BY a.due_at LIMIT 200",
        [user or workspace.user, horizon],
    )
    for row in rows:
        row["overdue"] = row["due_at"] < now
    return rows


def my_task_counts(workspace: Workspace, user: str | None = None, days_ahead: int = 7) -> tuple[int, int]:
    """How many of ``my_tasks`` there are: (overdue, due within ``days_ahead`` days but not overdue)."""
    now, horizon = _window(days_ahead)
    row = workspace.store.query(
        f"SELECT count(*) AS open, coalesce(sum(a.due_at < ?), 0) AS overdue FROM activities a WHERE {_OPEN_TASKS}",
        [now, user or workspace.user, horizon],
    )[0]
    return row["overdue"], row["open"] - row["overdue"]


def mark_done(workspace: Workspace, activity_id: int, version: int | None = None) -> dict:
    return workspace.store.update("activities", activity_id, {"done": 1}, version=version)


def mark_all_done(workspace: Workspace, tasks: Iterable[tuple[int, int | None]]) -> list[dict]:
    """Mark ``(id, version seen)`` tasks done in one write, all or none: one otherwise changed since it
    was seen raises ``ConflictError`` and leaves every task as it was. One someone else has marked done
    meanwhile is left as it is (what was asked is done)."""
    seen = {int(i): v for i, v in tasks}
    marks = ", ".join("?" * len(seen))
    done = {
        r["id"]
        for r in workspace.store.query(f"SELECT id FROM activities WHERE done = 1 AND id IN ({marks})", list(seen))
    }
    return workspace.store.update_many("activities", [(i, {"done": 1}, v) for i, v in seen.items() if i not in done])
