"""Saved segments: a dynamic filter or a static list, and who is in each one now.

Saving a segment goes through the Store (validated, audited); the plugin's
``crm_record_changed`` then (re)builds its members in the same transaction.
``segment_members`` is a derived index the plugin keeps (raw SQL inside the Store's
write transaction, like the lifecycle's ``lifecycle_stays`` trigger): a write to
contacts, their organization, tags, activities, custom fields or lead scores
re-evaluates only the contacts it touched, with one
``SELECT c.id FROM contacts c WHERE c.id IN (...) AND <filter>`` per dependent segment.
``rebuild`` recomputes everything (repair, and "in the last N days" filters as time passes).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crm_workspace import Change, CrmError, NotFound
from crm_workspace.data.fields import BadValue, find_email
from crm_workspace.data.store import utcnow
from crm_workspace.services.privacy import not_erased

from .erased import forget as forget_erased
from .fields import FilterError
from .filters import Compiled, compile_filter, describe, parse

if TYPE_CHECKING:
    import pandas as pd

    from crm_workspace import Workspace

KINDS = ("dynamic", "static")
#: Tables whose writes can change who is in a segment, and how to find the contacts a change touched.
WATCHED = (
    "contacts",
    "organizations",
    "contact_tags",
    "activities",
    "excel_custom_fields",
    "lead_scores",
    "marketing_events",
)
IDS = "SELECT value FROM json_each(?)"


# ---------------------------------------------------------------- reading
def get_segment(workspace: Workspace, segment: str | int) -> dict[str, Any]:
    """A segment by name (any case) or id; ``NotFound`` naming the segments there are."""
    if isinstance(segment, int) or str(segment).isdigit():
        rows = workspace.query("SELECT * FROM segments WHERE id = ?", [int(segment)])
    else:
        rows = workspace.query("SELECT * FROM segments WHERE name = ? COLLATE NOCASE", [str(segment).strip()])
    if not rows:
        names = [r["name"] for r in workspace.query("SELECT name FROM segments ORDER BY name LIMIT 20")]
        raise NotFound(f"no segment named '{segment}' (segments: {', '.join(names) or 'none yet'})")
    return rows[0]


def list_segments(workspace: Workspace) -> list[dict[str, Any]]:
    """Every segment with its member count, status and filter in words."""
    rows = workspace.query(
        "SELECT s.id, s.name, s.kind, s.status, s.problem, s.description, s.filter, s.built_at, s.owner,"
        " s.updated_at, s.version, (SELECT count(*) FROM segment_members m WHERE m.segment_id = s.id) AS members"
        " FROM segments s ORDER BY s.name COLLATE NOCASE"
    )
    for row in rows:
        row["conditions"] = describe(workspace, row["filter"]) if row["kind"] == "dynamic" else "static list"
    return rows


def count(workspace: Workspace, value: str | dict | None) -> int:
    """How many contacts a filter matches now (the live count of the filter builder)."""
    sql, params = compile_filter(workspace, value).count_sql()
    return int(workspace.store.scalar(sql, params) or 0)


def preview(workspace: Workspace, value: str | dict | None, limit: int = 20) -> list[dict[str, Any]]:
    """The first contacts a filter matches, for the builder's sample table."""
    sql, params = compile_filter(workspace, value).select(
        "c.id, c.first_name, c.last_name, c.email, c.lifecycle_stage, c.owner"
    )
    return workspace.query(f"{sql} ORDER BY c.id LIMIT {int(limit)}", params)


MEMBER_COLUMNS = (
    "c.id, c.first_name, c.last_name, c.email, c.lifecycle_stage, c.stakeholder_type, c.owner,"
    " o.name AS organization, c.marketing_consent, m.added_at"
)


def members_sql(segment_id: int) -> tuple[str, list[Any]]:
    """The members of a segment with their main fields (what ``ws.df("marketing.segment")`` returns)."""
    return (
        f"SELECT {MEMBER_COLUMNS} FROM segment_members m JOIN contacts c ON c.id = m.contact_id"
        " LEFT JOIN organizations o ON o.id = c.organization_id WHERE m.segment_id = ? ORDER BY c.id",
        [segment_id],
    )


