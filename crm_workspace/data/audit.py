"""Reading the audit trail: filtered entries, and one line a person reads per change.

The trail itself is written by the Store (crm_workspace/data/store.py); the CLI's
``crm audit`` and the served audit page both read it through here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crm_workspace.errors import CrmError

if TYPE_CHECKING:
    from crm_workspace.data.store import Store

_STAMPS = ("created_at", "updated_at", "updated_by")


def audit_rows(
    store: Store, *, record: str | None = None, user: str | None = None, since: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Audit entries, newest first, filtered by ``table:id``, user and start date."""
    where, params = [], []
    if record:
        table, _, row_id = record.partition(":")
        if not row_id:
            raise CrmError("--record takes TABLE:ID, e.g. contacts:12")
        where.append("table_name = ? AND row_id = ?")
        params += [table, row_id]
    if user:
        where.append("user = ?")
        params.append(user)
    if since:
        where.append("at >= ?")
        params.append(since)
    sql = "SELECT * FROM audit_log" + (f" WHERE {' AND '.join(where)}" if where else "")
    sql += " ORDER BY id DESC LIMIT ?"
    return store.query(sql, [*params, int(limit)])


def _page_filters(table: str, record_id: str, user: str, since: str) -> tuple[str, list[Any]]:
    where, params = [], []
    for column, value in (("table_name", table), ("row_id", record_id), ("user", user)):
        if value.strip():
            where.append(f"{column} = ?")
            params.append(value.strip())
    if since.strip():
        where.append("at >= ?")
        params.append(since.strip())
    return (" WHERE " + " AND ".join(where)) if where else "", params


def count_entries(store: Store, *, table: str = "", record_id: str = "", user: str = "", since: str = "") -> int:
    """How many audit entries match the audit page's filters (blank filters match everything)."""
    where, params = _page_filters(table, record_id, user, since)
    return store.scalar(f"SELECT count(*) FROM audit_log{where}", params)


def page_of_entries(
    store: Store,
    *,
    table: str = "",
    record_id: str = "",
    user: str = "",
    since: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """One page of matching audit entries, newest first."""
    where, params = _page_filters(table, record_id, user, since)
    return store.query(
        f"SELECT id, at, user, action, table_name, row_id, changes FROM audit_log{where}"
        " ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, int(limit), int(offset)],
    )


def describe_change(row: dict[str, Any]) -> str:
    """One line: what an audit entry changed, before → after."""
    try:
        body = json.loads(row["changes"] or "{}")
    except ValueError:
        return str(row["changes"])
    if not isinstance(body, dict):
        return str(body)
    before, after = body.get("before") or {}, body.get("after") or {}
    if row["action"] == "update":
        parts = [f"{k}: {before.get(k)!r} → {after.get(k)!r}" for k in after]
    elif row["action"] == "insert":
        parts = [f"{k}={v!r}" for k, v in after.items() if v is not None and k not in _STAMPS]
    elif row["action"] == "delete":
        parts = [f"was {before.get('name') or before.get('title') or before.get('email') or ''}".rstrip()]
    else:
        parts = [json.dumps(body, ensure_ascii=False)]
    text = "; ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."
