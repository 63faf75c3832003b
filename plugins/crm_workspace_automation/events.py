"""Webhook events derived from the Store's changes, and their outbox rows.

``crm_record_changed`` calls ``event_rows`` and ``enqueue`` inside the write's transaction:
one ``webhook_events`` row per event some subscription wants (however many want it), and no
network, so a write costs the same whatever the receivers do. The worker's ``fan_out``
expands each into a ``webhook_deliveries`` row per subscription, with the body (``expand``,
``body_of``) built there.

Events: ``<table>.created|updated|deleted`` for every table written through the Store
(except this plugin's own and the security tables), and the domain events below,
derived from the same changes by table and field names (no other plugin is imported).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from typing import Any

from crm_workspace import Change
from crm_workspace.data.derived import append_derived
from crm_workspace.data.schema import is_hidden

from .schema import OWN_TABLES

ACTIONS = {"insert": "created", "update": "updated", "delete": "deleted"}

#: Tables whose rows never leave the workspace by webhook (credentials, sessions, settings), and
#: the core's own lists the Store writes for nobody (no event of theirs could ever fire).
PRIVATE_TABLES = frozenset(
    {
        "users",
        "login_sessions",
        "login_failures",
        "settings",
        "plugin_state",
        "audit_log",
        "erased_contacts",
        "api_tokens",
    }
)
#: Columns never sent, whatever the table (and every column a plugin hides with ``hide_column``).
REDACTED = frozenset({"password_hash", "token_hash", "secret", "password"})

#: The domain events, what they mean (documented on the page, the CLI and docs/webhooks.md).
DOMAIN_EVENTS = {
    "deal.won": "a deal's status became won",
    "deal.lost": "a deal's status became lost",
    "contact.lifecycle_changed": "a contact's lifecycle stage changed",
    "ticket.solved": "a ticket's status became solved",
}


#: One encoder for every body (``json.dumps`` with options builds a new one per call).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


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


_SECRET: dict[tuple[str, int], frozenset[str]] = {}


def _secret_columns(table: str, record: dict) -> frozenset[str]:
    """``REDACTED`` and every column a plugin hid (``hide_column``) of ``table``, found once per shape."""
    key = (table, len(record))
    found = _SECRET.get(key)
    if found is None:
        found = _SECRET[key] = REDACTED | {c for c in record if is_hidden(table, c)}
    return found


def _clean(table: str, record: dict | None) -> dict | None:
    if record is None:
        return None
    secret = _secret_columns(table, record)
    if secret.isdisjoint(record):
        return record
    return {k: v for k, v in record.items() if k not in secret}


def new_id() -> str:
    """A random (version 4) UUID as text; several times cheaper than ``str(uuid.uuid4())`` on a write's path."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def body_of(event_id: str, event: str, occurred_at: str, data: dict) -> str:
    """The JSON body POSTed, exactly: built once, stored, resent byte for byte on every retry."""
    return _ENCODE({"id": event_id, "event": event, "occurred_at": occurred_at, "data": data})


def compact_of(change: Change) -> str:
    """What the write's transaction stores of a change: the record once, plus the changed fields.

    ``expand`` rebuilds the body's ``data`` (record, before, changes) from it in the worker, off
    the write's path (serialising the record twice, before and after, was most of an event's cost).
    """
    after = _clean(change.table, change.after)
    if after is None:
        record, changes = _clean(change.table, change.before), None
    elif change.before is None or (change.context or {}).get("privacy_erasure"):
        # an erasure's "before" is the very data being erased: the event says only what is left
        record, changes = after, None
    else:
        get = change.before.get
        record, changes = after, {k: get(k) for k, v in after.items() if get(k) != v}
    return _ENCODE([change.table, change.id, change.action, change.user, record, changes])


def expand(compact: str) -> dict[str, Any]:
    """The body's ``data``: the record, the record before the write, each changed field as [old, new]."""
    table, record_id, action, user, record, old = json.loads(compact)
    if action == "update":
        before = {**record, **(old or {})}
        changes = {k: [v, record.get(k)] for k, v in (old or {}).items()}
    elif action == "delete":
        before, changes = record, {}
    else:
        before, changes = None, {}
    return {
        "table": table,
        "id": record_id,
        "action": action,
        "record": record,
        "before": before,
        "changes": changes,
        "user": user,
    }


def contact_of(table: str, record: dict | None) -> int | None:
    """The contact a row is about (for privacy export and erasure of the outbox)."""
    if not record:
        return None
    if table == "contacts":
        return record.get("id")
    value = record.get("contact_id")
    return value if isinstance(value, int) else None


_SUBSCRIBED: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = {}