def definition_sql(workspace: Workspace, segment: str | int) -> tuple[str, list[Any]]:
    """The SQL that decides membership: the compiled filter (dynamic) or the list (static)."""
    row = get_segment(workspace, segment)
    if row["kind"] == "static":
        return "SELECT contact_id AS id FROM segment_members WHERE segment_id = ?", [row["id"]]
    return compile_filter(workspace, row["filter"]).select()


def inline_sql(sql: str, params: list[Any]) -> str:
    """SQL with its parameters written in as literals, to read or paste into sqlite3 (display only)."""
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        return sql
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        if value is None:
            literal = "NULL"
        elif isinstance(value, int | float):
            literal = repr(value)
        else:
            literal = "'" + str(value).replace("'", "''") + "'"
        out += [literal, rest]
    return "".join(out)


def members_frame(workspace: Workspace, name: str | int, limit: int | None = None) -> pd.DataFrame:
    """A segment's members as a DataFrame; ``attrs["sql"]`` holds the membership SQL and its parameters."""
    row = get_segment(workspace, name)
    sql, params = members_sql(row["id"])
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    frame = workspace.df(sql.replace("?", ":segment_id"), segment_id=row["id"])
    try:
        definition, values = definition_sql(workspace, row["id"])
        frame.attrs["definition_sql"] = inline_sql(definition, values)
    except FilterError as error:
        frame.attrs["problem"] = str(error)
    frame.attrs["sql"] = inline_sql(sql, params)
    frame.attrs["segment"] = row["name"]
    return frame


# ---------------------------------------------------------------- writing
def validate_segment(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str]:
    """Name, kind and a filter that compiles (for dynamic segments); the filter is stored as compact JSON."""
    errors: dict[str, str] = {}
    if "name" in record or before is None:
        name = " ".join(str(record.get("name") or "").split())
        if not name:
            errors["name"] = "a segment needs a name"
        elif len(name) > 80:
            errors["name"] = "a segment name has at most 80 characters"
        record["name"] = name
    kind = record.get("kind", (before or {}).get("kind") or "dynamic")
    if kind not in KINDS:
        errors["kind"] = f"a segment is dynamic or static, not {kind!r}"
        return errors
    if before is None:
        record["kind"] = kind
    if "filter" in record or (before is None and kind == "dynamic"):
        try:
            group = parse(record.get("filter"))
            if kind == "dynamic":
                compile_filter(workspace, group)
            record["filter"] = json.dumps(group, separators=(",", ":"), ensure_ascii=False)
        except FilterError as error:
            errors["filter"] = str(error)
    return errors


def save_segment(
    workspace: Workspace,
    name: str,
    value: str | dict | None = None,
    *,
    kind: str = "dynamic",
    description: str | None = None,
    segment_id: int | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Create a segment, or update the one with ``segment_id`` (against ``version``); members follow."""
    record: dict[str, Any] = {"name": name, "kind": kind, "filter": value if kind == "dynamic" else None}
    if description is not None:
        record["description"] = description
    if segment_id is None:
        record["owner"] = workspace.user
        return workspace.store.insert("segments", record)
    return workspace.store.update("segments", segment_id, record, version=version)


def delete_segment(workspace: Workspace, segment: str | int, version: int | None = None) -> dict[str, Any]:
    row = get_segment(workspace, segment)
    return workspace.store.delete("segments", row["id"], version=version)


def _mark(conn, segment_id: int, problem: str | None, now: str | None = None) -> None:
    """Status of a segment's membership (derived, not a person's edit: no version bump)."""
    if problem:
        conn.execute("UPDATE segments SET status = 'broken', problem = ? WHERE id = ?", [problem, segment_id])
    else:
        conn.execute(
            "UPDATE segments SET status = 'ok', problem = NULL, built_at = coalesce(?, built_at) WHERE id = ?",
            [now, segment_id],
        )


def _build(workspace: Workspace, row: dict, now: str) -> int:
    """Recompute one segment's members (inside a write transaction); the number of members, or -1 if broken."""
    conn = workspace.store.conn
    if row["kind"] == "static":
        conn.execute(
            "DELETE FROM segment_members WHERE segment_id = ? AND contact_id NOT IN (SELECT id FROM contacts)",
            [row["id"]],
        )
        _mark(conn, row["id"], None, now)
    else:
        try:
            compiled = compile_filter(workspace, row["filter"])
        except FilterError as error:
            _mark(conn, row["id"], str(error))
            return -1
        select, params = compiled.select()
        conn.execute(
            f"DELETE FROM segment_members WHERE segment_id = ? AND contact_id NOT IN ({select})", [row["id"], *params]
        )
        conn.execute(
            "INSERT OR IGNORE INTO segment_members (segment_id, contact_id, added_at)"
            f" SELECT ?, c.id, ? FROM contacts c WHERE {compiled.sql}",
            [row["id"], now, *params],
        )
        _mark(conn, row["id"], None, now)
    return conn.execute("SELECT count(*) FROM segment_members WHERE segment_id = ?", [row["id"]]).fetchone()[0]


