"""Webhook events derived from the Store's changes, and their outbox rows.

``crm_record_changed`` calls ``enqueue_changes`` inside the write's transaction: it only
INSERTs ``webhook_deliveries`` rows (one per event and matching subscription) and never
talks to the network, so a write costs the same whatever the receivers do.

Events: ``<table>.created|updated|deleted`` for every table written through the Store
(except this plugin's own and the security tables), and the domain events below,
derived from the same changes by table and field names (no other plugin is imported).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from crm_workspace import Change

from .schema import OWN_TABLES

ACTIONS = {"insert": "created", "update": "updated", "delete": "deleted"}

#: Tables whose rows never leave the workspace by webhook (credentials, sessions, settings).
PRIVATE_TABLES = frozenset(
    {"users", "login_sessions", "login_failures", "settings", "plugin_state", "audit_log", "api_tokens"}
)
#: Columns never sent, whatever the table.
REDACTED = frozenset({"password_hash", "token_hash", "secret", "password"})

#: The domain events, what they mean (documented on the page, the CLI and docs/webhooks.md).
DOMAIN_EVENTS = {
    "deal.won": "a deal's status became won",
    "deal.lost": "a deal's status became lost",
    "contact.lifecycle_changed": "a contact's lifecycle stage changed",
    "ticket.solved": "a ticket's status became solved",
}


def table_events(tables: Iterable[str]) -> list[str]:
    return [f"{t}.{a}" for t in sorted(tables) for a in ACTIONS.values()]


def _became(change: Change, field: str, value: str) -> bool:
    after = change.after or {}
    return after.get(field) == value and (change.before is None or change.before.get(field) != value)


def events_of(change: Change) -> list[str]:
    """Every event name ``change`` raises: its table event first, then domain events."""
    table = change.table
    if table in OWN_TABLES or table in PRIVATE_TABLES:
        return []
    names = [f"{table}.{ACTIONS[change.action]}"]
    if change.after is None:
        return names
    if table == "deals":
        if _became(change, "status", "won"):
            names.append("deal.won")
        elif _became(change, "status", "lost"):
            names.append("deal.lost")
    elif table == "contacts":
        if change.after.get("lifecycle_stage") and (change.before is None or change.changed("lifecycle_stage")):
            names.append("contact.lifecycle_changed")
    elif table == "tickets" and _became(change, "status", "solved"):
        names.append("ticket.solved")
    return names


def matches(patterns: Iterable[str], event: str) -> bool:
    """``*`` is every event, ``deals.*`` every event of a table; anything else names one event."""
    for pattern in patterns:
        if pattern == "*" or pattern == event:
            return True
        if pattern.endswith(".*") and event.startswith(pattern[:-1]):
            return True
    return False


def _clean(record: dict | None) -> dict | None:
    if record is None:
        return None
    return {k: v for k, v in record.items() if k not in REDACTED}


def body_of(event_id: str, event: str, occurred_at: str, data: dict) -> str:
    """The JSON body POSTed, exactly: built once, stored, resent byte for byte on every retry."""
    return json.dumps(
        {"id": event_id, "event": event, "occurred_at": occurred_at, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def data_of(change: Change) -> dict[str, Any]:
    before, after = _clean(change.before), _clean(change.after)
    changes = {}
    if before is not None and after is not None:
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    return {
        "table": change.table,
        "id": change.id,
        "action": change.action,
        "record": after if after is not None else before,
        "before": before,
        "changes": changes,
        "user": change.user,
    }


def contact_of(table: str, record: dict | None) -> int | None:
    """The contact a row is about (for privacy export and erasure of the outbox)."""
    if not record:
        return None
    if table == "contacts":
        return record.get("id")
    value = record.get("contact_id")
    return value if isinstance(value, int) else None


_PATTERNS: dict[str, tuple[str, ...]] = {}


def subscriptions(store) -> list[tuple[int, tuple[str, ...]]]:
    """The enabled subscriptions and their patterns (the JSON of each parsed once per process)."""
    found = []
    for row in store.query("SELECT id, events FROM webhook_subscriptions WHERE enabled = 1 ORDER BY id"):
        text = row["events"] or "[]"
        patterns = _PATTERNS.get(text)
        if patterns is None:
            patterns = _PATTERNS[text] = tuple(_patterns(text))
        found.append((row["id"], patterns))
    return found


def _patterns(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def delivery_rows(subs, changes: Iterable[Change], now: str) -> list[dict]:
    """The outbox rows for ``changes``: one per event and subscription that wants it."""
    rows: list[dict] = []
    for change in changes:
        names = events_of(change)
        if not names:
            continue
        data = None
        for name in names:
            wanted = [sub_id for sub_id, patterns in subs if matches(patterns, name)]
            if not wanted:
                continue
            if data is None:
                data = data_of(change)
            event_id = str(uuid.uuid4())
            body = body_of(event_id, name, change.at, data)
            contact = contact_of(change.table, data["record"])
            for sub_id in wanted:
                rows.append(
                    {
                        "event_id": event_id,
                        "subscription_id": sub_id,
                        "event": name,
                        "table_name": change.table,
                        "record_id": str(change.id),
                        "contact_id": contact,
                        "payload": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
    return rows


def enqueue(workspace, rows: list[dict]) -> None:
    """Insert outbox rows as rows derived from an audited write: no audit, events or validation."""
    if rows:
        workspace.store.insert_many("webhook_deliveries", rows, audit=False, events=False, validate=False)
