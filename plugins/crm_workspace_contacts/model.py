"""Contacts & organizations model: list queries, record data, timeline, tasks (no widgets).

Every list is filtered, sorted and paged in SQL; the views and the data views
(``ws.df("contacts.list", ...)``) call the same functions, so an analyst gets
exactly what the page shows.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import param

from crm_workspace import Workspace
from crm_workspace.data.store import utcnow

from .search import CONTACT_WEIGHTS, ORG_WEIGHTS, RANK_WINDOW, fts_query

PAGE_SIZE = 50
COUNT_CAP = 10_000

LAST_TOUCHED = "(SELECT max(a.occurred_at) FROM activities a WHERE a.contact_id = c.id)"
CONTACT_SORTS = {
    "last_name": "c.last_name {d}, c.first_name {d}, c.id {d}",
    "first_name": "c.first_name {d}, c.id {d}",
    "email": "c.email {d}, c.id {d}",
    "organization": "organization {d}, c.id {d}",
    "stakeholder_type": "c.stakeholder_type {d}, c.id {d}",
    "lifecycle_stage": "c.lifecycle_stage {d}, c.id {d}",
    "owner": "c.owner {d}, c.id {d}",
    "updated_at": "c.updated_at {d}, c.id {d}",
    "last_touched": "last_touched {d}, c.id {d}",
}
ORG_SORTS = {
    "name": "o.name COLLATE NOCASE {d}, o.id {d}",
    "industry": "o.industry {d}, o.id {d}",
    "city": "o.city {d}, o.id {d}",
    "country": "o.country {d}, o.id {d}",
    "owner": "o.owner {d}, o.id {d}",
    "contacts": "contacts {d}, o.id {d}",
}
CONTACT_COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "organization",
    "stakeholder_type",
    "lifecycle_stage",
    "owner",
    "last_touched",
]
ACTIVITY_ICONS = {"call": "📞", "email": "✉️", "meeting": "🤝", "note": "📝", "task": "✅"}
_MARKETING = re.compile(r"newsletter|case study|campaign|webinar|event|content|social", re.I)
_SERVICE = re.compile(r"support|invoice|renewal|review|qbr|question|ticket|complain|onboard", re.I)


def contact_filters(
    *,
    search: str = "",
    stakeholder_type: str | None = None,
    lifecycle_stage: str | None = None,
    owner: str | None = None,
    organization_id: int | None = None,
    tag: str | None = None,
    touched_after: str | None = None,
    touched_before: str | None = None,
) -> tuple[str, list, str]:
    """(joins+where SQL, params, fts match) for the contact list filters."""
    where, params = [], []
    match = fts_query(search) if search else ""
    if match:
        where.append("c.id IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)")
        params.append(match)
    elif search and search.strip():
        where.append("0")  # only punctuation: nothing can match
    for column, value in (
        ("stakeholder_type", stakeholder_type),
        ("lifecycle_stage", lifecycle_stage),
        ("owner", owner),
        ("organization_id", organization_id),
    ):
        if value not in (None, "", "(any)"):
            where.append(f"c.{column} = ?")
            params.append(value)
    if tag not in (None, "", "(any)"):
        where.append("c.id IN (SELECT contact_id FROM contact_tags WHERE tag = ?)")
        params.append(tag)
    if touched_after:
        where.append(f"{LAST_TOUCHED} >= ?")
        params.append(str(touched_after))
    if touched_before:
        where.append(f"coalesce({LAST_TOUCHED}, '') < ?")
        params.append(str(touched_before))
    return (" WHERE " + " AND ".join(where)) if where else "", params, match


def list_contacts(
    workspace: Workspace,
    *,
    sort: str | None = None,
    descending: bool = False,
    limit: int | None = PAGE_SIZE,
    offset: int = 0,
    **filters: Any,
) -> list[dict]:
    """One page of the contact list; sorted by relevance when searching without an explicit sort."""
    where, params, match = contact_filters(**filters)
    direction = "DESC" if descending else "ASC"
    select = (
        "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.title, o.name AS organization,"
        f" c.stakeholder_type, c.lifecycle_stage, c.owner, {LAST_TOUCHED} AS last_touched"
    )
    if match and not sort:
        # Unfiltered first pages rank a bounded window of matches (see search.RANK_WINDOW).
        where, params, _ = contact_filters(**{**filters, "search": ""})  # the join does the matching
        window = f" LIMIT {RANK_WINDOW}" if not params and limit is not None and offset + limit <= RANK_WINDOW else ""
        sql = (
            f"{select} FROM (SELECT rowid, bm25(contacts_fts, {CONTACT_WEIGHTS}) AS rank FROM contacts_fts"
            f" WHERE contacts_fts MATCH ?{window}) s JOIN contacts c ON c.id = s.rowid"
            f" LEFT JOIN organizations o ON o.id = c.organization_id{where} ORDER BY s.rank, c.id"
        )
        params = [match, *params]
    else:
        order = CONTACT_SORTS.get(sort or "last_name", CONTACT_SORTS["last_name"]).format(d=direction)
        sql = f"{select} FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id{where} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return workspace.store.query(sql, params)


def count_contacts(workspace: Workspace, cap: int = COUNT_CAP, **filters: Any) -> int:
    """How many contacts match, counting at most ``cap + 1`` (a list shows "10,000+")."""
    where, params, _ = contact_filters(**filters)
    return workspace.store.scalar(f"SELECT count(*) FROM (SELECT 1 FROM contacts c{where} LIMIT {cap + 1})", params)


def org_filters(*, search: str = "", owner: str | None = None, industry: str | None = None, country=None):
    where, params = [], []
    match = fts_query(search) if search else ""
    if match:
        where.append("o.id IN (SELECT rowid FROM organizations_fts WHERE organizations_fts MATCH ?)")
        params.append(match)
    elif search and search.strip():
        where.append("0")
    for column, value in (("owner", owner), ("industry", industry), ("country", country)):
        if value not in (None, "", "(any)"):
            where.append(f"o.{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(where)) if where else "", params, match


def list_organizations(
    workspace: Workspace,
    *,
    sort: str | None = None,
    descending: bool = False,
    limit: int | None = PAGE_SIZE,
    offset: int = 0,
    **filters: Any,
) -> list[dict]:
    where, params, match = org_filters(**filters)
    select = (
        "SELECT o.id, o.name, o.domain, o.industry, o.city, o.country, o.owner,"
        " (SELECT count(*) FROM contacts k WHERE k.organization_id = o.id) AS contacts"
    )
    if match and not sort:
        sql = (
            f"{select} FROM (SELECT rowid, bm25(organizations_fts, {ORG_WEIGHTS}) AS rank FROM organizations_fts"
            f" WHERE organizations_fts MATCH ?) s JOIN organizations o ON o.id = s.rowid{where} ORDER BY s.rank, o.id"
        )
        params = [match, *params]
    else:
        order = ORG_SORTS.get(sort or "name", ORG_SORTS["name"]).format(d="DESC" if descending else "ASC")
        sql = f"{select} FROM organizations o{where} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return workspace.store.query(sql, params)


def count_organizations(workspace: Workspace, cap: int = COUNT_CAP, **filters: Any) -> int:
    where, params, _ = org_filters(**filters)
    return workspace.store.scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM organizations o{where} LIMIT {cap + 1})", params
    )


# ------------------------------------------------------------------ records
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
            subject += " (done)" if a["done"] else f" (due {(a['due_at'] or '')[:10]})"
        items.append(
            {
                "at": a["at"],
                "kind": a["kind"],
                "icon": ACTIVITY_ICONS.get(a["kind"], "•"),
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
                    "icon": "🔄",
                    "function": "marketing" if e["to_stage"] in _MARKETING_STAGES else "sales",
                    "channel": "",
                    "subject": f"Lifecycle stage: {e['from_stage'] or '—'} → {e['to_stage']}",
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
        after = body.get("after") or {}
        before = body.get("before") or {}
        fields = ", ".join(f"{k}: {before.get(k) or '—'} → {v or '—'}" for k, v in after.items())
        items.append(
            {
                "at": row["at"],
                "kind": "edit",
                "icon": "✏️",
                "function": "",
                "channel": "",
                "subject": "Record edited" + (" (merge)" if "merge" in (body.get("context") or {}) else ""),
                "body": fields,
                "by": row["user"] or "",
                "source": "edit",
                "id": row["id"],
            }
        )
    items.sort(key=lambda item: item["at"] or "", reverse=True)
    return items[:limit]


_MARKETING_STAGES = {"subscriber", "lead", "marketing_qualified"}


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


def all_tags(workspace: Workspace) -> list[str]:
    return [r["tag"] for r in workspace.store.query("SELECT DISTINCT tag FROM contact_tags ORDER BY tag LIMIT 500")]


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
    from crm_workspace.data.schema import CHANNEL_OF

    record = {
        "kind": kind,
        "subject": subject or kind.capitalize(),
        "body": body or "",
        "channel": channel or CHANNEL_OF.get(kind),
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


def my_tasks(workspace: Workspace, user: str | None = None, days_ahead: int = 7) -> list[dict]:
    """Open tasks of ``user`` due within ``days_ahead`` days, overdue ones included, soonest first."""
    now = datetime.now(UTC)
    horizon = (now + timedelta(days=days_ahead)).strftime("%Y-%m-%dT23:59:59Z")
    rows = workspace.store.query(
        "SELECT a.id, a.subject, a.due_at, a.version, a.contact_id, a.organization_id,"
        " trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS contact, o.name AS organization"
        " FROM activities a LEFT JOIN contacts c ON c.id = a.contact_id"
        " LEFT JOIN organizations o ON o.id = a.organization_id"
        " WHERE a.owner = ? AND a.done = 0 AND a.kind = 'task' AND a.due_at IS NOT NULL AND a.due_at <= ?"
        " ORDER BY a.due_at LIMIT 200",
        [user or workspace.user, horizon],
    )
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for row in rows:
        row["overdue"] = row["due_at"] < stamp
    return rows


def mark_done(workspace: Workspace, activity_id: int, version: int | None = None) -> dict:
    return workspace.store.update("activities", activity_id, {"done": 1}, version=version)


class ContactListModel(param.Parameterized):
    """The contact list's state: filters, sort and page (a view binds widgets to it)."""

    workspace = param.ClassSelector(class_=Workspace)
    search = param.String(default="")
    stakeholder_type = param.String(default="")
    lifecycle_stage = param.String(default="")
    owner = param.String(default="")
    organization_id = param.Integer(default=None, allow_None=True)
    tag = param.String(default="")
    touched_after = param.String(default="")
    touched_before = param.String(default="")
    sort = param.String(default="")
    descending = param.Boolean(default=False)
    page = param.Integer(default=0, bounds=(0, None))

    def filters(self) -> dict[str, Any]:
        names = (
            "search",
            "stakeholder_type",
            "lifecycle_stage",
            "owner",
            "organization_id",
            "tag",
            "touched_after",
            "touched_before",
        )
        return {name: getattr(self, name) for name in names if getattr(self, name) not in (None, "")}

    def rows(self) -> list[dict]:
        return list_contacts(
            self.workspace,
            sort=self.sort or None,
            descending=self.descending,
            limit=PAGE_SIZE,
            offset=self.page * PAGE_SIZE,
            **self.filters(),
        )

    def count(self) -> int:
        return count_contacts(self.workspace, **self.filters())
