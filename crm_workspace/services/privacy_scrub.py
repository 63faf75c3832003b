"""Privacy erasure's scrubbing: a person's strings out of every text column, the audit trail and search indexes.

Split from ``privacy`` (which decides what to erase); these helpers only rewrite, inside the
caller's ``store.erasing()`` transaction.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any

ERASED = "[erased]"


def _scrub(value: Any, secrets: list[str], personal_keys: Iterable[str] = ()) -> Any:
    """``value`` with every secret string replaced (any case); ``personal_keys`` of a dict nulled."""
    keys = frozenset(personal_keys)
    if isinstance(value, dict):
        return {k: (None if k in keys and v not in (None, "") else _scrub(v, secrets, keys)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets, keys) for v in value]
    if isinstance(value, str):
        return _replace_mentions(value, secrets)
    return value


def _replace_mentions(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and secret.casefold() in text.casefold():
            text = re.sub(re.escape(secret), ERASED, text, flags=re.IGNORECASE)
    return text


def _erased(value: Any) -> Any:
    """What an erased field holds: ``[erased]`` for text that was there, NULL for anything else."""
    if value in (None, ""):
        return value
    return ERASED if isinstance(value, str) else None


@contextlib.contextmanager
def _lifted_append_only(conn: Any, table: str, *, enabled: bool = True):
    """Drop ``table``'s append-only triggers for the block, recreate them after (inside the caller's transaction)."""
    triggers = []
    if enabled:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND sql LIKE '%append-only%'",
            [table],
        ).fetchall()
    for name, _sql in triggers:
        conn.execute(f"DROP TRIGGER [{name}]")
    try:
        yield
    finally:
        for _name, sql in triggers:
            conn.execute(sql)


def _scrub_everywhere(conn: Any, mentions: list[str]) -> dict[str, int]:
    """Replace the mentions (any case) in every text column of every ordinary table (undeclared ones too)."""
    if not mentions:
        return {}
    folded = [m.casefold() for m in mentions]
    conn.create_function(
        "crm_mentions_person",
        1,
        lambda v: isinstance(v, str) and any(m in v.casefold() for m in folded),
        deterministic=True,
    )
    conn.create_function(
        "crm_scrub_person", 1, lambda v: _replace_mentions(v, mentions) if isinstance(v, str) else v, deterministic=True
    )
    counts: dict[str, int] = {}
    virtual = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL%'")]
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT IN ('audit_log') AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
    ]
    for table in tables:
        if any(table.startswith(f"{v}_") for v in virtual):
            continue  # an FTS index's shadow table: rebuilt afterwards
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])") if (r[2] or "").upper() in ("TEXT", "")]
        with _lifted_append_only(conn, table):
            for column in columns:
                cursor = conn.execute(
                    f"UPDATE [{table}] SET [{column}] = crm_scrub_person([{column}]) WHERE crm_mentions_person([{column}])"
                )
                if cursor.rowcount > 0:
                    counts[f"{table}.{column}"] = cursor.rowcount
    return counts


def _rebuild_search_indexes(conn: Any) -> list[str]:
    """Rebuild every FTS5 index from its content: deleted tokens otherwise linger in its shadow tables."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'"
        )
    ]
    for name in names:
        conn.execute(f"INSERT INTO [{name}]([{name}]) VALUES ('rebuild')")
    return names


def _scrub_audit(conn: Any, records: dict[tuple[str, str], tuple[str, ...]], secrets: list[str]) -> int:
    """Rewrite the audit entries of ``records`` (their declared fields erased) and any entry naming a secret."""
    count = 0
    with _lifted_append_only(conn, "audit_log"):
        rows = conn.execute("SELECT id, table_name, row_id, changes FROM audit_log").fetchall()
        like = [s.lower() for s in secrets]
        for row_id, table, record_id, changes in rows:
            fields = records.get((table, record_id))
            if fields is None and not any(s in (changes or "").lower() for s in like):
                continue
            try:
                body = json.loads(changes) if changes else {}
            except ValueError:
                body = changes
            if table == "contacts" and fields is not None:
                scrubbed = _scrub(body, secrets, fields)
            else:
                scrubbed = _scrub_fields(_scrub(body, secrets), fields or ())
            text = json.dumps(scrubbed, ensure_ascii=False) if not isinstance(scrubbed, str) else scrubbed
            if text != changes:
                conn.execute("UPDATE audit_log SET changes = ? WHERE id = ?", [text, row_id])
                count += 1
    return count


def _scrub_fields(body: Any, fields: tuple[str, ...]) -> Any:
    if isinstance(body, dict):
        for part in ("before", "after"):
            values = body.get(part)
            if isinstance(values, dict):
                for field in fields:
                    if field in values:
                        values[field] = _erased(values[field])
    return body