def subscriptions(store) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """The enabled subscriptions and their patterns, read on every write.

    One row of text from SQLite (each subscription's id and events, concatenated), parsed once
    per distinct text in this process: a write pays one small statement, not a row per
    subscription. Straight from this thread's connection (a read; ``store.query`` costs
    several times more per call).
    """
    (text,) = store.conn.execute(
        "SELECT group_concat(id || ' ' || events, char(10)) FROM"
        " (SELECT id, events FROM webhook_subscriptions WHERE enabled = 1 ORDER BY id)"
    ).fetchone()
    found = _SUBSCRIBED.get(text or "")
    if found is None:
        found = tuple(
            (int(sub_id), tuple(_patterns(events)))
            for sub_id, _, events in (line.partition(" ") for line in (text or "").split("\n") if line)
        )
        if len(_SUBSCRIBED) > 256:
            _SUBSCRIBED.clear()
        _SUBSCRIBED[text or ""] = found
    return found


def _patterns(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


@functools.lru_cache(maxsize=4096)
def _wanted(subs: tuple[tuple[int, tuple[str, ...]], ...], event: str) -> tuple[int, ...]:
    return tuple(sub_id for sub_id, patterns in subs if matches(patterns, event))


def event_rows(subs, changes: Iterable[Change]) -> list[dict]:
    """The outbox rows for ``changes``: one per event some subscription wants, naming those subscriptions.

    ``payload`` holds the compact form (``compact_of``); the worker turns it into the body.
    """
    rows: list[dict] = []
    for change in changes:
        names = events_of(change)
        if not names:
            continue
        compact = None
        for name in names:
            wanted = _wanted(subs, name)
            if not wanted:
                continue
            if compact is None:
                compact = compact_of(change)
            rows.append(
                {
                    "event_id": new_id(),
                    "event": name,
                    "table_name": change.table,
                    "record_id": str(change.id),
                    "contact_id": contact_of(change.table, change.after or change.before),
                    "payload": compact,
                    "targets": "[" + ",".join(map(str, wanted)) + "]",
                    "created_at": change.at,
                }
            )
    return rows


def enqueue(workspace, rows: list[dict]) -> None:
    """Add outbox rows inside the write's open transaction (``crm_record_changed`` only).

    The rows are derived data of the audited write being announced (like an index entry:
    no audit, no events, no validation, no version), so they go through the core's fast
    path ``append_derived``: one prepared INSERT inside the write's transaction, committed
    or rolled back with it (benchmarks/bench_webhooks.py: ``insert_many`` doubled the cost
    of a small write). Outside a write it is ``insert_many`` without audit or events.
    """
    append_derived(workspace.store, "webhook_events", rows)


def waiting_events(store) -> bool:
    """Whether some event still needs its delivery rows (a read)."""
    return bool(
        store.scalar(
            "SELECT EXISTS (SELECT 1 FROM webhook_events"
            " WHERE id > (SELECT coalesce(max(last_event), 0) FROM webhook_fanout))"
        )
    )


def fan_out(ws, limit: int = 1000) -> int:
    """Make the delivery rows of waiting events (one per target subscription that still exists)."""
    store = ws.store
    if not waiting_events(store):
        return 0  # no write transaction for nothing: an empty commit still tells every view to refresh
    with store.transaction():
        mark = store.scalar("SELECT last_event FROM webhook_fanout WHERE id = 1") or 0
        waiting = store.query(
            "SELECT id, event_id, event, table_name, record_id, contact_id, payload, targets, created_at"
            " FROM webhook_events WHERE id > ? ORDER BY id LIMIT ?",
            [mark, int(limit)],
        )
        if not waiting:
            return 0
        existing = {r["id"] for r in store.query("SELECT id FROM webhook_subscriptions")}
        rows = []
        for e in waiting:
            try:
                data = expand(e["payload"])
            except (ValueError, TypeError):  # erased by a privacy request before it went out
                data = {"table": e["table_name"], "id": e["record_id"], "erased": True}
            body = body_of(e["event_id"], e["event"], e["created_at"], data)  # the same for every target
            rows += [
                {
                    "event_id": e["event_id"],
                    "subscription_id": sub_id,
                    "event": e["event"],
                    "table_name": e["table_name"],
                    "record_id": e["record_id"],
                    "contact_id": e["contact_id"],
                    "payload": body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": e["created_at"],
                    "created_at": e["created_at"],
                }
                for sub_id in json.loads(e["targets"])
                if sub_id in existing
            ]
        if rows:
            store.insert_many("webhook_deliveries", rows, audit=False, events=False, validate=False)
        store.update("webhook_fanout", 1, {"last_event": waiting[-1]["id"]})
    return len(rows)