def rebuild(workspace: Workspace, segment: str | int | None = None, *, relative_only: bool = False) -> list[dict]:
    """Recompute members from scratch (all segments, or one): the repair command; marks broken ones.

    ``relative_only`` rebuilds only filters that drift without a Store write: those relative to
    now ("in the last 30 days") and those on lead scores (the scoring module rescores in bulk SQL).
    """
    rows = [get_segment(workspace, segment)] if segment is not None else workspace.query("SELECT * FROM segments")
    out = []
    for row in rows:
        if relative_only:
            try:
                compiled = compile_filter(workspace, row["filter"]) if row["kind"] == "dynamic" else None
                if compiled is None or not (compiled.relative or "lead_scores" in compiled.tables):
                    continue
            except FilterError:
                pass
        with workspace.store.transaction():
            members = _build(workspace, row, utcnow())
        problem = None if members >= 0 else get_segment(workspace, row["id"])["problem"]
        out.append(
            {
                "segment": row["name"],
                "members": max(members, 0),
                "status": "broken" if problem else "ok",
                "problem": problem,
            }
        )
    if out:
        workspace.changed()
    return out


# ------------------------------------------------------------ static lists
def _static(workspace: Workspace, segment: str | int) -> dict[str, Any]:
    row = get_segment(workspace, segment)
    if row["kind"] != "static":
        raise CrmError(f"'{row['name']}' is a dynamic segment: its members follow its filter, add people to a list")
    return row


def add_members(workspace: Workspace, segment: str | int, contact_ids: Iterable[int]) -> int:
    """Put contacts (a selection) on a static list; returns how many were new on it."""
    row = _static(workspace, segment)
    ids = json.dumps(sorted({int(i) for i in contact_ids}))
    with workspace.store.transaction():
        conn = workspace.store.conn
        before = conn.total_changes
        conn.execute(
            "INSERT OR IGNORE INTO segment_members (segment_id, contact_id, added_at)"
            f" SELECT ?, id, ? FROM contacts WHERE id IN ({IDS}) AND {not_erased('id')}",
            [row["id"], utcnow(), ids],
        )
        added = conn.total_changes - before
        workspace.store.update("segments", row["id"], {"built_at": utcnow()})  # the list changed: audited
    workspace.changed()
    return added


def remove_members(workspace: Workspace, segment: str | int, contact_ids: Iterable[int]) -> int:
    row = _static(workspace, segment)
    ids = json.dumps(sorted({int(i) for i in contact_ids}))
    with workspace.store.transaction():
        conn = workspace.store.conn
        before = conn.total_changes
        conn.execute(f"DELETE FROM segment_members WHERE segment_id = ? AND contact_id IN ({IDS})", [row["id"], ids])
        removed = conn.total_changes - before
        workspace.store.update("segments", row["id"], {"built_at": utcnow()})
    workspace.changed()
    return removed


def add_emails(workspace: Workspace, segment: str | int, text: str) -> dict[str, Any]:
    """A pasted list of addresses (any separators, ``Name <a@b>`` forms) onto a static list.

    Returns ``added``, ``already`` (on the list before), ``unknown`` (no contact has that
    address) and ``invalid`` (not an address); nobody is created.
    """
    emails, invalid = [], []
    for token in re.split(r"[\n,;]+", text or ""):
        token = token.strip()
        if not token:
            continue
        try:
            emails.append(find_email(token))
        except BadValue:
            invalid.append(token)
    emails = list(dict.fromkeys(emails))
    found: dict[str, int] = {}
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        rows = workspace.query(
            "SELECT id, lower(email) AS email FROM contacts"
            f" WHERE email COLLATE NOCASE IN ({', '.join('?' * len(chunk))}) AND email != ''",
            chunk,
        )
        found.update({r["email"]: r["id"] for r in rows})
    added = add_members(workspace, segment, found.values()) if found else 0
    return {
        "added": added,
        "already": len(found) - added,
        "unknown": [e for e in emails if e not in found],
        "invalid": invalid,
    }


