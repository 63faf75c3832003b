"""The audit trail: the rows the Store writes for every change, and reading them back.

The Store (crm_workspace/data/store.py) calls ``record_inserts`` and
``record_changes`` inside each write's transaction; the CLI's ``crm audit`` and
the served audit page read the trail through ``audit_rows``, ``count_entries``,
``page_of_entries`` and ``describe_change``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from crm_workspace.data.access import HIDDEN_COLUMNS
from crm_workspace.errors import CrmError

if TYPE_CHECKING:
    from crm_workspace.data.store import Store
    from crm_workspace.types import Change

_STAMPS = ("created_at", "updated_at", "updated_by")
_UNSTAMPED = {"updated_at", "updated_by", "version", "created_at"}
#: Columns whose values never reach the audit trail, even hashed (and every hidden ``(table, column)``).
REDACTED = frozenset({"password_hash"})


def _redacted(table: str, column: str) -> bool:
    return column in REDACTED or (table, column) in HIDDEN_COLUMNS


def _json_default(value: Any) -> str:
    return str(value)


#: one encoder for every audit row (json.dumps with options builds a new encoder per call)
_AUDIT_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------ writing
def record_inserts(
    conn: sqlite3.Connection,
    table: str,
    pk: str,
    fields: list[str],
    ids: list[Any],
    *,
    user: str,
    now: str,
    context: dict[str, Any],
) -> None:
    """The audit rows of inserted records, built by SQLite from the stored rows.

    ``after`` holds ``fields`` (those any record of the batch gave plus those the
    schema filled with a default), secrets redacted, and the write's context. One
    statement: JSON-encoding each row in Python was a third of a bulk insert's time.
    """

    def pairs(group: list[str]) -> str:
        return ", ".join(
            f"'{c}', " + (f"CASE WHEN [{c}] IS NOT NULL THEN '<redacted>' END" if _redacted(table, c) else f"[{c}]")
            for c in group
        )

    after = f"json_object({pairs(fields[:60])})"
    for start in range(60, len(fields), 60):  # SQLite functions take at most 127 arguments
        after = f"json_patch({after}, json_object({pairs(fields[start : start + 60])}))"
    body = f"json_object('after', {after}, 'context', json(:context))" if context else f"json_object('after', {after})"
    conn.execute(
        "INSERT INTO audit_log (at, user, table_name, row_id, action, changes)"
        f" SELECT :at, :user, :table, CAST([{pk}] AS TEXT), 'insert', {body}"
        f" FROM [{table}] WHERE [{pk}] IN (SELECT value FROM json_each(:ids))",
        {
            "at": now,
            "user": user,
            "table": table,
            "ids": json.dumps(ids, default=_json_default),
            "context": _AUDIT_ENCODER.encode(context),
        },
    )


def record_changes(conn: sqlite3.Connection, changes: list[Change]) -> None:
    """The audit rows of updates and deletes: before and after of the fields that changed."""
    conn.executemany(
        "INSERT INTO audit_log (at, user, table_name, row_id, action, changes) VALUES (?, ?, ?, ?, ?, ?)",
        ((c.at, c.user, c.table, str(c.id), c.action, _audit_json(c)) for c in changes),
    )


def _audit_json(change: Change) -> str:
    if change.action == "insert":
        body: dict[str, Any] = {"after": {k: v for k, v in change.after.items() if v is not None}}
    elif change.action == "delete":
        body = {"before": change.before}
    else:
        before = change.before or {}
        names = [k for k, v in change.after.items() if k not in _UNSTAMPED and before.get(k) != v]  # changed()
        body = {
            "before": {k: change.before.get(k) for k in names},
            "after": {k: change.after.get(k) for k in names},
        }
    for part in ("before", "after"):  # secrets never reach the audit trail, even hashed
        if body.get(part) and any(_redacted(change.table, k) for k in body[part]):
            body[part] = {k: ("<redacted>" if _redacted(change.table, k) and v else v) for k, v in body[part].items()}
    if change.context:
        body["context"] = change.context
    return _AUDIT_ENCODER.encode(body)


# ------------------------------------------------------------------ reading


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