# --------------------------------------------------- incremental membership
def _touched(workspace: Workspace, changes: list[Change]) -> tuple[dict[str, set[int]], set[int]]:
    """The contacts each watched table's changes touched, and the contacts deleted."""
    touched: dict[str, set[int]] = defaultdict(set)
    deleted: set[int] = set()
    orgs: set[int] = set()
    for change in changes:
        rows = [r for r in (change.before, change.after) if r]
        if change.table == "contacts":
            (deleted if change.action == "delete" else touched["contacts"]).add(int(change.id))
        elif change.table == "organizations" and change.action == "update":
            orgs.add(int(change.id))
        elif change.table == "excel_custom_fields":
            touched[change.table].update(
                int(r["row_id"]) for r in rows if r.get("table_name") == "contacts" and r.get("row_id") is not None
            )
        elif change.table in WATCHED:
            touched[change.table].update(int(r["contact_id"]) for r in rows if r.get("contact_id") is not None)
    if orgs:
        rows = workspace.store.conn.execute(
            f"SELECT id FROM contacts WHERE organization_id IN ({IDS})", [json.dumps(sorted(orgs))]
        )
        touched["organizations"].update(r[0] for r in rows)
    return touched, deleted


def _reevaluate(workspace: Workspace, row: dict, compiled: Compiled, ids: set[int], now: str) -> None:
    conn = workspace.store.conn
    ids_json = json.dumps(sorted(ids))
    # CROSS JOIN: the touched ids first, then each contact by its key (never a segment index scan)
    matching = {
        r[0]
        for r in conn.execute(
            f"SELECT c.id FROM json_each(?) j CROSS JOIN contacts c ON c.id = j.value WHERE {compiled.sql}",
            [ids_json, *compiled.params],
        )
    }
    current = {
        r[0]
        for r in conn.execute(
            f"SELECT contact_id FROM segment_members WHERE segment_id = ? AND contact_id IN ({IDS})",
            [row["id"], ids_json],
        )
    }
    if matching - current:
        conn.executemany(
            "INSERT OR IGNORE INTO segment_members (segment_id, contact_id, added_at) VALUES (?, ?, ?)",
            [(row["id"], i, now) for i in sorted(matching - current)],
        )
    if current - matching:
        conn.execute(
            f"DELETE FROM segment_members WHERE segment_id = ? AND contact_id IN ({IDS})",
            [row["id"], json.dumps(sorted(current - matching))],
        )


def on_changes(workspace: Workspace, changes: list[Change]) -> None:
    """``crm_record_changed``: keep members current for exactly the contacts these writes touched."""
    store = workspace.store
    now = utcnow()
    forget_erased(workspace, changes)  # before re-evaluating: the erased person matches nothing now
    for change in changes:
        if change.table != "segments":
            continue
        if change.action == "delete":
            store.conn.execute("DELETE FROM segment_members WHERE segment_id = ?", [change.id])
        elif change.action == "insert" or change.changed("filter") or change.changed("kind"):
            _build(workspace, store.get("segments", change.id), now)
    if not any(change.table in WATCHED for change in changes):
        return
    touched, deleted = _touched(workspace, changes)
    if deleted:
        store.conn.execute(f"DELETE FROM segment_members WHERE contact_id IN ({IDS})", [json.dumps(sorted(deleted))])
    if not touched:
        return
    for row in store.conn.execute(
        "SELECT id, name, filter FROM segments WHERE kind = 'dynamic' AND coalesce(status, 'ok') = 'ok'"
    ).fetchall():
        row = {"id": row[0], "name": row[1], "filter": row[2]}
        try:
            compiled = compile_filter(workspace, row["filter"], now=datetime.now(UTC))
        except FilterError as error:
            _mark(store.conn, row["id"], str(error))
            continue
        ids = set().union(*(touched.get(table, set()) for table in compiled.tables))
        if ids:
            _reevaluate(workspace, row, compiled, ids, now)
